"""make_etap_search: folds cross-validation can use, and no defaults of its own."""

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_etap import (
    ETAPRegressor,
    SplineAffinityRegressor,
    encode_groups,
    etap_param_grid,
    group_affinity,
    make_etap_search,
    sample_groups,
)


@pytest.mark.parametrize("n_splits", [1, 0, -4, 2.5, True])
def test_fewer_than_two_folds_are_refused(n_splits):
    A = np.eye(4)
    with pytest.raises(ValueError, match=r"n_splits=.*at least 2"):
        make_etap_search(A, 8, n_splits=n_splits)


def test_folds_are_capped_at_the_groups():
    A = np.eye(4)
    assert make_etap_search(A, 8, n_splits=2).cv.n_splits == 2
    assert make_etap_search(A, 8, n_splits=10).cv.n_splits == 8


def test_search_is_the_default_estimator_with_its_stages_made_explicit():
    # make_etap_search has no defaults of its own: every parameter of the
    # estimator it searches is ETAPRegressor's default, stages included.
    A = np.random.RandomState(0).normal(size=(5, 5))
    searched = make_etap_search(A, 10).estimator
    default = ETAPRegressor(affinity=A)
    for name, value in default.get_params(deep=False).items():
        if name in ("affinity_estimator", "residual_estimator"):
            assert value is None  # None means the default stage
            stage = getattr(searched, name)
            assert repr(stage) == repr(type(stage)())  # that default, unchanged
        elif name != "affinity":
            assert searched.get_params()[name] == value, name
    np.testing.assert_array_equal(searched.affinity, A)
    # the grid around the defaults contains them
    grid = etap_param_grid(10)
    assert SplineAffinityRegressor().degree in grid["affinity_estimator__degree"]
    assert SplineAffinityRegressor().n_knots in grid["affinity_estimator__n_knots"]
    # and fitting the searched estimator as it is gives the default's predictions
    groups = sample_groups(5, 10, random_state=0)
    P = encode_groups(groups, 5)
    y = np.tanh(group_affinity(A, P)) + 0.1 * P[:, :5].sum(axis=1)
    np.testing.assert_array_equal(
        clone(searched).fit(P, y).predict(P), default.fit(P, y).predict(P)
    )
    # etap_params reach the estimator, never the grid
    assert make_etap_search(A, 10, cv=3).estimator.cv == 3
