"""Checks and settings of LinearizedGainEstimator's fit."""

from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._affinity.safeguards import torch_threads
from .._affinity.training import BINARY, REGRESSION


@contextmanager
def limited_threads(n_threads):
    """Torch and BLAS limited to the extractor's ``n_threads`` (None: as set).

    The group fits are many small BLAS calls: with a thread per core on cores
    other jobs share, they ran 50 times slower than on one thread.
    """
    with torch_threads(n_threads):
        if n_threads is None:
            yield
        else:
            with threadpool_limits(limits=int(n_threads), user_api="blas"):
                yield


def check_fitted_extractor(extractor):
    """``extractor`` itself, once checked to be a fitted extractor of
    supported task types."""
    if not hasattr(extractor, "fit") or not hasattr(extractor, "get_params"):
        raise TypeError(
            f"extractor must be a fitted TorchAffinityExtractor, got "
            f"{type(extractor).__name__}."
        )
    check_is_fitted(extractor, "module_")
    types = set(np.asarray(extractor.task_types_).tolist())
    if not types <= {REGRESSION, BINARY}:
        raise ValueError(
            f"task types {sorted(types - {REGRESSION, BINARY})} are not "
            "supported; the linearized estimate handles regression and "
            "binary tasks."
        )
    return extractor


def validation_mask(fraction, n_samples, rng):
    """A random boolean mask of ``round(fraction * n_samples)`` samples."""
    n_validation = int(round(fraction * n_samples))
    if not 1 <= n_validation < n_samples:
        raise ValueError(
            f"validation_fraction={fraction} leaves {n_validation} of "
            f"{n_samples} samples for validation; both parts need samples."
        )
    mask = np.zeros(n_samples, dtype=bool)
    mask[rng.permutation(n_samples)[:n_validation]] = True
    return mask
