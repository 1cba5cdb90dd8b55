"""``select_groups``: choose groups from gains you already have.

The gains come as a mapping ``{group: member gains}`` or as per-row gains with
their group-task rows; both become candidates and member gains for
:func:`.entry.select_from_gains`, the selection's one entry point.
"""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from .._groups import check_groups, decode_rows
from .._validation import Interval, StrOptions, validate_params
from .entry import select_from_gains
from .problem import MODES
from .solvers import DEFAULT_SOLVER, SOLVERS


def _gains_from_rows(gains, rows):
    _, target, row_groups = decode_rows(rows)
    gains = np.asarray(gains, dtype=float)
    if gains.shape != (len(target),):
        raise ValueError(
            f"gains has shape {gains.shape} but rows has {len(target)} rows; "
            "give one gain per group-task row."
        )
    table = {}
    for group, task, value in zip(row_groups, target, gains):
        members = table.setdefault(group, {})
        if task in members:
            raise ValueError(f"task {task} of group {group} has more than one row.")
        members[int(task)] = value
    return table, rows.shape[1] // 2


def _gains_from_mapping(gains):
    table = {}
    for group, values in gains.items():
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            raise TypeError(
                f"gains has the key {group!r}; keys must be groups of task "
                "indices such as (0, 2)."
            )
        for task in group:
            if isinstance(task, (bool, np.bool_)) or not isinstance(task, Integral):
                raise TypeError(
                    f"gains has the key {tuple(group)!r}, which holds {task!r}; "
                    "task indices in its keys must be integers such as (0, 2)."
                )
        members = tuple(sorted(group))
        if members in table:
            raise ValueError(f"gains lists group {members} more than once.")
        if isinstance(values, Mapping):
            table[members] = {int(t): float(v) for t, v in values.items()}
        else:
            values = np.atleast_1d(np.asarray(values, dtype=float))
            if values.shape != (len(members),):
                raise ValueError(
                    f"group {tuple(group)} has {len(members)} members but "
                    f"{values.size} gains; give one gain per member, members in "
                    "ascending order (or a {task: gain} mapping)."
                )
            table[members] = dict(zip(members, values.tolist()))
    n_tasks = 1 + max((max(g) for g in table if len(g)), default=-1)
    return table, n_tasks


def _candidates_from_table(table, n_tasks):
    candidates = check_groups(list(table), n_tasks, name="the keys of gains")
    member_gains = []
    for group in candidates:
        values = table[group]
        if set(values) != set(group):
            raise ValueError(
                f"group {group} has gains for tasks {sorted(values)}; give one "
                "gain for each of its members."
            )
        member_gains.append([values[t] for t in group])
    return candidates, member_gains


@validate_params(
    {
        "gains": [Mapping, "array-like"],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "rows": ["array-like", None],
        "n_tasks": [Interval(Integral, 1, None, closed="left"), None],
        "mode": [StrOptions(set(MODES))],
        "solver": [StrOptions(set(SOLVERS))],
        "prune": ["boolean"],
        "include_singletons": ["boolean"],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def select_groups(
    gains,
    n_groups,
    *,
    rows=None,
    n_tasks=None,
    mode="overlap",
    solver=DEFAULT_SOLVER,
    prune=True,
    include_singletons=True,
    time_limit=None,
):
    """Choose at most ``n_groups`` groups from gains you already have.

    Every task is covered. ``mode="overlap"`` (the paper's objective) lets
    chosen groups share tasks and scores each task by its best chosen group;
    ``mode="partition"`` requires disjoint groups. The result is exact,
    unless ``time_limit`` stops the solver first: then it is the best
    selection found, with its optimality gap.

    Parameters
    ----------
    gains : mapping or array-like
        Either a mapping ``{group: gains}``, where ``gains`` lists the gain of
        each member in ascending task order (or is a ``{task: gain}``
        mapping), or, with ``rows``, a 1-D array with one gain per row.
    n_groups : int
        Budget: at most this many groups, singletons included.
    rows : array-like of shape (n_rows, 2 * n_tasks), default=None
        Group-task rows from :func:`encode_groups` that ``gains`` belongs to.
    n_tasks : int, default=None
        Number of tasks; by default ``rows.shape[1] // 2`` or the largest
        task index in ``gains`` plus one.
    mode : {"overlap", "partition"}, default="overlap"
        ``"overlap"``: chosen groups may share tasks and each task is scored
        by its best chosen group. ``"partition"``: chosen groups are disjoint.
    solver : {"branch_and_bound", "milp", "brute_force"}, \
            default="branch_and_bound"
        The exact solver; see :class:`GroupSelector`.
    prune : bool, default=True
        Drop candidates that provably cannot change the optimum value.
    include_singletons : bool, default=True
        Add every task trained alone as a candidate with gain 0 (unless
        ``gains`` already has it). With ``False`` a task in no candidate is
        an error.
    time_limit : float, default=None
        Seconds the solver may run (``"branch_and_bound"`` or ``"milp"``).
        When it runs out, the best covering selection found so far is
        returned with ``optimal=False`` and its ``gap``; ``None``: no limit,
        the result is optimal.

    Returns
    -------
    selection : :class:`~sklearn.utils.Bunch`
        ``groups`` (chosen groups, sorted), ``total_gain`` (objective value),
        ``task_gain`` (each task's gain in its group), ``task_group`` (index
        into ``groups`` of the group each task is scored by), ``optimal``
        (whether the solver proved optimality; always true without a time
        limit) and ``gap`` (relative optimality gap ``(bound - total_gain) /
        max(|bound|, |total_gain|)``, with ``bound`` the solver's upper bound
        on any selection's total gain: 0.0 when optimal, at most 2).

    See Also
    --------
    GroupSelector : The same selection from an estimator's predicted gains.
    all_groups : Every candidate group of a number of tasks.

    Notes
    -----
    A budget above the number of tasks selects what ``n_groups=n_tasks``
    selects (an optimal selection needs at most one group per task), so it
    is capped there and costs nothing more.

    Examples
    --------
    >>> from sklearn_etap import select_groups
    >>> gains = {(0, 1): [0.3, 0.2], (1, 2): [0.5, -0.2], (0, 1, 2): [0.1, 0.1, 0.1]}
    >>> sel = select_groups(gains, n_groups=2)
    >>> sel.groups, round(sel.total_gain, 3)
    ([(1, 2), (0, 1, 2)], 0.7)
    >>> sel.task_group  # task 1 is scored by (1, 2), tasks 0 and 2 by (0, 1, 2)
    array([1, 0, 1])
    >>> select_groups(gains, n_groups=2, mode="partition").groups
    [(2,), (0, 1)]
    """
    if rows is not None:
        table, inferred = _gains_from_rows(gains, np.asarray(rows, dtype=float))
    elif isinstance(gains, Mapping):
        table, inferred = _gains_from_mapping(gains)
    else:
        raise TypeError(
            "gains must be a mapping {group: member gains}, or a 1-D array of "
            "per-row gains together with rows=encode_groups(groups, n_tasks)."
        )
    if n_tasks is None:
        if inferred == 0:
            raise ValueError(
                "gains is empty, so the number of tasks is unknown; give the "
                "gains of at least one group, or pass n_tasks to select "
                "singletons only."
            )
        n_tasks = inferred
    candidates, member_gains = _candidates_from_table(table, n_tasks)
    return select_from_gains(
        candidates,
        member_gains,
        n_tasks,
        n_groups,
        mode=mode,
        solver=solver,
        prune=prune,
        time_limit=time_limit,
        include_singletons=include_singletons,
    )
