"""On-disk store of finished gain trainings, so interrupted measurements resume.

Each training's test losses are kept by :class:`joblib.Memory` under a key
made of the extractor's settings, the hashes of the data it saw and its seed.
Memory writes every result to a temporary file and renames it into place, so
a training is either fully on disk or absent, even when the run is killed.
The data is hashed once per measurement (:func:`data_keys`), never once per
training.
"""

import joblib
import numpy as np

# Bump when the meaning of a stored training changes (e.g. how rows are
# filtered before fitting), so old entries stop matching.
_STORE_FORMAT = 1

# Parameters measure_gains overrides in every training; they do not change
# what a cached training means.
_OVERRIDDEN_PARAMS = ("affinity", "random_state", "verbose")


def estimator_key(extractor):
    """Hash of the extractor's settings, torch modules hashed by their weights.

    Pickles of torch tensors are not byte-stable, so a module passed as a
    parameter (a user's encoder) is described by its class, its ``repr`` and
    its state-dict arrays instead.
    """
    params = extractor.get_params(deep=False)
    described = {
        name: _describe(value)
        for name, value in sorted(params.items())
        if name not in _OVERRIDDEN_PARAMS
    }
    cls = type(extractor)
    return joblib.hash((f"{cls.__module__}.{cls.__qualname__}", described))


def _describe(value):
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        torch = None
    if torch is not None and isinstance(value, torch.nn.Module):
        state = [
            (name, tensor.detach().cpu().numpy())
            for name, tensor in value.state_dict().items()
        ]
        cls = type(value)
        return (f"{cls.__module__}.{cls.__qualname__}", repr(value), state)
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_describe(v) for v in value]
    if isinstance(value, dict):
        return "dict", [(k, _describe(v)) for k, v in sorted(value.items())]
    return value


def data_keys(X, Y, X_test, Y_test):
    """Hash the inputs once: one key for the features, one per task column."""
    features = joblib.hash((X, X_test))
    columns = [
        joblib.hash((np.ascontiguousarray(Y[:, j]), np.ascontiguousarray(Y_test[:, j])))
        for j in range(Y.shape[1])
    ]
    return features, columns


def training_key(extractor_key, features_key, column_keys, seed):
    """Key of one training: its settings, its data and its seed."""
    return joblib.hash(
        (_STORE_FORMAT, extractor_key, features_key, list(column_keys), int(seed))
    )


def _run_training(train, args, key):
    # Only ``key`` identifies the entry; ``train`` and ``args`` are ignored
    # by Memory (the key already covers them) so nothing large is re-hashed.
    return train(*args)


class TrainingStore:
    """Finished trainings in ``location``, one file each.

    Parameters
    ----------
    location : str or path-like
        Directory of the store; created when missing. Reusing it across calls
        (and processes) shares the finished trainings.
    """

    def __init__(self, location):
        self.location = location
        self._memory = joblib.Memory(location, verbose=0)
        self._run = self._memory.cache(_run_training, ignore=["train", "args"])

    def contains(self, key):
        """Whether the training with this key is finished and stored."""
        return self._run.check_call_in_cache(None, None, key)

    def run(self, train, args, key):
        """Return the stored result for ``key``, or ``train(*args)``, stored."""
        return self._run(train, args, key)
