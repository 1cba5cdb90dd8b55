import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_etap import all_groups
from sklearn_etap._selection.branch_and_bound import solve_branch_and_bound
from sklearn_etap._selection.problem import (
    InfeasibleSelectionError,
    SelectionProblem,
    evaluate,
)
from sklearn_etap._selection.pruning import prune_candidates
from sklearn_etap._selection.solvers import (
    SOLVERS,
    solve_brute_force,
    solve_milp,
    solve_selection,
)

MODES = ["overlap", "partition"]


def random_problem(rng, n_tasks, n_multi, singletons=True, all_multi=False):
    """Random candidates with gains in [-1, 1] (singletons at gain 0)."""
    pool = all_groups(n_tasks, min_size=2)
    if not all_multi:
        picked = rng.choice(len(pool), size=min(n_multi, len(pool)), replace=False)
        pool = [pool[i] for i in sorted(picked)]
    candidates = list(pool)
    gains = [rng.uniform(-1, 1, size=len(g)).round(3) for g in pool]
    if singletons:
        candidates += [(t,) for t in range(n_tasks)]
        gains += [[0.0]] * n_tasks
    return SelectionProblem.from_lists(candidates, gains, n_tasks)


def partition_value_by_enumeration(problem, n_groups):
    """Best partition value by enumerating set partitions, independently of solvers."""
    lookup = {
        g: problem.gain[c, list(g)].sum() for c, g in enumerate(problem.candidates)
    }

    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for k in range(len(rest) + 1):
            for others in itertools.combinations(rest, k):
                block = (first, *others)
                remaining = [t for t in rest if t not in others]
                for tail in partitions(remaining):
                    yield [block, *tail]

    best = -np.inf
    for blocks in partitions(list(range(problem.n_tasks))):
        if len(blocks) <= n_groups and all(b in lookup for b in blocks):
            best = max(best, sum(lookup[b] for b in blocks))
    return best


def solve_all(problem, n_groups, mode):
    """Value of each solver, or the exception type it raised."""
    outcome = {}
    for name, solver in SOLVERS.items():
        try:
            outcome[name] = solver(problem, n_groups, mode).value
        except InfeasibleSelectionError:
            outcome[name] = "infeasible"
    return outcome


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_tasks=st.integers(1, 8),
    n_multi=st.integers(0, 14),
    n_groups=st.integers(1, 4),
    singletons=st.booleans(),
    mode=st.sampled_from(MODES),
)
def test_solvers_agree_on_random_candidate_sets(
    seed, n_tasks, n_multi, n_groups, singletons, mode
):
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n_tasks, n_multi, singletons=singletons)
    if not problem.membership.any(axis=0).all():
        for solver in SOLVERS.values():
            with pytest.raises(ValueError, match="appear in no candidate"):
                solver(problem, n_groups, mode)
        return
    outcome = solve_all(problem, n_groups, mode)
    values = list(outcome.values())
    if "infeasible" in values:
        assert values == ["infeasible"] * 3, outcome
        return
    assert np.allclose(values, values[0], atol=1e-9), outcome
    if mode == "partition":
        assert np.isclose(values[0], partition_value_by_enumeration(problem, n_groups))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n_tasks, n_groups", [(4, 1), (4, 2), (5, 2), (5, 3), (6, 2)])
