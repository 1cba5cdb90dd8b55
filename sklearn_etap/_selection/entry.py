"""The one way into the selection: candidates and their gains in, chosen groups out.

:class:`~sklearn_etap.GroupSelector`, :func:`~sklearn_etap.select_groups`,
:func:`~sklearn_etap.search_groups` and ``etap run`` all enumerate their
candidates with :func:`enumerate_candidates` (the one candidate limit,
:data:`MAX_CANDIDATES`) and solve with :func:`select_from_gains`: the same
gain checks, the same singletons, the same budget cap
(:func:`.problem.usable_budget`, inside :func:`.solvers.solve_selection`) and
the same time limit.
"""

from math import comb

import numpy as np
from sklearn.utils import Bunch

from .._groups import all_groups
from .problem import SelectionProblem
from .solvers import DEFAULT_SOLVER, solve_selection

#: The most candidate groups enumerated (all groups of 12 tasks: 4,083; of
#: 13 tasks: 8,178). More are refused with a message naming the size limit.
MAX_CANDIDATES = 5000


def count_candidates(n_tasks, max_size):
    """Groups of ``2..max_size`` of ``n_tasks`` tasks."""
    return sum(comb(n_tasks, k) for k in range(2, max_size + 1))


def enumerate_candidates(
    n_tasks,
    max_group_size=None,
    *,
    max_candidates=MAX_CANDIDATES,
    advice="set max_group_size to keep the problem tractable",
):
    """Every group of ``2..max_group_size`` tasks, refusing more than
    ``max_candidates`` with a ``ValueError`` ending in ``advice``."""
    max_size = n_tasks if max_group_size is None else min(max_group_size, n_tasks)
    count = count_candidates(n_tasks, max_size)
    if count > max_candidates:
        raise ValueError(
            f"{n_tasks} tasks with groups of up to {max_size} tasks give "
            f"{count} candidate groups, more than {max_candidates}; {advice}."
        )
    return all_groups(n_tasks, min_size=2, max_size=max_size)


def largest_group_size(n_tasks, max_candidates=MAX_CANDIDATES):
    """The largest group size whose candidates (sizes 2..k) stay enumerable."""
    size, count = 1, 0
    while size < n_tasks and count + comb(n_tasks, size + 1) <= max_candidates:
        size += 1
        count += comb(n_tasks, size)
    return size


def check_finite_gains(candidates, member_gains, what):
    """Refuse a NaN or infinite gain, naming its group and task."""
    for group, values in zip(candidates, member_gains):
        values = np.asarray(values, dtype=float)
        if not np.isfinite(values).all():
            i = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ValueError(
                f"{what} for task {group[i]} in group {group} is {values[i]}; "
                "gains must be finite numbers (check the estimator's "
                "predictions or the gains given)."
            )


def check_summable_gains(member_gains, n_tasks, what):
    """Refuse gains so large that a total over the tasks could overflow to inf."""
    largest = max(
        (np.abs(np.asarray(v, float)).max(initial=0.0) for v in member_gains),
        default=0.0,
    )
    limit = np.finfo(np.float64).max / max(n_tasks, 1)
    if largest > limit:
        raise ValueError(
            f"{what} reaches {largest:.3g} in magnitude: a total over {n_tasks} "
            f"tasks could exceed the largest float ({np.finfo(np.float64).max:.3g}) "
            "and become inf. Divide the gains by a constant (the selection does "
            "not change)."
        )


def select_from_gains(
    candidates,
    member_gains,
    n_tasks,
    n_groups,
    *,
    mode="overlap",
    solver=DEFAULT_SOLVER,
    prune=True,
    time_limit=None,
    include_singletons=True,
    what="the gain",
):
    """Choose at most ``n_groups`` of ``candidates`` covering all tasks.

    ``member_gains[i]`` holds the gain of each member of ``candidates[i]``
    (sorted tuples), in ascending task order. Every task trained alone is
    added as a candidate with gain 0 unless it is already one (with
    ``include_singletons``). ``what`` names the gains in error messages.

    Returns a :class:`~sklearn.utils.Bunch`: ``groups`` (by size, then task
    indices), ``total_gain``, ``task_gain``, ``task_group`` (index into
    ``groups``), ``optimal``, ``gap`` (relative), ``bound`` (the solver's
    upper bound on the total, or None), ``n_candidates`` (singletons
    included). Raises :class:`.problem.InfeasibleSelectionError` when no
    selection fits the budget and :class:`.problem.SelectionTimeoutError`
    when the time limit ends the search before any selection is found.
    """
    candidates = [tuple(g) for g in candidates]
    member_gains = [np.asarray(v, dtype=float).ravel() for v in member_gains]
    check_finite_gains(candidates, member_gains, what)
    check_summable_gains(member_gains, n_tasks, what)
    if include_singletons:
        present = {g for g in candidates if len(g) == 1}
        for t in range(n_tasks):
            if (t,) not in present:
                candidates.append((t,))
                member_gains.append(np.zeros(1))
    problem = SelectionProblem.from_lists(candidates, member_gains, n_tasks)
    result = solve_selection(
        problem, n_groups, mode=mode, solver=solver, prune=prune, time_limit=time_limit
    )
    return as_bunch(problem, result)


def as_bunch(problem, result):
    """The chosen groups by size then task indices, and each task's group."""
    groups = [problem.candidates[c] for c in result.chosen]
    order = sorted(range(len(groups)), key=lambda i: (len(groups[i]), groups[i]))
    rank = np.argsort(order)
    bound = result.bound
    return Bunch(
        groups=[groups[i] for i in order],
        total_gain=result.value,
        task_gain=result.task_gain,
        task_group=rank[result.task_choice],
        optimal=result.optimal,
        gap=result.gap,
        bound=None if bound is None or not np.isfinite(bound) else float(bound),
        n_candidates=len(problem.candidates),
    )
