import itertools
import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_etap import (
    ETAPRegressor,
    GroupSelector,
    all_groups,
    encode_groups,
    sample_groups,
    select_groups,
)
from sklearn_etap._groups import decode_rows


class PairAffinityRegressor(RegressorMixin, BaseEstimator):
    """Gain of t in G = mean over the other members s of a fixed random A[s, t].

    Ignores ``y``: a known, deterministic gain function for reference answers.
    """

    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        n_tasks = X.shape[1] // 2
        self.affinity_ = np.random.default_rng(self.seed).uniform(
            -1, 1, (n_tasks, n_tasks)
        )
        return self

    def predict(self, X):
        check_is_fitted(self)
        membership, target, _ = decode_rows(X)
        sums = membership.astype(float) @ self.affinity_
        sums = sums[np.arange(len(target)), target] - self.affinity_[target, target]
        others = membership.sum(axis=1) - 1
        return np.where(others > 0, sums / np.maximum(others, 1), 0.0)


class NaNRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        out = np.zeros(len(X))
        out[-1] = np.nan
        return out


class TwoColumnRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict(self, X):
        return np.zeros((len(X), 2))


def reference_best(gain_of, n_tasks, n_groups, mode, max_size=None):
    """Exhaustive optimum written independently of the package's solvers."""
    groups = all_groups(n_tasks, min_size=1, max_size=max_size)
    best = -np.inf
    for k in range(1, n_groups + 1):
        for chosen in itertools.combinations(groups, k):
            counts = np.zeros(n_tasks, dtype=int)
            for g in chosen:
                counts[list(g)] += 1
            if (counts == 0).any() or (mode == "partition" and (counts > 1).any()):
                continue
            value = sum(
                max(gain_of(g, t) for g in chosen if t in g) for t in range(n_tasks)
            )
            best = max(best, value)
    return best


def check_selection_invariants(sel, n_groups, mode, predict_gain):
    n_tasks = sel.n_tasks_
    assert len(sel.groups_) <= n_groups
    counts = np.zeros(n_tasks, dtype=int)
    for g in sel.groups_:
        counts[list(g)] += 1
    assert (counts >= 1).all()
    if mode == "partition":
        assert (counts == 1).all()
    for t in range(n_tasks):
        group = sel.groups_[sel.task_group_[t]]
        assert t in group
        expected = 0.0 if len(group) == 1 else predict_gain(group, t)
        assert np.isclose(sel.task_gain_[t], expected)
        if mode == "overlap":
            # Each task is scored by its best chosen group.
            options = [
                0.0 if len(g) == 1 else predict_gain(g, t)
                for g in sel.groups_
                if t in g
            ]
            assert np.isclose(sel.task_gain_[t], max(options))
    assert np.isclose(sel.predicted_gain_, sel.task_gain_.sum())


def gain_function(estimator, n_tasks):
    """Look-up of the estimator's gain for every (group, member), one predict."""
    groups = all_groups(n_tasks, min_size=2)
    predicted = estimator.predict(encode_groups(groups, n_tasks))
    rows = [(g, t) for g in groups for t in g]
    table = dict(zip(rows, predicted.tolist()))

    def gain_of(group, task):
        return 0.0 if len(group) == 1 else table[group, task]

    return gain_of


@pytest.mark.parametrize("mode", ["overlap", "partition"])
@pytest.mark.parametrize("n_groups", [1, 2, 3])
@pytest.mark.parametrize("solver", ["milp", "branch_and_bound", "brute_force"])
def test_matches_exhaustive_reference(mode, n_groups, solver, training_rows):
    n_tasks = 5
    P, y, _ = training_rows(n_tasks)
    sel = GroupSelector(
        PairAffinityRegressor(seed=n_groups), n_groups, mode=mode, solver=solver
    ).fit(P, y)
    gain_of = gain_function(sel.estimator_, n_tasks)
    assert np.isclose(
        sel.predicted_gain_, reference_best(gain_of, n_tasks, n_groups, mode)
    )
    check_selection_invariants(sel, n_groups, mode, gain_of)