def test_solvers_agree_on_every_group(mode, n_tasks, n_groups):
    rng = np.random.default_rng(100 * n_tasks + n_groups)
    problem = random_problem(rng, n_tasks, 0, all_multi=True)
    outcome = solve_all(problem, n_groups, mode)
    values = list(outcome.values())
    assert np.allclose(values, values[0], atol=1e-9), outcome


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n_tasks", [7, 8])
def test_milp_matches_branch_and_bound_on_every_group(mode, n_tasks):
    # Brute force over all 2^8 groups is too slow; B&B and MILP must still agree.
    rng = np.random.default_rng(n_tasks)
    problem = random_problem(rng, n_tasks, 0, all_multi=True)
    for n_groups in (2, 3):
        a = solve_milp(problem, n_groups, mode).value
        b = solve_branch_and_bound(problem, n_groups, mode).value
        assert np.isclose(a, b, atol=1e-9)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_tasks=st.integers(2, 7),
    n_multi=st.integers(1, 40),
    n_groups=st.integers(1, 8),
    mode=st.sampled_from(MODES),
    coarse=st.booleans(),
)
def test_pruning_keeps_the_optimum(seed, n_tasks, n_multi, n_groups, mode, coarse):
    rng = np.random.default_rng(seed)
    problem = random_problem(rng, n_tasks, n_multi)
    # Make dominated groups common: copy some supersets' gains down to subsets.
    for c, group in enumerate(problem.candidates):
        for h, other in enumerate(problem.candidates):
            if (
                len(other) == len(group) + 1
                and set(group) < set(other)
                and rng.random() < 0.5
            ):
                problem.gain[c, list(group)] = problem.gain[h, list(group)] - 0.01
    if coarse:
        # Gains on a 0.1 grid: exact zeros and ties, where the rules interact.
        problem.gain = np.round(problem.gain, 1)
    try:
        full = solve_milp(problem, n_groups, mode).value
    except InfeasibleSelectionError:
        return
    keep = prune_candidates(problem, n_groups, mode)
    assert np.isclose(solve_milp(problem.subset(keep), n_groups, mode).value, full)
    pruned = solve_selection(
        problem,
        n_groups,
        mode=mode,
        solver="brute_force" if len(keep) <= 20 and n_groups <= 3 else "milp",
    )
    assert np.isclose(pruned.value, full)


def test_pruning_drops_dominated_subsets_in_overlap_mode_only():
    # (0, 1) is dominated by (0, 1, 2): same or better gain for tasks 0 and 1.
    problem = SelectionProblem.from_lists(
        [(0, 1), (0, 1, 2), (0,), (1,), (2,)],
        [[0.2, 0.1], [0.3, 0.1, -0.5], [0.0], [0.0], [0.0]],
        3,
    )
    overlap = [problem.candidates[c] for c in prune_candidates(problem, 2, "overlap")]
    assert (0, 1) not in overlap and (0, 1, 2) in overlap
    # Singletons 0 and 1 are dominated too ((0, 1) has gains >= 0 for both).
    assert (2,) in overlap
    # In partition mode (0, 1) + (2,) is the optimum: nothing may be dropped.
    partition = prune_candidates(problem, 2, "partition")
    assert len(partition) == len(problem.candidates)
    assert np.isclose(solve_milp(problem, 2, "partition").value, 0.3)


def test_pruning_rules_together_keep_every_task_covered():
    # With a slot per task, (0, 1) has no positive gain and goes; the
    # singleton (0,) must then stay, though (0, 1) gives task 0 the same gain.
    problem = SelectionProblem.from_lists(
        [(0, 1), (0,), (1,)], [[0.0, -0.5], [0.0], [0.0]], 2
    )
    keep = prune_candidates(problem, 2, "overlap")
    assert [problem.candidates[c] for c in keep] == [(0,), (1,)]
    for solver in SOLVERS:
        result = solve_selection(problem, 2, mode="overlap", solver=solver)
        assert result.value == 0.0


def test_non_positive_groups_are_kept_when_the_budget_binds():
    # With one slot the only cover is the all-task group, whatever its gains.
    problem = SelectionProblem.from_lists(
        [(0, 1, 2), (0,), (1,), (2,)], [[-0.5, -0.1, -0.2], [0.0], [0.0], [0.0]], 3
    )
    for mode in MODES:
        keep = prune_candidates(problem, 1, mode)
        assert 0 in keep
        assert np.isclose(solve_selection(problem, 1, mode=mode).value, -0.8)
        # With a slot per task the singletons win and the group may go.
        assert 0 not in prune_candidates(problem, 3, mode)
        assert solve_selection(problem, 3, mode=mode).value == 0.0


