"""Shared test settings and data helpers (fixtures), for every test folder."""

import numpy as np
import pytest

# One thread per BLAS and torch call: set for tests and doctests alike in the
# repository's root conftest.py.


def _task_data(n_samples=120, seed=0):
    """Two regression and two binary tasks of 5 features, all labelled."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 5))
    Y = np.c_[
        X[:, 0] + X[:, 1],
        X[:, 0] - X[:, 1] + 0.1 * rng.normal(size=n_samples),
        (X[:, 2] > 0).astype(float),
        (X[:, 0] + X[:, 3] > 0).astype(float),
    ]
    return X, Y


def _gain_data(n_train=40, n_test=30, n_tasks=4, seed=0):
    """Train/test regression tasks sharing a signal; about a quarter of labels
    missing, and one training sample with no label at all (it must be left
    out of fits): ``X, Y, X_test, Y_test``."""
    rng = np.random.RandomState(seed)
    n = n_train + n_test
    X = rng.normal(size=(n, 5))
    Y = X @ rng.normal(size=(5, n_tasks)) + 0.3 * rng.normal(size=(n, n_tasks))
    Y[rng.uniform(size=Y.shape) < 0.25] = np.nan
    Y[0] = np.nan
    return X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]


@pytest.fixture
def make_task_data():
    """Factory of ``(X, Y)`` for the extractor: ``make_task_data(n_samples, seed)``."""
    return _task_data


@pytest.fixture
def make_gain_data():
    """Factory of ``(X, Y, X_test, Y_test)`` for gain measurements."""
    return _gain_data