@pytest.mark.parametrize("mode", ["overlap", "partition"])
def test_with_ridge_and_group_size_limit(mode, training_rows):
    n_tasks, n_groups = 6, 3
    P, y, _ = training_rows(n_tasks, n_train_groups=10, seed=1)
    ridge = Ridge(alpha=0.3)
    sel = GroupSelector(ridge, n_groups, mode=mode, max_group_size=3).fit(P, y)
    assert not hasattr(ridge, "coef_")  # the user's estimator stays unfitted
    assert sel.estimator_ is not ridge
    reference = Ridge(alpha=0.3).fit(P, y)
    np.testing.assert_allclose(sel.estimator_.coef_, reference.coef_)
    gain_of = gain_function(reference, n_tasks)
    assert max(len(g) for g in sel.groups_) <= 3
    assert sel.n_candidates_ == 15 + 20 + n_tasks
    expected = reference_best(gain_of, n_tasks, n_groups, mode, max_size=3)
    assert np.isclose(sel.predicted_gain_, expected)
    check_selection_invariants(sel, n_groups, mode, gain_of)


@pytest.mark.parametrize("mode", ["overlap", "partition"])
def test_with_etap_regressor(mode):
    # The workflow of DESIGN.md on planted data: ETAP fitted on a few groups.
    n_tasks = 6
    affinity = np.random.default_rng(8).normal(0, 0.3, (n_tasks, n_tasks))
    groups = sample_groups(n_tasks, 10, random_state=8)
    P = encode_groups(groups, n_tasks)
    y = PairAffinityRegressor().fit(P, np.zeros(len(P))).predict(P)
    etap = ETAPRegressor(affinity=affinity)
    sel = GroupSelector(etap, 3, mode=mode).fit(P, y)
    gain_of = gain_function(sel.estimator_, n_tasks)
    assert np.isclose(sel.predicted_gain_, reference_best(gain_of, n_tasks, 3, mode))
    check_selection_invariants(sel, 3, mode, gain_of)


def test_overlap_never_worse_than_partition_and_budget_monotone(training_rows):
    P, y, _ = training_rows(6, seed=3)
    values = {}
    for mode in ["overlap", "partition"]:
        for n_groups in [2, 3, 4, 6]:
            sel = GroupSelector(PairAffinityRegressor(seed=3), n_groups, mode=mode)
            values[mode, n_groups] = sel.fit(P, y).predicted_gain_
    for n_groups in [2, 3, 4, 6]:
        assert values["overlap", n_groups] >= values["partition", n_groups] - 1e-9
    for mode in ["overlap", "partition"]:
        series = [values[mode, b] for b in [2, 3, 4, 6]]
        assert np.all(np.diff(series) >= -1e-9)


def test_prune_does_not_change_the_optimum(training_rows):
    P, y, _ = training_rows(7, seed=4)
    for mode in ["overlap", "partition"]:
        for n_groups in [2, 4, 7]:
            kw = {"mode": mode, "max_group_size": 4}
            a = GroupSelector(PairAffinityRegressor(seed=4), n_groups, prune=True, **kw)
            b = GroupSelector(
                PairAffinityRegressor(seed=4), n_groups, prune=False, **kw
            )
            assert np.isclose(a.fit(P, y).predicted_gain_, b.fit(P, y).predicted_gain_)


def test_candidates_parameter(training_rows):
    P, y, _ = training_rows(5, seed=5)
    candidates = [(0, 1), (2, 3), (1, 2, 4)]
    sel = GroupSelector(PairAffinityRegressor(seed=5), 4, candidates=candidates).fit(
        P, y
    )
    assert sel.n_candidates_ == 3 + 5
    assert all(len(g) == 1 or g in candidates for g in sel.groups_)
    gains = {g: sel.estimator_.predict(encode_groups([g], 5)) for g in candidates}
    assert np.isclose(
        sel.predicted_gain_, select_groups(gains, 4, n_tasks=5).total_gain
    )


