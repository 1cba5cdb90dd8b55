"""The selection never hangs: budgets above what can be used are capped, and a
time limit returns the best covering selection found with its optimality gap."""

import itertools
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from sklearn_etap import GroupSelector, all_groups, encode_groups, select_groups
from sklearn_etap._selection.problem import SelectionProblem, evaluate
from sklearn_etap._selection.solvers import SOLVERS


def _exhaustive(problem, mode):
    """Best value over EVERY set of candidates, with no budget at all."""
    best = -np.inf
    n_cand = len(problem.candidates)
    for k in range(1, n_cand + 1):
        for chosen in itertools.combinations(range(n_cand), k):
            result = evaluate(problem, chosen, mode)
            if result is not None:
                best = max(best, result.value)
    return best


@pytest.mark.parametrize("mode", ["overlap", "partition"])
@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("seed", range(4))
def test_a_budget_above_the_tasks_selects_the_unbudgeted_optimum(mode, solver, seed):
    rng = np.random.default_rng(seed)
    n_tasks = 4
    singletons = [(t,) for t in range(n_tasks)]
    candidates = singletons + [g for g in all_groups(n_tasks) if rng.random() < 0.5]
    gains = [rng.normal(size=len(g)).tolist() for g in candidates]
    problem = SelectionProblem.from_lists(candidates, gains, n_tasks)
    expected = _exhaustive(problem, mode)  # 2**n_candidates sets, no cap
    for budget in (n_tasks, n_tasks + 1, len(candidates), 10**12):
        result = SOLVERS[solver](problem, budget, mode)
        assert result.value == pytest.approx(expected, abs=1e-12)
        assert result.optimal and result.gap == 0.0


def test_a_huge_budget_is_answered_at_once():
    gains = {(0, 1): [0.3, 0.2], (1, 2): [0.5, -0.2], (0, 1, 2): [0.1, 0.1, 0.1]}
    start = time.perf_counter()
    for solver in ("branch_and_bound", "milp"):
        sel = select_groups(gains, n_groups=10**12, solver=solver)
        assert sel.groups == [(0, 1), (1, 2), (0, 1, 2)]
        assert sel.total_gain == pytest.approx(0.3 + 0.5 + 0.1)
    # Before the cap the branch and bound took seconds for 10**4 and never
    # finished for 10**12.
    assert time.perf_counter() - start < 5


def _hard_gains(n_tasks=40):
    """Pairs of 40 tasks with unstructured gains: proving the optimum takes
    the branch and bound seconds; HiGHS solves it in a fraction of one."""
    rng = np.random.RandomState(0)
    pairs = all_groups(n_tasks, min_size=2, max_size=2)
    return {g: 0.5 + 0.1 * rng.uniform(size=2) for g in pairs}


def _check_covering(sel, gains, n_tasks):
    members = sorted({t for g in sel.groups for t in g})
    assert members == list(range(n_tasks))
    for t in range(n_tasks):
        group = sel.groups[sel.task_group[t]]
        value = 0.0 if len(group) == 1 else gains[group][group.index(t)]
        assert sel.task_gain[t] == value
    assert sel.total_gain == pytest.approx(sel.task_gain.sum())


@pytest.mark.parametrize("mode", ["overlap", "partition"])
def test_time_limit_returns_a_covering_selection_with_its_gap(mode):
    gains = _hard_gains()
    start = time.perf_counter()
    sel = select_groups(gains, 22, mode=mode, time_limit=0.05)
    elapsed = time.perf_counter() - start
    assert elapsed < 3  # 0.05 s of search; the rest is setup
    assert sel.optimal is False
    assert np.isfinite(sel.gap) and 0 < sel.gap <= 2
    _check_covering(sel, gains, 40)
    if mode == "partition":
        assert len({t for g in sel.groups for t in g}) == sum(map(len, sel.groups))
    # The gap is honest: the true optimum does not exceed the bound it implies
    # (both totals are positive, so bound = total / (1 - gap)).
    exact = select_groups(gains, 22, mode=mode, solver="milp")
    assert exact.optimal and exact.gap == 0.0
    assert sel.total_gain <= exact.total_gain + 1e-9
    assert exact.total_gain <= sel.total_gain / (1 - sel.gap) + 1e-9


