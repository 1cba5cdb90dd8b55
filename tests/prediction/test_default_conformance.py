"""The shipped defaults on group rows: what the exempted estimator checks test.

``ResidualRidge()`` and ``ETAPRegressor()`` refuse the common checks' random
matrices (``sklearn_etap/_conformance.py`` declares those checks with the
reason; ``tests/test_conformance.py`` keeps the list exact); here the same
properties are asserted on group-task rows.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_etap import (
    ETAPRegressor,
    ResidualRidge,
    encode_groups,
    group_affinity,
    sample_groups,
)

N_TASKS = 5


def _rows(seed=0, n_groups=12):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(N_TASKS, N_TASKS))
    P = encode_groups(sample_groups(N_TASKS, n_groups, random_state=seed), N_TASKS)
    level = rng.normal(size=N_TASKS)
    y = P[:, N_TASKS:] @ level + np.tanh(group_affinity(A, P))
    return A, P, y + 0.1 * rng.normal(size=len(y))


def _cases():
    """(name, unfitted default, X of group rows, y), X built as each expects."""
    A, P, y = _rows()
    z = group_affinity(A, P).reshape(-1, 1)
    cases = [
        ("ResidualRidge()", ResidualRidge(), P, y),
        ("ETAPRegressor(affinity=A)", ETAPRegressor(affinity=A), P, y),
        ("ETAPRegressor()", ETAPRegressor(), np.hstack([z, P]), y),
    ]
    return [pytest.param(*case, id=case[0]) for case in cases]


@pytest.mark.parametrize("name, estimator, X, y", _cases())
def test_defaults_behave_as_the_exempted_checks_require(name, estimator, X, y):
    params = estimator.get_params()
    fitted = clone(estimator)
    assert fitted.fit(X, y) is fitted  # fit returns self
    assert fitted.n_features_in_ == X.shape[1]
    assert estimator.get_params() == params  # the parameters are not changed
    pred = fitted.predict(X)
    assert pred.shape == (len(X),) and np.all(np.isfinite(pred))

    state = {k: v for k, v in vars(fitted).items()}
    fitted.predict(X)  # predict changes nothing on the estimator
    assert vars(fitted).keys() == state.keys()

    # idempotent, and a pickled copy predicts exactly the same
    np.testing.assert_array_equal(clone(estimator).fit(X, y).predict(X), pred)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), pred)

    # row order and subsets do not change a row's prediction
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(fitted.predict(X[order]), pred[order], rtol=1e-12)
    np.testing.assert_allclose(fitted.predict(X[:3]), pred[:3], rtol=1e-12)

    # dtypes, lists, Fortran order, read-only arrays: the same fit
    for variant in (
        X.astype(np.float32),
        X.tolist(),
        np.asfortranarray(X),
        np.require(X, requirements="C").copy(),
    ):
        if isinstance(variant, np.ndarray):
            variant.setflags(write=False)
        np.testing.assert_allclose(
            clone(estimator).fit(variant, y).predict(X), pred, rtol=1e-5, atol=1e-6
        )
    if name == "ResidualRidge()":  # group rows hold integers just as well
        np.testing.assert_allclose(
            clone(estimator).fit(X.astype(int), y).predict(X), pred, rtol=1e-10
        )

    # what is refused, and the words that say so
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :-1])
    with pytest.raises(ValueError, match="2D array"):
        fitted.predict(X[0])  # 1-D input
    bad = X.copy()
    bad[0, -1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(estimator).fit(bad, y)
    with pytest.raises(ValueError, match="encode_groups"):
        clone(estimator).fit(np.random.RandomState(0).normal(size=X.shape), y)


def test_residual_ridge_default_weights_are_repetitions_on_group_rows():
    _, P, y = _rows(seed=2, n_groups=14)
    weights = np.random.RandomState(3).randint(0, 3, size=len(P))
    weights[:2] = 1  # keep some rows
    weighted = ResidualRidge().fit(P, y, sample_weight=weights)
    repeated = ResidualRidge().fit(np.repeat(P, weights, axis=0), np.repeat(y, weights))
    assert weighted.alpha_ == repeated.alpha_
    assert weighted.group_size_ == repeated.group_size_
    np.testing.assert_allclose(weighted.predict(P), repeated.predict(P), atol=1e-9)
    # a list or a pandas-like 1-D input is the same weights
    listed = ResidualRidge().fit(P, y, sample_weight=weights.tolist())
    np.testing.assert_allclose(listed.predict(P), weighted.predict(P))
    with pytest.raises(ValueError, match="zero for every row"):
        ResidualRidge().fit(P, y, sample_weight=np.zeros(len(P)))
    with pytest.raises(ValueError, match="non-negative"):
        ResidualRidge().fit(P, y, sample_weight=-np.ones(len(P)))
