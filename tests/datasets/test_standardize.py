"""Standardizing names a column whose values it cannot standardize."""

import numpy as np
import pytest

from sklearn_etap.datasets._base import standardize_columns


def test_a_column_too_large_to_standardize_is_named():
    X = np.random.RandomState(0).normal(size=(20, 3))
    X[4, 2] = 1e200
    with pytest.raises(ValueError, match=r"column 2 \(counting from 0\) holds 1e\+200, too large to standardize"):  # fmt: skip # noqa: E501
        standardize_columns(X, X[:5])
    # left alone, it is not standardized, hence not refused here
    standardize_columns(X, X[:5], columns=[0, 1])
    X[4, 2] = 1e10  # large, but its variance is finite
    X_train, _, _, _ = standardize_columns(X, X[:5])
    assert np.isfinite(X_train).all()


def test_make_bunch_names_a_column_too_large_for_float32():
    from sklearn_etap.datasets._base import make_bunch

    X = np.zeros((4, 2))
    Y = np.zeros((4, 2))
    Y_test = Y.copy()
    Y_test[1, 1] = -1e39  # finite in float64, infinite in float32
    with pytest.raises(
        ValueError, match=r"column 'b' holds -1e\+39 in Y_test.*float32"
    ):
        make_bunch(
            X_train=X, Y_train=Y, X_test=X, Y_test=Y_test, task_names=["a", "b"],
            feature_names=["f", "g"], task_types=["regression"] * 2, descr="",
        )  # fmt: skip