def test_time_limit_long_enough_proves_the_optimum():
    gains = {g: [0.1 * sum(g)] * len(g) for g in all_groups(5, min_size=2, max_size=3)}
    exact = select_groups(gains, 3)
    timed = select_groups(gains, 3, time_limit=60)
    assert timed.optimal and timed.gap == 0.0
    assert timed.total_gain == exact.total_gain


def test_milp_time_limit_reports_gap_or_clear_error():
    gains = _hard_gains()
    try:
        sel = select_groups(gains, 22, solver="milp", time_limit=1e-3)
    except RuntimeError as exc:  # HiGHS found no cover that fast
        assert "time_limit" in str(exc)
    else:
        _check_covering(sel, gains, 40)
        assert sel.optimal == (sel.gap == 0.0)


def test_brute_force_refuses_a_time_limit():
    with pytest.raises(ValueError, match="no time limit"):
        select_groups({(0, 1): [0.1, 0.2]}, 2, solver="brute_force", time_limit=1)


class _TableRegressor(RegressorMixin, BaseEstimator):
    """Predicts the gains of a fixed {group: gains} table (a stand-in)."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y):
        return self

    def predict(self, X):
        X = np.asarray(X)
        n = X.shape[1] // 2
        out = []
        for row in X:
            group = tuple(np.flatnonzero(row[:n]).tolist())
            out.append(self.table[group][group.index(int(np.argmax(row[n:])))])
        return np.array(out)


def test_group_selector_time_limit_sets_optimal_and_gap():
    gains = _hard_gains()
    P = encode_groups([(0, 1), (2, 3)], 40)
    selector = GroupSelector(
        _TableRegressor(gains), n_groups=22, max_group_size=2, time_limit=0.05
    ).fit(P, np.zeros(len(P)))
    assert selector.optimal_ is False
    assert np.isfinite(selector.gap_) and selector.gap_ > 0
    assert sorted({t for g in selector.groups_ for t in g}) == list(range(40))
    untimed = GroupSelector(
        _TableRegressor(gains), n_groups=22, max_group_size=2, solver="milp"
    ).fit(P, np.zeros(len(P)))
    assert untimed.optimal_ and untimed.gap_ == 0.0


@pytest.mark.parametrize("bad", [0, -1.0])
def test_time_limit_must_be_positive(bad):
    with pytest.raises(ValueError, match="time_limit"):
        select_groups({(0, 1): [0.1, 0.2]}, 2, time_limit=bad)


def test_gains_whose_total_would_overflow_are_refused():
    gains = {(0, 1): [1e308, 1e308], (1, 2): [1e308, 0.0]}
    with pytest.raises(ValueError, match="become inf"):
        select_groups(gains, 2)
    # Large but summable gains still select, with a finite total.
    sel = select_groups({g: [v / 1e3 for v in x] for g, x in gains.items()}, 2)
    assert np.isfinite(sel.total_gain)


def test_a_time_out_without_selection_is_told_by_the_solvers_status(monkeypatch):
    """HiGHS's time-limit status (scipy's status 1, no solution) raises
    SelectionTimeoutError whatever its message says; the command line falls
    back on it by type."""
    from scipy.optimize import OptimizeResult

    from sklearn_etap._cli import choosing
    from sklearn_etap._selection import solvers
    from sklearn_etap._selection.problem import SelectionTimeoutError

    def out_of_time(*args, **kwargs):
        return OptimizeResult(status=1, x=None, message="a message in any words")

    monkeypatch.setattr(solvers, "milp", out_of_time)
    groups = all_groups(4, min_size=2)
    gains = {g: [0.1] * len(g) for g in groups}
    with pytest.raises(SelectionTimeoutError):
        select_groups(gains, 2, solver="milp", time_limit=1.0)
    said = []
    got = choosing.choose_groups(
        groups, [gains[g] for g in groups], 4, budget=2, mode="overlap",
        time_limit=1.0, say=said.append, basis="test",
    )  # fmt: skip
    assert any("greedy" in line for line in said) and not got.optimal
    assert sorted(t for g in got.groups for t in g) == [0, 1, 2, 3]
