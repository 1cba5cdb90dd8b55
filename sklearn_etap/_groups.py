"""Task groups and their row encoding ``[u_G | e_t]``.

A *group* is a set of task indices trained together in one multi-task model.
Every (group, member task) pair becomes one row: the multi-hot membership
vector ``u_G`` followed by the one-hot vector ``e_t`` of the task whose gain
the row describes. All estimators of the package consume these rows.
"""

import itertools
from collections.abc import Iterable
from math import comb
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from ._validation import Interval, validate_params


def check_groups(groups, n_tasks, *, min_size=1, allow_duplicates=False, name="groups"):
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
    name : str, default="groups"
        The caller's name for ``groups``, used in error messages.

    Returns
    -------
    groups : list of tuple of int
        Each group as a sorted tuple, in the order given.
    """
    n_tasks = _check_n_tasks(n_tasks)
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
        raise TypeError(
            f"{name} must be a list of groups of task indices such as "
            f"[(0, 1), (1, 2)], got {groups!r}."
        )
    if isinstance(groups, np.ndarray) and groups.ndim == 2 and groups.dtype == bool:
        raise TypeError(
            f"{name} must be a list of task-index collections, not a boolean "
            "membership matrix; convert it with [np.flatnonzero(row) for row in M]."
        )
    checked = []
    seen = {}
    for position, group in enumerate(groups):
        where = f"group {position}" + ("" if name == "groups" else f" of {name}")
        if isinstance(group, (str, bytes)) or not hasattr(group, "__iter__"):
            raise TypeError(
                f"{where} is {group!r}; each group must be a collection "
                "of task indices such as (0, 2)."
            )
        members = list(group)
        for task in members:
            if isinstance(task, (bool, np.bool_)) or not isinstance(
                task, (int, np.integer)
            ):
                raise TypeError(
                    f"{where} {tuple(members)} holds {task!r}; task "
                    "indices must be integers."
                )
            if not 0 <= task < n_tasks:
                raise ValueError(
                    f"{where} {tuple(members)} holds task index {task}, "
                    f"out of range for {n_tasks} tasks (valid: 0..{n_tasks - 1})."
                )
        normalized = tuple(sorted(int(t) for t in members))
        if len(set(normalized)) != len(normalized):
            raise ValueError(f"{where} {tuple(members)} lists a task more than once.")
        if len(normalized) == 0:
            raise ValueError(f"{where} is empty; a group needs tasks.")
        if len(normalized) < min_size:
            raise ValueError(
                f"{where} {normalized} has {len(normalized)} task(s); "
                f"groups need at least {min_size}."
            )
        if not allow_duplicates and normalized in seen:
            raise ValueError(
                f"{where} {normalized} duplicates group {seen[normalized]}."
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


@validate_params(
    {"groups": [Iterable], "n_tasks": [Interval(Integral, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
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

    See Also
    --------
    group_row_ids : The group of each encoded row, for grouped splitters.
    sample_groups : Random groups to measure.
    all_groups : Every group of a number of tasks.

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


@validate_params({"groups": [Iterable]}, prefer_skip_nested_validation=True)
def group_row_ids(groups):
    """Index of the group each row of ``encode_groups(groups, n_tasks)`` describes.

    :func:`encode_groups` writes one row per member of each group, so the rows
    of one group are consecutive. Pass these ids as ``groups`` to a grouped
    splitter such as :class:`~sklearn.model_selection.GroupKFold`, so that the
    rows of a group never straddle a training and a validation fold.

    Parameters
    ----------
    groups : iterable of iterables of int
        The groups, in the order given to :func:`encode_groups`.

    Returns
    -------
    row_group : ndarray of int, shape (n_rows,)
        ``row_group[i]`` is the position in ``groups`` of the group of row ``i``.

    See Also
    --------
    encode_groups : The rows these ids refer to.

    Examples
    --------
    >>> from sklearn_etap import encode_groups, group_row_ids
    >>> groups = [(0, 2), (0, 1, 2)]
    >>> encode_groups(groups, n_tasks=3).shape
    (5, 6)
    >>> group_row_ids(groups)
    array([0, 0, 1, 1, 1])
    """
    sizes = []
    for position, group in enumerate(groups):
        if isinstance(group, (str, bytes)) or not hasattr(group, "__len__"):
            raise TypeError(
                f"group {position} of groups is {group!r}; each group must be a "
                "collection of task indices such as (0, 2)."
            )
        sizes.append(len(group))
    return np.repeat(np.arange(len(sizes)), sizes)


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
    membership, target = validated_rows(P)
    groups = [tuple(np.flatnonzero(m).tolist()) for m in membership]
    return membership, target, groups


def validated_rows(P):
    """``(membership, target)`` of checked group-task rows ``P``: what
    :func:`decode_rows` returns without its per-row group tuples, which cost
    most of a prediction's time on many rows."""
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
    return membership, target


