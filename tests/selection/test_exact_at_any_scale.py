"""The solvers are exact whatever the scale of the gains.

HiGHS stops at default optimality gaps (relative 1e-4, absolute 1e-6): on gains
near 1e-6 the MILP returned worse selections than brute force while reporting
an optimum. Each solver is checked against brute force on random 5-task
problems with gains from 1e-8 to 1e8, in both modes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_etap import GroupSelector, all_groups, select_groups
from sklearn_etap._selection.problem import InfeasibleSelectionError, SelectionProblem
from sklearn_etap._selection.solvers import (
    solve_branch_and_bound,
    solve_brute_force,
    solve_milp,
)

SCALES = [1e-8, 1e-6, 1e-4, 1.0, 1e8]
N_TASKS = 5


def five_task_problem(seed, scale, coarse, n_multi):
    """``n_multi`` random groups of 2..5 tasks plus the singletons (gain 0)."""
    rng = np.random.default_rng(seed)
    pool = all_groups(N_TASKS)
    picked = sorted(rng.choice(len(pool), size=n_multi, replace=False))
    groups = [pool[i] for i in picked]
    gains = [rng.uniform(-1.0, 1.0, len(g)) for g in groups]
    if coarse:  # ties and exact zeros
        gains = [np.round(g, 1) for g in gains]
    gains = [g * scale for g in gains]
    singletons = [(t,) for t in range(N_TASKS)]
    return SelectionProblem.from_lists(
        groups + singletons, gains + [[0.0]] * N_TASKS, N_TASKS
    )


@pytest.mark.parametrize("scale", SCALES)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_multi=st.integers(1, 2**N_TASKS - 1 - N_TASKS),
    n_groups=st.integers(1, 4),
    mode=st.sampled_from(["overlap", "partition"]),
    coarse=st.booleans(),
)
def test_solvers_match_brute_force_at_any_gain_scale(
    scale, seed, n_multi, n_groups, mode, coarse
):
    problem = five_task_problem(seed, scale, coarse, n_multi)
    try:
        reference = solve_brute_force(problem, n_groups, mode)
    except InfeasibleSelectionError:
        for solver in (solve_milp, solve_branch_and_bound):
            with pytest.raises(InfeasibleSelectionError):
                solver(problem, n_groups, mode)
        return
    # Summing five gains rounds at about 1e-15 of their scale; a solver that
    # stops at a gap misses by 1e-4 of it or more.
    tolerance = 1e-12 * scale
    for solver in (solve_milp, solve_branch_and_bound):
        result = solver(problem, n_groups, mode)
        assert result.optimal
        assert abs(result.value - reference.value) <= tolerance, (
            solver.__name__,
            result.value,
            reference.value,
        )
        # The value reported is the chosen groups' score on the given gains.
        chosen = problem.gain[result.chosen]
        assert np.isclose(chosen.max(axis=0).sum(), result.value, rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-7, 1e7])
def test_select_groups_default_solver_is_exact_at_extreme_scales(scale):
    rng = np.random.default_rng(7)
    groups = all_groups(N_TASKS)
    gains = {g: (rng.uniform(-1, 1, len(g)) * scale).tolist() for g in groups}
    for mode in ("overlap", "partition"):
        for n_groups in (2, 3):
            best = select_groups(gains, n_groups, mode=mode, solver="brute_force")
            default = select_groups(gains, n_groups, mode=mode)
            assert default.optimal
            assert abs(default.total_gain - best.total_gain) <= 1e-12 * scale


def test_branch_and_bound_is_the_default_solver():
    assert GroupSelector(None, n_groups=2).solver == "branch_and_bound"
    assert select_groups.__wrapped__.__kwdefaults__["solver"] == "branch_and_bound"
