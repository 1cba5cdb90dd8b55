"""The group-selection problem, its checks, scoring and exact pruning.

``candidates`` is a list of task groups, each with a gain per member task.
Choose at most ``n_groups`` of them so that every task is covered and the
total gain is maximal.

* ``mode="overlap"`` (the paper's): chosen groups may share tasks; each task
  scores the best gain it has among the chosen groups that contain it.
* ``mode="partition"``: chosen groups are disjoint and cover every task once;
  each task scores its gain in its group.

Exact pruning is in :mod:`.pruning`; the solvers are in :mod:`.solvers` (MILP,
brute force, and ``solve_selection``, which prunes then solves) and
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

    def rescaled(self):
        """The problem with gains divided by their largest magnitude, and that divisor.

        Solvers compare gains with fixed tolerances (HiGHS's gaps and feasibility
        tolerance, the bounds' small margins). On gains of 1e-6 those swallow the
        differences between selections, on gains of 1e8 they are below rounding.
        Solving gains of magnitude 1 makes every tolerance relative; dividing by a
        positive number changes no comparison between selections.
        """
        finite = np.abs(self.gain[np.isfinite(self.gain)])
        scale = float(finite.max()) if finite.size else 0.0
        if not scale > 0.0:
            scale = 1.0
        return SelectionProblem(self.n_tasks, self.candidates, self.gain / scale), scale


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
        Whether the solver proved optimality, up to floating-point rounding
        relative to the largest gain (False after a time limit).
    gap : float
        Relative optimality gap: ``(bound - value) / max(|bound|, |value|)``
        for the solver's upper bound on any selection; 0.0 when proven
        optimal.
    bound : float or None
        That upper bound on the original scale, where the solver reports one
        (HiGHS); None otherwise.
    """

    chosen: list
    task_choice: np.ndarray
    task_gain: np.ndarray
    value: float
    optimal: bool = True
    gap: float = 0.0
    bound: float | None = None


class InfeasibleSelectionError(ValueError):
    """No set of at most ``n_groups`` candidates covers every task."""


class SelectionTimeoutError(RuntimeError):
    """The solver's time limit ran out before it found any covering selection.

    Raised from the solver's own status (HiGHS's time-limit status, the
    branch and bound's deadline), never inferred from a message.
    """


def no_selection_error(n_groups, n_tasks, mode):
    """The error every solver raises when no selection fits the budget."""
    covers = "partitions" if mode == "partition" else "covers"
    return InfeasibleSelectionError(
        f"no selection of at most {n_groups} candidate groups {covers} all "
        f"{n_tasks} tasks in mode={mode!r}; raise n_groups or add candidate groups."
    )


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


def usable_budget(problem, n_groups):
    """``n_groups`` capped at the most groups a selection can use.

    Overlap mode keeps only groups that are some task's best, partition mode
    only disjoint non-empty groups: either way at most one group per task,
    and never more than the candidates. A larger budget selects the same.
    """
    return int(min(n_groups, problem.n_tasks, len(problem.candidates)))


def relative_gap(value, bound):
    """``(bound - value) / max(|bound|, |value|)``: 0 when ``value`` reaches
    ``bound``, at most 2 (``value`` and ``bound`` of opposite signs).

    Relative gaps within 1e-9 (rounding) count as 0.
    """
    scale = max(abs(bound), abs(value))
    if not np.isfinite(bound):
        return np.inf
    if scale == 0.0:
        return 0.0
    gap = max(bound - value, 0.0) / scale
    return 0.0 if gap <= 1e-9 else float(gap)
