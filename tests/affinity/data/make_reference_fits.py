"""Write ``reference_fits.npz``: fits of the extractor BEFORE the training loop
became hook-based (issue 24), for ``test_reference_fits.py`` to compare against.

Made from the code at commit fb0bdcc (the branch point of the rewrite) with::

    git archive fb0bdcc sklearn_etap | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old python tests/affinity/data/make_reference_fits.py

Each case stores ``affinity_`` (when recorded), ``loss_curve_`` and all the
trained weights (``module_.state_dict()`` flattened in order) of one small fit.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from sklearn_etap import TorchAffinityExtractor


def task_data():
    """120 samples, 5 features; two regression tasks, one binary, NaN labels."""
    rng = np.random.RandomState(7)
    X = rng.normal(size=(120, 5))
    Y = np.c_[
        X[:, 0] + 0.5 * X[:, 1],
        X[:, 0] - X[:, 2] + 0.1 * rng.normal(size=120),
        (X[:, 3] > 0).astype(float),
    ]
    Y[rng.rand(120) < 0.2, 1] = np.nan
    return X, Y


def dropout_encoder(n_features):
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Dropout(0.3))


CASES = {
    # Made when the default was 1 step in 20 (it is 100 since issue 21's cost
    # sweep); the case keeps the settings it was made with.
    "default": dict(affinity_every=20),
    "every_step_weight_decay": dict(affinity_every=1, weight_decay=0.01),
    "tag_dropout": dict(affinity="tag", affinity_every=3, encoder=dropout_encoder),
    "control_variate_dropout": dict(
        affinity_control_variate=True, affinity_every=4, encoder=dropout_encoder
    ),
    "adam_early_stopping": dict(
        optimizer="adam", early_stopping=True, n_iter_no_change=2, affinity_every=2
    ),
    "plain": dict(affinity=None),
}


def fit(params):
    X, Y = task_data()
    settings = dict(max_epochs=6, batch_size=16, device="cpu", random_state=3)
    return TorchAffinityExtractor(**{**settings, **params}).fit(X, Y)


def weights(ext):
    return torch.cat([v.reshape(-1) for v in ext.module_.state_dict().values()])


if __name__ == "__main__":
    arrays = {}
    for name, params in CASES.items():
        ext = fit(params)
        if ext.affinity_ is not None:
            arrays[f"{name}__affinity"] = ext.affinity_
        arrays[f"{name}__loss_curve"] = np.asarray(ext.loss_curve_)
        arrays[f"{name}__weights"] = weights(ext).detach().numpy()
    out = Path(__file__).with_name("reference_fits.npz")
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {sorted(arrays)}")