@pytest.mark.parametrize(
    "candidates, error, message",
    [
        ([3], TypeError, r"^group 0 of candidates is 3; each group must be"),
        ([(0, 7)], ValueError, r"^group 0 of candidates \(0, 7\) holds task index 7"),
        ("01", InvalidParameterError, "The 'candidates' parameter of GroupSelector"),
    ],
)
def test_bad_candidates_are_named(candidates, error, message, training_rows):
    P, y, _ = training_rows(4)
    with pytest.raises(error, match=message):
        GroupSelector(Ridge(), 2, candidates=candidates).fit(P, y)


def test_too_many_candidates_asks_for_max_group_size():
    n_tasks = 13
    P = encode_groups([tuple(range(n_tasks)), (0, 1)], n_tasks)
    y = np.zeros(len(P))
    with pytest.raises(ValueError, match="8178 candidate groups.*set max_group_size"):
        GroupSelector(Ridge(), 3).fit(P, y)
    sel = GroupSelector(Ridge(), 5, max_group_size=3).fit(P, y)
    assert max(len(g) for g in sel.groups_) <= 3


def test_budget_too_small_for_group_size(training_rows):
    P, y, _ = training_rows(5)
    with pytest.raises(ValueError, match="n_groups=2 is too small.*at least 3"):
        GroupSelector(Ridge(), 2, max_group_size=2).fit(P, y)


def test_nan_predictions_are_a_clear_error(training_rows):
    P, y, _ = training_rows(4)
    with pytest.raises(
        ValueError, match="predicted gain for task 3 in group .* is nan"
    ):
        GroupSelector(NaNRegressor(), 2).fit(P, y)


def test_predictions_of_the_wrong_shape_are_a_clear_error(training_rows):
    P, y, _ = training_rows(4)
    with pytest.raises(ValueError, match="must return one gain per row"):
        GroupSelector(TwoColumnRegressor(), 2).fit(P, y)


@pytest.mark.parametrize(
    "P, message",
    [
        (np.ones((4, 3)), "2 \\* n_tasks columns"),
        (np.full((4, 4), 0.5), "only 0 and 1"),
        (-np.ones((4, 4)), "Negative values"),
        (np.array([[1, 1, 0, 0], [1, 1, 0, 0.0]]), "exactly one target task"),
    ],
)
def test_rows_that_are_not_group_rows(P, message):
    with pytest.raises(ValueError, match=message):
        GroupSelector(Ridge(), 2).fit(P, np.zeros(len(P)))


@pytest.mark.parametrize(
    "params", [{"n_groups": 0}, {"n_groups": 1.5}, {"mode": "x"}, {"solver": "x"}]
)
def test_parameters_validated_in_fit(params, training_rows):
    P, y, _ = training_rows(4)
    sel = GroupSelector(Ridge(), 2).set_params(**params)
    with pytest.raises(InvalidParameterError):
        sel.fit(P, y)


def test_predict_score_pickle_and_grid_search(training_rows):
    P, y, row_group = training_rows(5, n_train_groups=8, seed=6)
    sel = GroupSelector(Ridge(), 2)
    with pytest.raises(NotFittedError):
        sel.predict(P)
    sel.fit(P, y)
    np.testing.assert_allclose(sel.predict(P), sel.estimator_.predict(P))
    assert np.isclose(sel.score(P, y), r2_score(y, sel.estimator_.predict(P)))
    restored = pickle.loads(pickle.dumps(sel))
    assert restored.groups_ == sel.groups_
    again = clone(sel).fit(P, y)
    assert again.groups_ == sel.groups_
    assert again.predicted_gain_ == sel.predicted_gain_
    search = GridSearchCV(sel, {"estimator__alpha": [0.1, 10.0]}, cv=GroupKFold(2))
    search.fit(P, y, groups=row_group)
    assert search.best_estimator_.groups_


def test_row_order_does_not_change_the_selection(training_rows):
    P, y, _ = training_rows(5, n_train_groups=8, seed=7)
    order = np.random.default_rng(0).permutation(len(P))
    a = GroupSelector(Ridge(), 3).fit(P, y)
    b = GroupSelector(Ridge(), 3).fit(P[order], y[order])
    assert np.isclose(a.predicted_gain_, b.predicted_gain_)
