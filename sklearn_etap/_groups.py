"""Task groups and their row encoding ``[u_G | e_t]``.

A *group* is a set of task indices trained together in one multi-task model.
Every (group, member task) pair becomes one row: the multi-hot membership
vector ``u_G`` followed by the one-hot vector ``e_t`` of the task whose gain
the row describes. All estimators of the package consume these rows.
"""

import itertools
from math import comb

import numpy as np
from sklearn.utils import check_random_state


def check_groups(groups, n_tasks, *, min_size=1, allow_duplicates=False):
    """Validate groups of task indices and return them as sorted tuples.

    Parameters
    ----------
    groups : iterable of iterables of int
        The groups.
    n_tasks : int
        Number of tasks; every index must lie in ``[0, n_tasks)``.
    min_size : int, default=1
        Smallest allowed group size.
    allow_duplicates : bool, default=False
        Whether the same group may appear twice.

    Returns
    -------
    groups : list of tuple of int
        Each group as a sorted tuple, in the order given.
    """
    n_tasks = _check_n_tasks(n_tasks)
    if isinstance(groups, np.ndarray) and groups.ndim == 2 and groups.dtype == bool:
        raise TypeError(
            "groups must be a list of task-index collections, not a boolean "
            "membership matrix; convert it with [np.flatnonzero(row) for row in M]."
        )
    checked = []
    seen = {}
    for position, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            raise TypeError(
                f"group {position} is {group!r}; each group must be a collection "
                "of task indices such as (0, 2)."
            )
        members = list(group)
        for task in members:
            if isinstance(task, (bool, np.bool_)) or not isinstance(
                task, (int, np.integer)
            ):
                raise TypeError(
                    f"group {position} {tuple(members)} holds {task!r}; task "
                    "indices must be integers."
                )
            if not 0 <= task < n_tasks:
                raise ValueError(
                    f"group {position} {tuple(members)} holds task index {task}, "
                    f"out of range for {n_tasks} tasks (valid: 0..{n_tasks - 1})."
                )
        normalized = tuple(sorted(int(t) for t in members))
        if len(set(normalized)) != len(normalized):
            raise ValueError(
                f"group {position} {tuple(members)} lists a task more than once."
            )
        if len(normalized) == 0:
            raise ValueError(f"group {position} is empty; a group needs tasks.")
        if len(normalized) < min_size:
            raise ValueError(
                f"group {position} {normalized} has {len(normalized)} task(s); "
                f"groups need at least {min_size}."
            )
        if not allow_duplicates and normalized in seen:
            raise ValueError(
                f"group {position} {normalized} duplicates group {seen[normalized]}."
            )
        seen.setdefault(normalized, position)
        checked.append(normalized)
    return checked


def _check_n_tasks(n_tasks):
    if isinstance(n_tasks, (bool, np.bool_)) or not isinstance(
        n_tasks, (int, np.integer)
    ):
        raise TypeError(f"n_tasks must be an integer, got {n_tasks!r}.")
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be at least 1, got {n_tasks}.")
    return int(n_tasks)


def encode_groups(groups, n_tasks):
    """Encode groups as group-task rows ``[u_G | e_t]``.

    One row per (group, member task): groups in the order given, member tasks
    in ascending order. ``u_G`` is the multi-hot membership of the group and
    ``e_t`` the one-hot code of the member task the row describes.

    Parameters
    ----------
    groups : iterable of iterables of int
        Distinct, non-empty groups of task indices.
    n_tasks : int
        Total number of tasks.

    Returns
    -------
    P : ndarray of shape (n_rows, 2 * n_tasks)
        The encoded rows, as floats.

    Examples
    --------
    >>> from sklearn_etap import encode_groups
    >>> encode_groups([(0, 2)], n_tasks=3)
    array([[1., 0., 1., 1., 0., 0.],
           [1., 0., 1., 0., 0., 1.]])
    """
    groups = check_groups(groups, n_tasks)
    n_rows = sum(len(g) for g in groups)
    P = np.zeros((n_rows, 2 * n_tasks))
    row = 0
    for group in groups:
        for task in group:
            P[row, list(group)] = 1.0
            P[row, n_tasks + task] = 1.0
            row += 1
    return P


def group_row_ids(groups):
    """Index of the group each row of ``encode_groups(groups, ...)`` belongs to."""
    return np.repeat(np.arange(len(groups)), [len(g) for g in groups])


