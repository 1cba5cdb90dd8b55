"""Exact solvers for choosing which task groups to train.

Three solvers of the problem in :mod:`.problem` return the same
optimum value (ties may pick different groups): ``solve_branch_and_bound``
(in the spirit of Standley et al., 2020, "Which tasks should be learned
together in multi-task learning?"; the default), ``solve_milp`` (scipy's
``milp``, HiGHS) and ``solve_brute_force`` (tiny problems only; the reference
in tests). ``solve_selection`` prunes exactly, then runs one of them.
"""

import itertools
import warnings
from math import comb

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from .branch_and_bound import solve_branch_and_bound
from .problem import (
    SelectionTimeoutError,
    check_coverable,
    check_mode,
    evaluate,
    no_selection_error,
    relative_gap,
    usable_budget,
)
from .pruning import prune_candidates

DEFAULT_SOLVER = "branch_and_bound"

# --------------------------------------------------------------------------
# exact integer programming


def solve_milp(problem, n_groups, mode="overlap", *, time_limit=None):
    """Solve the selection as a mixed-integer program with HiGHS.

    Overlap mode: binary ``x_G`` (group chosen) and continuous
    ``0 <= a_{G,t} <= x_G`` (task ``t`` scored by ``G``) with
    ``sum_G a_{G,t} = 1`` per task, ``sum_G x_G <= n_groups``, maximizing
    ``sum a_{G,t} gain[G, t]``. For fixed ``x`` the assignment is a per-task
    choice, so integral ``a`` need not be imposed. Partition mode: binary
    ``x_G`` with ``sum_{G ∋ t} x_G = 1`` per task and the same budget,
    maximizing ``sum x_G sum_{t in G} gain[G, t]``.

    HiGHS stops by default once its relative (1e-4) or absolute (1e-6) gap
    between the best selection and its bound is reached, which on gains near
    1e-6 returned worse selections than brute force while reporting an
    optimum. Here the gains are divided by their largest magnitude and both
    gaps are zero; the chosen groups are then scored on the original gains,
    and ``optimal`` also requires that score to reach HiGHS's bound.

    ``time_limit`` (seconds) returns HiGHS's best selection so far, with
    ``optimal=False`` and its relative ``gap`` to HiGHS's bound.
    """
    check_mode(mode)
    check_coverable(problem, n_groups)
    n_groups = usable_budget(problem, n_groups)
    original = problem
    problem, scale = problem.rescaled()
    member = problem.membership
    n_cand, n_tasks = member.shape
    cand_idx, task_idx = np.nonzero(member)
    pair_gain = problem.gain[cand_idx, task_idx]
    # mip_abs_gap is not among the options scipy names, so scipy passes it to
    # HiGHS verbatim and warns that it did.
    options = {"mip_rel_gap": 0.0, "mip_abs_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    if mode == "partition":
        c = -np.where(member, problem.gain, 0.0).sum(axis=1)
        cover = coo_array(
            (np.ones(len(cand_idx)), (task_idx, cand_idx)), shape=(n_tasks, n_cand)
        )
        constraints = [
            LinearConstraint(cover, 1, 1),
            LinearConstraint(np.ones((1, n_cand)), 0, n_groups),
        ]
        integrality = np.ones(n_cand)
    else:
        n_pairs = len(cand_idx)
        pairs = np.arange(n_pairs)
        c = np.concatenate([np.zeros(n_cand), -pair_gain])
        assign = coo_array(
            (np.ones(n_pairs), (task_idx, n_cand + pairs)),
            shape=(n_tasks, n_cand + n_pairs),
        )
        link = coo_array(
            (
                np.concatenate([np.ones(n_pairs), -np.ones(n_pairs)]),
                (
                    np.concatenate([pairs, pairs]),
                    np.concatenate([n_cand + pairs, cand_idx]),
                ),
            ),
            shape=(n_pairs, n_cand + n_pairs),
        )
        budget = np.concatenate([np.ones(n_cand), np.zeros(n_pairs)])[None, :]
        constraints = [
            LinearConstraint(assign, 1, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(budget, 0, n_groups),
        ]
        integrality = np.concatenate([np.ones(n_cand), np.zeros(n_pairs)])
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Unrecognized options detected", RuntimeWarning
        )
        res = milp(
            c,
            constraints=constraints,
            integrality=integrality,
            bounds=Bounds(0, 1),
            options=options,
        )
    if res.status == 2:
        raise no_selection_error(n_groups, n_tasks, mode)
    if res.x is None:
        # scipy's status 1: HiGHS hit its time (or iteration) limit
        if res.status == 1:
            raise SelectionTimeoutError(
                f"HiGHS found no selection covering every task within "
                f"time_limit={time_limit} s; raise time_limit."
            )
        raise RuntimeError(f"HiGHS stopped without a solution: {res.message}")
    chosen = np.flatnonzero(res.x[:n_cand] > 0.5)
    result = evaluate(original, chosen, mode)
    if result is None:  # pragma: no cover - guards against solver tolerance issues
        raise RuntimeError(f"HiGHS returned an invalid selection: {res.message}")
    # HiGHS's bound (it minimizes -gain) on the original scale; rounding aside,
    # no selection scores more.
    bound = -res.mip_dual_bound * scale if res.mip_dual_bound is not None else np.inf
    # no selection beats every task's best gain, whatever HiGHS reached
    bound = min(bound, float(original.gain.max(axis=0).sum()))
    slack = 1e-9 * scale * n_tasks
    result.optimal = res.status == 0 and result.value >= bound - slack
    result.bound = float(bound)
    if not result.optimal:
        result.gap = max(relative_gap(result.value, bound), 1e-9)
    return result


# --------------------------------------------------------------------------
# brute force


def solve_brute_force(problem, n_groups, mode="overlap", *, max_evaluations=5_000_000):
    """Try every set of at most ``n_groups`` candidates (tiny problems only)."""
    check_mode(mode)
    check_coverable(problem, n_groups)
    n_cand = len(problem.candidates)
    largest = usable_budget(problem, n_groups)
    n_sets = sum(comb(n_cand, k) for k in range(1, largest + 1))
    if n_sets > max_evaluations:
        raise ValueError(
            f"brute force would evaluate {n_sets} sets of candidates (limit "
            f"{max_evaluations}); use solver='milp' for problems this large."
        )
    gain = problem.gain
    member = problem.membership.astype(np.int64)
    best_value, best_set = -np.inf, None
    for k in range(1, largest + 1):
        combos = itertools.combinations(range(n_cand), k)
        while True:
            chunk = np.fromiter(
                itertools.chain.from_iterable(itertools.islice(combos, 20_000)),
                dtype=np.int64,
            ).reshape(-1, k)
            if len(chunk) == 0:
                break
            # -inf (a task in no chosen group) sums to -inf: not a cover.
            totals = gain[chunk].max(axis=1).sum(axis=1)
            if mode == "partition":
                totals[(member[chunk].sum(axis=1) != 1).any(axis=1)] = -np.inf
            top = int(np.argmax(totals))
            if totals[top] > best_value:
                best_value, best_set = totals[top], chunk[top].tolist()
    if best_set is None:
        raise no_selection_error(n_groups, problem.n_tasks, mode)
    return evaluate(problem, best_set, mode)


SOLVERS = {
    "branch_and_bound": solve_branch_and_bound,
    "milp": solve_milp,
    "brute_force": solve_brute_force,
}


def solve_selection(
    problem, n_groups, *, mode="overlap", solver=DEFAULT_SOLVER, prune=True, **options
):
    """Prune (exactly) and solve; chosen indices refer to ``problem``.

    ``options`` go to the solver (``time_limit`` for ``"milp"`` and
    ``"branch_and_bound"``; ``time_limit=None`` is no limit). A budget above
    what a selection can use is capped first (:func:`.problem.usable_budget`).
    Raises :class:`.problem.SelectionTimeoutError` when the time limit runs
    out before any covering selection is found.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}.")
    if options.get("time_limit", 0) is None:
        del options["time_limit"]
    if "time_limit" in options and solver == "brute_force":
        raise ValueError(
            "solver='brute_force' has no time limit; use 'branch_and_bound' or "
            "'milp' with time_limit."
        )
    check_coverable(problem, n_groups)
    n_groups = usable_budget(problem, n_groups)
    keep = np.arange(len(problem.candidates))
    if prune:
        keep = prune_candidates(problem, n_groups, mode)
    result = SOLVERS[solver](problem.subset(keep), n_groups, mode, **options)
    result.chosen = [int(keep[c]) for c in result.chosen]
    return result