@validate_params(
    {
        "n_tasks": [Interval(Integral, 2, None, closed="left")],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "max_size": [Interval(Integral, 2, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
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
        Number of distinct groups to return: a count of draws (the groups to
        measure). In :class:`GroupSelector` and :func:`search_groups`,
        ``n_groups`` is instead the selection's budget, the most groups kept.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible draws.
    max_size : int, default=None
        Largest group size; ``None`` allows all tasks in one group.

    Returns
    -------
    groups : list of tuple of int
        Distinct sorted groups.

    See Also
    --------
    all_groups : Every group, when all of them are wanted.
    encode_groups : The rows of the drawn groups.

    Examples
    --------
    >>> from sklearn_etap import sample_groups
    >>> groups = sample_groups(5, 3, random_state=0)
    >>> len(groups), all(len(g) >= 2 for g in groups)
    (3, True)
    """
    n_tasks, n_groups = int(n_tasks), int(n_groups)
    max_size = n_tasks if max_size is None else int(max_size)
    if max_size > n_tasks:
        raise ValueError(
            f"max_size={max_size} exceeds n_tasks={n_tasks}; pass at most "
            f"{n_tasks} (or None for groups of every size)."
        )
    sizes = np.arange(2, max_size + 1)
    counts = [comb(n_tasks, int(k)) for k in sizes]
    available = sum(counts)
    # exact integers divided once: no float overflow however many groups
    size_probability = np.array([c / available for c in counts])
    if n_groups > available:
        raise ValueError(
            f"cannot draw {n_groups} distinct groups: {n_tasks} tasks have "
            f"{available} groups of size 2..{max_size}; lower n_groups."
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
        size = int(rng.choice(sizes, p=size_probability))
        group = tuple(sorted(rng.choice(n_tasks, size=size, replace=False).tolist()))
        if group not in seen:
            seen.add(group)
            chosen.append(group)
    return chosen


@validate_params(
    {
        "n_tasks": [Interval(Integral, 1, None, closed="left")],
        "min_size": [Interval(Integral, 1, None, closed="left")],
        "max_size": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def all_groups(n_tasks, *, min_size=2, max_size=None):
    """Every group of ``min_size`` to ``max_size`` tasks.

    These are the candidate groups :class:`GroupSelector` considers by default
    (with ``min_size=2``; singletons are added as the tasks trained alone).
    There are ``2 ** n_tasks - 1 - n_tasks`` of them with the defaults, so
    limit ``max_size`` beyond a dozen tasks.

    Parameters
    ----------
    n_tasks : int
        Number of tasks.
    min_size : int, default=2
        Smallest group size; 1 includes the singletons.
    max_size : int, default=None
        Largest group size; ``None`` (or anything above ``n_tasks``) allows all
        tasks in one group. Below ``min_size`` the list is empty.

    Returns
    -------
    groups : list of tuple of int
        Sorted groups, by size, then lexicographically within a size.

    See Also
    --------
    sample_groups : A random subset of these groups.
    GroupSelector : Chooses among these candidates.

    Examples
    --------
    >>> from sklearn_etap import all_groups
    >>> all_groups(3)
    [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    >>> all_groups(4, min_size=1, max_size=1)
    [(0,), (1,), (2,), (3,)]
    >>> len(all_groups(10, max_size=3))
    165
    """
    n_tasks = int(n_tasks)
    max_size = n_tasks if max_size is None else min(int(max_size), n_tasks)
    return [
        g
        for k in range(min_size, max_size + 1)
        for g in itertools.combinations(range(n_tasks), k)
    ]
