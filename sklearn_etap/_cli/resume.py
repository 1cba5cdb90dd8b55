"""``etap run --cache-dir``: no finished training is done twice.

The measured groups are cached by :func:`~sklearn_etap.measure_gains`
itself. The affinity model (one training on all tasks) is stored here: its
weights as a NumPy ``.npz`` (no pickle) and its other fitted attributes as
JSON, in a folder written under a temporary name and renamed into place, so
a kill leaves either a complete entry or none. The entry's name hashes the
extractor's settings (as ``measure_gains`` keys its trainings, plus the seed
and the recording settings), the data and the library versions.
"""

import json
import os
import shutil
import warnings
from pathlib import Path

import joblib
import numpy as np

from .._gains.cache import estimator_key
from .._gains.extractor_params import OVERRIDDEN_PARAMS

FITTED_JSON = "fitted.json"
WEIGHTS_NPZ = "module.npz"


def keyed_overrides(extractor):
    """The extractor's own values of the parameters ``estimator_key`` leaves out.

    ``measure_gains`` sets those parameters in every gain training
    (:data:`OVERRIDDEN_PARAMS`, its one declared list), so the gain cache keys
    them apart; the affinity model is trained with the extractor's own
    values, so they enter its key here. The progress switch is left out: the
    job sets it from ``--quiet``, and it changes nothing that is computed.
    """
    params = extractor.get_params(deep=False)
    return {
        name: repr(params[name])
        for name in OVERRIDDEN_PARAMS
        if name in params and name != "verbose"
    }


def affinity_entry(cache_dir, extractor, X, Y):
    """The folder of the affinity model trained with these settings on this data."""
    key = joblib.hash(
        (
            "affinity-model-1",
            estimator_key(extractor),
            keyed_overrides(extractor),
            joblib.hash((np.ascontiguousarray(X), np.ascontiguousarray(Y))),
        )
    )
    return Path(cache_dir) / "affinity" / key


def fit_affinity_model(extractor, X, Y, cache_dir):
    """Fit ``extractor``, or restore it from ``cache_dir``; True if restored."""
    if cache_dir is None:
        extractor.fit(X, Y)
        return False
    entry = affinity_entry(cache_dir, extractor, X, Y)
    if (entry / FITTED_JSON).is_file():
        try:
            _restore(extractor, entry, X, Y)
            return True
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            warnings.warn(
                f"the stored affinity model {entry} could not be read ({exc}); "
                "training it again.",
                UserWarning,
                stacklevel=2,
            )
    extractor.fit(X, Y)
    _save(extractor, entry)
    return False


def _to_json(value):
    if isinstance(value, np.ndarray):
        return {
            "ndarray": [_to_json(v) for v in value.tolist()],
            "dtype": value.dtype.str if value.dtype != object else "object",
        }
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__}")


def _from_json(value):
    if isinstance(value, dict):
        if "float" in value:
            return float(value["float"])
        items = [_from_json(v) for v in value["ndarray"]]
        if value["dtype"] == "object":
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out
        return np.asarray(items, dtype=np.dtype(value["dtype"]))
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def _save(extractor, entry):
    import torch

    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = entry.with_name(f"{entry.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    weights = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in extractor.module_.state_dict().items()
    }
    np.savez(staging / WEIGHTS_NPZ, **weights)
    fitted = {}
    for name, value in vars(extractor).items():
        if not name.endswith("_") or name.startswith("_") or name == "module_":
            continue
        if isinstance(value, torch.device):
            value = str(value)
        try:
            fitted[name] = _to_json(value)
        except TypeError:
            shutil.rmtree(staging, ignore_errors=True)
            return  # an attribute JSON cannot hold: not cached, trained next time
    (staging / FITTED_JSON).write_text(json.dumps(fitted))
    try:
        os.replace(staging, entry)
    except OSError:  # another run stored it first
        shutil.rmtree(staging, ignore_errors=True)


def _restore(extractor, entry, X, Y):
    import torch

    # The untrained model fit(X, Y) would build, and what fit learns of the
    # data before training (the tasks' specifications among it); then the
    # stored weights and the attributes the training gave.
    module = extractor.initialize_module(X, Y).module_
    with np.load(entry / WEIGHTS_NPZ, allow_pickle=False) as weights:
        state = {name: torch.as_tensor(weights[name]) for name in weights.files}
    module.load_state_dict(state)
    fitted = json.loads((entry / FITTED_JSON).read_text())
    for name, value in fitted.items():
        setattr(extractor, name, _from_json(value))
    extractor.device_ = torch.device(extractor.device_)
    extractor.module_ = module.to(extractor.device_).eval()
