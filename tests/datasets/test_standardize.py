"""Standardizing names a column whose values it cannot standardize."""

import numpy as np
import pytest

from sklearn_etap.datasets._base import standardize_columns


def test_a_column_too_large_to_standardize_is_named():
    X = np.random.RandomState(0).normal(size=(20, 3))
    X[4, 2] = 1e200
    with pytest.raises(ValueError, match=r"column 2 holds 1e\+200, too large to standardize"):  # fmt: skip # noqa: E501
        standardize_columns(X, X[:5])
    # left alone, it is not standardized, hence not refused here
    standardize_columns(X, X[:5], columns=[0, 1])
    X[4, 2] = 1e10  # large, but its variance is finite
    X_train, _, _, _ = standardize_columns(X, X[:5])
    assert np.isfinite(X_train).all()