def test_known_overlap_answer():
    # Task 1 is best in (1, 2), tasks 0 and 2 in (0, 1, 2): overlap beats any partition.
    problem = SelectionProblem.from_lists(
        [(0, 1), (1, 2), (0, 1, 2), (0,), (1,), (2,)],
        [[0.3, 0.2], [0.5, -0.2], [0.1, 0.1, 0.1], [0.0], [0.0], [0.0]],
        3,
    )
    for solver in SOLVERS.values():
        result = solver(problem, 2, "overlap")
        assert [problem.candidates[c] for c in result.chosen] == [(1, 2), (0, 1, 2)]
        assert np.allclose(result.task_gain, [0.1, 0.5, 0.1])
        assert np.isclose(result.value, 0.7)
        partition = solver(problem, 2, "partition")
        assert [problem.candidates[c] for c in partition.chosen] == [(0, 1), (2,)]
        assert np.isclose(partition.value, 0.5)


def test_evaluate_rejects_non_covers_and_drops_unused_groups():
    problem = SelectionProblem.from_lists(
        [(0, 1), (1, 2), (0, 1, 2)], [[0.3, 0.2], [0.5, 0.4], [0.1, 0.1, 0.1]], 3
    )
    assert evaluate(problem, [0], "overlap") is None
    assert evaluate(problem, [0, 1], "partition") is None
    result = evaluate(problem, [0, 1, 2], "overlap")
    assert result.chosen == [0, 1]  # (0, 1, 2) is no task's best
    assert np.isclose(result.value, 0.3 + 0.5 + 0.4)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("mode", MODES)
def test_budget_below_any_cover_is_a_clear_error(solver, mode):
    problem = SelectionProblem.from_lists(
        [(0, 1), (2, 3), (0,), (1,), (2,), (3,), (4,)],
        [[0.1, 0.1], [0.1, 0.1], [0], [0], [0], [0], [0]],
        5,
    )
    with pytest.raises(ValueError, match="n_groups=2 is too small.*at least 3"):
        SOLVERS[solver](problem, 2, mode)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_partition_infeasible_with_overlapping_candidates_only(solver):
    # Covers exist with overlaps ((0, 1) + (1, 2)) but no partition does.
    problem = SelectionProblem.from_lists([(0, 1), (1, 2)], [[0.1, 0.1], [0.1, 0.1]], 3)
    assert np.isclose(SOLVERS[solver](problem, 2, "overlap").value, 0.3)
    # Every solver says it the same way (the message is built in one place).
    expected = (
        "no selection of at most 2 candidate groups partitions all 3 tasks in "
        "mode='partition'; raise n_groups or add candidate groups."
    )
    with pytest.raises(InfeasibleSelectionError) as info:
        SOLVERS[solver](problem, 2, "partition")
    assert str(info.value) == expected


def test_branch_and_bound_time_limit_returns_incumbent():
    rng = np.random.default_rng(0)
    problem = random_problem(rng, 10, 0, all_multi=True)
    result = solve_branch_and_bound(problem, 3, "overlap", time_limit=1e-4)
    assert evaluate(problem, result.chosen, "overlap") is not None
    exact = solve_milp(problem, 3, "overlap").value
    assert result.value <= exact + 1e-9
    assert result.optimal is False or np.isclose(result.value, exact)


def test_brute_force_refuses_large_problems():
    rng = np.random.default_rng(0)
    problem = random_problem(rng, 10, 0, all_multi=True)
    with pytest.raises(ValueError, match="use solver='milp'"):
        solve_brute_force(problem, 4, "overlap")


def test_unknown_mode():
    problem = SelectionProblem.from_lists([(0,)], [[0.0]], 1)
    with pytest.raises(ValueError, match="mode must be one of"):
        solve_milp(problem, 1, "disjoint")
