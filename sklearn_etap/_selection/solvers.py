"""Exact solvers for choosing which task groups to train.

Three solvers of the problem in :mod:`.problem` return the same
optimum value (ties may pick different groups): ``solve_milp`` (scipy's
``milp``, HiGHS), ``solve_branch_and_bound`` (in the spirit of Standley et
al., 2020, "Which tasks should be learned together in multi-task learning?")
and ``solve_brute_force`` (tiny problems only; the reference in tests).
"""

import itertools
from math import comb

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from .branch_and_bound import solve_branch_and_bound
from .problem import (
    InfeasibleSelectionError,
    check_coverable,
    check_mode,
    evaluate,
)

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
    """
    check_mode(mode)
    check_coverable(problem, n_groups)
    member = problem.membership
    n_cand, n_tasks = member.shape
    cand_idx, task_idx = np.nonzero(member)
    pair_gain = problem.gain[cand_idx, task_idx]
    options = {} if time_limit is None else {"time_limit": float(time_limit)}
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
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options=options,
    )
    if res.status == 2:
        raise InfeasibleSelectionError(
            f"no selection of at most {n_groups} candidate groups "
            f"{'partitions' if mode == 'partition' else 'covers'} all "
            f"{n_tasks} tasks; raise n_groups or add candidate groups."
        )
    if res.x is None:
        raise RuntimeError(f"HiGHS stopped without a solution: {res.message}")
    chosen = np.flatnonzero(res.x[:n_cand] > 0.5)
    result = evaluate(problem, chosen, mode)
    if result is None:  # pragma: no cover - guards against solver tolerance issues
        raise RuntimeError(f"HiGHS returned an invalid selection: {res.message}")
    result.optimal = res.status == 0
    return result


# --------------------------------------------------------------------------
# brute force


def solve_brute_force(problem, n_groups, mode="overlap", *, max_evaluations=5_000_000):
    """Try every set of at most ``n_groups`` candidates (tiny problems only)."""
    check_mode(mode)
    check_coverable(problem, n_groups)
    n_cand = len(problem.candidates)
    largest = min(n_groups, n_cand, problem.n_tasks)
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
        raise InfeasibleSelectionError(
            f"no selection of at most {n_groups} candidate groups covers all "
            f"{problem.n_tasks} tasks in mode={mode!r}; raise n_groups or add "
            "candidate groups."
        )
    return evaluate(problem, best_set, mode)


SOLVERS = {
    "milp": solve_milp,
    "branch_and_bound": solve_branch_and_bound,
    "brute_force": solve_brute_force,
}