def decode_rows(P):
    """Split group-task rows into membership, target task and group.

    Parameters
    ----------
    P : array-like of shape (n_rows, 2 * n_tasks)
        Rows as made by :func:`encode_groups`.

    Returns
    -------
    membership : ndarray of bool, shape (n_rows, n_tasks)
    target : ndarray of int, shape (n_rows,)
    groups : list of tuple of int
        The group of every row.
    """
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[1] % 2 or P.shape[1] == 0:
        raise ValueError(
            f"group-task rows must be a 2-D array with 2 * n_tasks columns "
            f"[u_G | e_t]; got shape {P.shape}."
        )
    n_tasks = P.shape[1] // 2
    membership_values = P[:, :n_tasks]
    target_values = P[:, n_tasks:]
    if not np.all(np.isin(P, (0.0, 1.0))):
        raise ValueError(
            "group-task rows must hold only 0 and 1 (multi-hot u_G, one-hot e_t); "
            "build them with encode_groups."
        )
    if not np.all(target_values.sum(axis=1) == 1):
        bad = int(np.flatnonzero(target_values.sum(axis=1) != 1)[0])
        raise ValueError(
            f"row {bad} does not have exactly one target task in its last "
            f"{n_tasks} columns (e_t must be one-hot)."
        )
    membership = membership_values.astype(bool)
    target = target_values.argmax(axis=1)
    if not np.all(membership[np.arange(len(P)), target]):
        bad = int(np.flatnonzero(~membership[np.arange(len(P)), target])[0])
        raise ValueError(
            f"row {bad}: its target task {target[bad]} is not a member of its "
            "group; every row describes a member of its own group."
        )
    groups = [tuple(np.flatnonzero(m).tolist()) for m in membership]
    return membership, target, groups


def sample_groups(n_tasks, n_groups, random_state=None, *, max_size=None):
    """Draw distinct random groups of at least two tasks.

    Each group's size is drawn first in proportion to the number of groups of
    that size, so every distinct group of size ``2..max_size`` is equally
    likely; groups are then drawn without replacement.

    Parameters
    ----------
    n_tasks : int
        Number of tasks (at least 2).
    n_groups : int
        Number of distinct groups to return.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible draws.
    max_size : int, default=None
        Largest group size; ``None`` allows all tasks in one group.

    Returns
    -------
    groups : list of tuple of int
        Distinct sorted groups.

    Examples
    --------
    >>> from sklearn_etap import sample_groups
    >>> groups = sample_groups(5, 3, random_state=0)
    >>> len(groups), all(len(g) >= 2 for g in groups)
    (3, True)
    """
    n_tasks = _check_n_tasks(n_tasks)
    if n_tasks < 2:
        raise ValueError(f"groups of size >= 2 need at least 2 tasks; got {n_tasks}.")
    max_size = n_tasks if max_size is None else int(max_size)
    if not 2 <= max_size <= n_tasks:
        raise ValueError(f"max_size must lie in [2, {n_tasks}], got {max_size}.")
    if isinstance(n_groups, (bool, np.bool_)) or not isinstance(
        n_groups, (int, np.integer)
    ):
        raise TypeError(f"n_groups must be an integer, got {n_groups!r}.")
    sizes = np.arange(2, max_size + 1)
    counts = np.array([comb(n_tasks, int(k)) for k in sizes], dtype=float)
    available = int(counts.sum())
    if not 0 < n_groups <= available:
        raise ValueError(
            f"cannot draw {n_groups} distinct groups: {n_tasks} tasks have "
            f"{available} groups of size 2..{max_size}."
        )
    rng = check_random_state(random_state)
    if n_groups > available // 2:
        everything = [
            g for k in sizes for g in itertools.combinations(range(n_tasks), int(k))
        ]
        picked = rng.choice(len(everything), size=n_groups, replace=False)
        return [everything[i] for i in picked]
    chosen, seen = [], set()
    while len(chosen) < n_groups:
        size = int(rng.choice(sizes, p=counts / available))
        group = tuple(sorted(rng.choice(n_tasks, size=size, replace=False).tolist()))
        if group not in seen:
            seen.add(group)
            chosen.append(group)
    return chosen


def all_groups(n_tasks, *, min_size=2, max_size=None):
    """Every group of ``min_size..max_size`` tasks, by size then lexicographically."""
    n_tasks = _check_n_tasks(n_tasks)
    max_size = n_tasks if max_size is None else min(int(max_size), n_tasks)
    return [
        g
        for k in range(min_size, max_size + 1)
        for g in itertools.combinations(range(n_tasks), k)
    ]
