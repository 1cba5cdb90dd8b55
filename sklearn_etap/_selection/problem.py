"""The group-selection problem, its checks, scoring and exact pruning.

``candidates`` is a list of task groups, each with a gain per member task.
Choose at most ``n_groups`` of them so that every task is covered and the
total gain is maximal.

* ``mode="overlap"`` (the paper's): chosen groups may share tasks; each task
  scores the best gain it has among the chosen groups that contain it.
* ``mode="partition"``: chosen groups are disjoint and cover every task once;
  each task scores its gain in its group.

The solvers are in :mod:`.solvers` (MILP, brute force) and
:mod:`.branch_and_bound`; none of this depends on an estimator.
"""

from dataclasses import dataclass

import numpy as np

MODES = ("overlap", "partition")


@dataclass
class SelectionProblem:
    """Candidate groups and their per-member gains.

    Attributes
    ----------
    n_tasks : int
    candidates : list of tuple of int
        Distinct sorted groups.
    gain : ndarray of shape (n_candidates, n_tasks)
        ``gain[c, t]`` is task ``t``'s gain in candidate ``c``; ``-inf`` where
        ``t`` is not a member.
    """

    n_tasks: int
    candidates: list
    gain: np.ndarray

    @classmethod
    def from_lists(cls, candidates, member_gains, n_tasks):
        """Build from groups and, per group, the gains of its sorted members."""
        gain = np.full((len(candidates), n_tasks), -np.inf)
        for c, (group, values) in enumerate(zip(candidates, member_gains)):
            gain[c, list(group)] = values
        return cls(n_tasks, list(candidates), gain)

    @property
    def membership(self):
        return np.isfinite(self.gain)

    def subset(self, keep):
        keep = np.asarray(keep)
        return SelectionProblem(
            self.n_tasks, [self.candidates[i] for i in keep], self.gain[keep]
        )


@dataclass
class SelectionResult:
    """A solved selection.

    Attributes
    ----------
    chosen : list of int
        Indices of the chosen candidates, ascending; in overlap mode only
        groups that are some task's best are kept.
    task_choice : ndarray of int, shape (n_tasks,)
        Index (into ``chosen``) of the group each task is scored by.
    task_gain : ndarray of shape (n_tasks,)
        Each task's gain in that group.
    value : float
        ``task_gain.sum()``.
    optimal : bool
        Whether the solver proved optimality (False only after a time limit).
    """

    chosen: list
    task_choice: np.ndarray
    task_gain: np.ndarray
    value: float
    optimal: bool = True


class InfeasibleSelectionError(ValueError):
    """No set of at most ``n_groups`` candidates covers every task."""


def check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")


def evaluate(problem, chosen, mode):
    """Score a set of chosen candidates; ``None`` if it is not a valid cover.

    Returns a :class:`SelectionResult` with unused groups dropped (overlap).
    """
    chosen = sorted(int(c) for c in chosen)
    if not chosen:
        return None
    gains = problem.gain[chosen]
    if mode == "partition":
        if not np.array_equal(np.isfinite(gains).sum(axis=0), np.ones(problem.n_tasks)):
            return None
    elif not np.isfinite(gains).any(axis=0).all():
        return None
    best = gains.argmax(axis=0)
    used = np.unique(best)
    kept = [chosen[i] for i in used]
    task_choice = np.searchsorted(used, best)
    task_gain = gains[best, np.arange(problem.n_tasks)]
    return SelectionResult(kept, task_choice, task_gain, float(task_gain.sum()))


def min_groups_needed(problem):
    """A lower bound on how many candidates any cover of all tasks needs."""
    largest = int(problem.membership.sum(axis=1).max())
    return -(-problem.n_tasks // largest)


def check_coverable(problem, n_groups):
    """Raise a clear error for tasks without candidates or a too-small budget."""
    covered = problem.membership.any(axis=0)
    if not covered.all():
        missing = np.flatnonzero(~covered).tolist()
        raise ValueError(
            f"task(s) {missing} appear in no candidate group, so no selection "
            "covers every task; add groups containing them (or singletons)."
        )
    needed = min_groups_needed(problem)
    if n_groups < needed:
        largest = int(problem.membership.sum(axis=1).max())
        raise InfeasibleSelectionError(
            f"n_groups={n_groups} is too small: covering {problem.n_tasks} tasks "
            f"with groups of at most {largest} tasks needs at least {needed} "
            "groups; raise n_groups or allow larger groups (max_group_size)."
        )


# --------------------------------------------------------------------------
# pruning


def prune_candidates(problem, n_groups, mode):
    """Indices of candidates to keep; the optimum value is unchanged.

    Two exact rules:

    * overlap mode, any budget: a group ``G`` is dropped when a candidate
      ``H = G + {u}`` gives every member of ``G`` at least the same gain.
      Swapping ``G`` for ``H`` in any selection keeps the count, covers more
      and lowers no task's best gain. Only candidates still kept after the
      rule below count as ``H``, and chains of such supersets end in a kept
      group, so every dropped group has a kept replacement.
    * either mode, when ``n_groups >= n_tasks`` and every singleton is a
      candidate with gain 0: the budget cannot bind (an optimal selection
      needs at most one group per task), so a group whose members' gains are
      all ``<= 0`` (overlap) or sum to ``<= 0`` (partition) is dropped: its
      members can be served by their singletons instead.

    Dropping groups with non-positive gains is *not* exact when the budget
    binds (``n_groups < n_tasks``): with ``n_groups=1`` the all-task group must
    be chosen whatever its gains, so that rule is applied only as above.
    """
    check_mode(mode)
    n_cand, n_tasks = problem.gain.shape
    keep = np.ones(n_cand, dtype=bool)
    member = problem.membership
    sizes = member.sum(axis=1)
    singletons = {problem.candidates[c][0]: c for c in np.flatnonzero(sizes == 1)}
    all_singletons_free = len(singletons) == n_tasks and all(
        problem.gain[c].max() == 0.0 for c in singletons.values()
    )
    if all_singletons_free and n_groups >= n_tasks:
        gains = np.where(member, problem.gain, 0.0)
        if mode == "overlap":
            useless = (gains <= 0).all(axis=1)
        else:
            useless = gains.sum(axis=1) <= 0
        keep &= ~useless | (sizes == 1)
    if mode == "overlap":
        # Dominators are taken among the kept groups only: a singleton must
        # not be dropped for a superset that the rule above dropped.
        keep &= ~_dominated_by_superset(problem, keep)
    return np.flatnonzero(keep)


def _dominated_by_superset(problem, keep):
    """Candidates ``G`` with a kept ``G + {u}`` at least as good on ``G``."""
    index = {g: c for c, g in enumerate(problem.candidates) if keep[c]}
    small, large = [], []
    for c, group in enumerate(problem.candidates):
        members = set(group)
        for u in range(problem.n_tasks):
            if u not in members:
                h = index.get(tuple(sorted(members | {u})))
                if h is not None:
                    small.append(c)
                    large.append(h)
    dominated = np.zeros(len(problem.candidates), dtype=bool)
    if small:
        small, large = np.array(small), np.array(large)
        # -inf (non-member) compares >= -inf and is below any finite gain.
        ok = (problem.gain[large] >= problem.gain[small]).all(axis=1)
        dominated[small[ok]] = True
    return dominated
