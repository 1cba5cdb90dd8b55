"""Exact solvers for choosing which task groups to train.

The problem, independent of any estimator: ``candidates`` is a list of task
groups, each with a gain per member task. Choose at most ``n_groups`` of them
so that every task is covered and the total gain is maximal.

* ``mode="overlap"`` (the paper's): chosen groups may share tasks; each task
  scores the best gain it has among the chosen groups that contain it.
* ``mode="partition"``: chosen groups are disjoint and cover every task once;
  each task scores its gain in its group.

Three solvers return the same optimum value (ties may pick different groups):
``solve_milp`` (scipy's ``milp``, HiGHS), ``solve_branch_and_bound`` (in the
spirit of Standley et al., 2020, "Which tasks should be learned together in
multi-task learning?") and ``solve_brute_force`` (tiny problems only; the
reference in tests). ``prune_candidates`` removes candidates that provably
cannot change the optimum value.
"""

import itertools
import time
from dataclasses import dataclass
from math import comb

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

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
      and lowers no task's best gain. Chains of such supersets end in a kept
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
        keep &= ~_dominated_by_superset(problem)
    return np.flatnonzero(keep)


def _dominated_by_superset(problem):
    index = {g: c for c, g in enumerate(problem.candidates)}
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
# branch and bound


def solve_branch_and_bound(problem, n_groups, mode="overlap", *, time_limit=None):
    """Depth-first branch and bound (after Standley et al., 2020).

    Standley et al. choose task groups by enumerating sets of candidates with
    a bound on what the remaining choices can add; this follows that scheme
    with stronger bounds.

    Overlap mode: candidates are sorted by their total positive gain; a node
    is a set of chosen candidates and its children add one later candidate.
    The incumbent is seeded greedily. A set in which some chosen group is no
    task's strict best is skipped: the same set without that group has the
    same value and is visited too. Partition mode: the lowest uncovered task
    is given each candidate disjoint from the chosen ones that contains it,
    best total first.

    Both modes cut a branch when its bound cannot beat the incumbent, or when
    uncovered tasks can no longer be covered. The bound is the Lagrangian
    relaxation of "each task is scored by exactly one group", valid for any
    multipliers and tightened by a few subgradient steps warm-started from the
    parent (the classical bound for budgeted facility location and set
    partitioning). With multipliers at the tasks' current gains it is the
    "each remaining slot adds its best single improvement" bound; in overlap
    mode every child is also bounded by each task's best gain among the
    chosen, the child and all later candidates.

    ``time_limit`` (seconds) returns the incumbent with ``optimal=False``.
    """
    check_mode(mode)
    check_coverable(problem, n_groups)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    if mode == "partition":
        search = _PartitionSearch(problem, n_groups, deadline)
    else:
        search = _OverlapSearch(problem, n_groups, deadline)
    search.run()
    if search.best_chosen is None:
        if search.timed_out:
            raise RuntimeError(
                "branch and bound hit its time limit before any solution."
            )
        raise InfeasibleSelectionError(
            f"no selection of at most {n_groups} candidate groups covers all "
            f"{problem.n_tasks} tasks in mode={mode!r}; raise n_groups or add "
            "candidate groups."
        )
    result = evaluate(problem, search.best_chosen, mode)
    result.optimal = not search.timed_out
    return result


class _Search:
    def __init__(self, problem, n_groups, deadline):
        self.problem = problem
        self.n_groups = n_groups
        self.deadline = deadline
        self.best_value = -np.inf
        self.best_chosen = None
        self.timed_out = False
        self._ticks = 0

    def out_of_time(self):
        if self.deadline is None:
            return False
        self._ticks += 1
        if self._ticks % 256 == 0 and time.perf_counter() > self.deadline:
            self.timed_out = True
        return self.timed_out


class _OverlapSearch(_Search):
    """Search over chosen sets; a node's children add one later candidate."""

    def run(self):
        gain = self.problem.gain
        positive = np.where(np.isfinite(gain), np.maximum(gain, 0), 0).sum(axis=1)
        self.order = np.argsort(-positive, kind="stable")
        self.gain = gain[self.order]
        n_tasks = self.problem.n_tasks
        # suffix_best[i, t]: best gain of t among candidates order[i:].
        suffix = np.maximum.accumulate(self.gain[::-1], axis=0)[::-1]
        self.suffix_best = np.vstack([suffix, np.full(n_tasks, -np.inf)])
        self.largest = int(self.problem.membership.sum(axis=1).max())
        self._seed_incumbent()
        self._expand(0, np.full(n_tasks, -np.inf), [])

    def _seed_incumbent(self):
        # Greedy: newly covered tasks first, then the rise in total gain.
        current = np.full(self.problem.n_tasks, -np.inf)
        chosen = []
        for _ in range(self.n_groups):
            covered = np.isfinite(current)
            new = np.maximum(self.gain, current)
            newly = (np.isfinite(new) & ~covered).sum(axis=1)
            rise = np.where(np.isfinite(new), new, 0.0).sum(axis=1)
            pick = int(np.lexsort((-rise, -newly))[0])
            chosen.append(pick)
            current = np.maximum(current, self.gain[pick])
        if np.isfinite(current).all():
            self._record(chosen, current)
            self._improve_by_swaps(chosen)

    def _improve_by_swaps(self, chosen):
        """Swap one chosen group for another while that raises the total."""
        chosen = list(chosen)
        rows = self.gain[chosen]
        for _ in range(100):
            best_gain, best_swap = self.best_value + 1e-12, None
            for k in range(len(chosen)):
                rest = np.delete(rows, k, axis=0)
                kept = rest.max(axis=0) if len(rest) else np.full(len(rows[0]), -np.inf)
                totals = np.maximum(self.gain, kept)
                valid = np.isfinite(totals).all(axis=1)
                values = np.where(
                    valid, np.where(valid[:, None], totals, 0).sum(axis=1), -np.inf
                )
                j = int(np.argmax(values))
                if values[j] > best_gain:
                    best_gain, best_swap = values[j], (k, j)
            if best_swap is None:
                return
            k, j = best_swap
            chosen[k] = j
            rows = self.gain[chosen]
            self._record(chosen, rows.max(axis=0))

    def _record(self, chosen, current):
        value = float(current.sum())
        if value > self.best_value:
            self.best_value = value
            self.best_chosen = sorted({int(self.order[i]) for i in chosen})

    def _expand(self, start, current, chosen, multipliers=None):
        """Explore every superset of ``chosen`` adding candidates ``>= start``."""
        if self.out_of_time():
            return
        covered = np.isfinite(current)
        if covered.all():
            self._record(chosen, current)
        slots = self.n_groups - len(chosen)
        if slots == 0 or start == len(self.gain):
            return
        if slots * self.largest < int((~covered).sum()):
            return
        # Lagrangian bound (budgeted facility location): relaxing "each task
        # is scored by exactly one group" with multipliers u gives, for ANY u,
        #   sum(u) + sum over chosen and the best `slots` later candidates of
        #   sum over members t of max(0, gain - u_t),
        # an upper bound on every selection in this subtree. u = the tasks'
        # current gains is the submodular "best single improvements" bound;
        # a few subgradient steps tighten it towards the LP relaxation.
        if multipliers is None:
            # Each task's best reachable gain: the bound starts at "every task
            # gets its best gain among the chosen and later candidates".
            multipliers = np.maximum(current, self.suffix_best[start])
            if not np.isfinite(multipliers).all():
                return
        cutoff = self.best_value + 1e-12
        iterations = 200 if not chosen else 15
        bound, u, excess = self._lagrangian(
            start, chosen, slots, multipliers, iterations
        )
        if bound <= cutoff:
            return
        candidates = self.gain[start:]
        # Child j fixes j: its bound is at most the constant part, j's own
        # excess, and the best slots - 1 excesses of the others.
        if slots > 1:
            others = np.sort(excess)[-(slots - 1) :].sum()
        else:
            others = 0.0
        child_bound = bound - np.sort(excess)[-slots:].sum() + excess + others
        # Each child's subtree can also reach at most every task's best among
        # the chosen, j, and the candidates after j.
        new = np.maximum(candidates, current)
        reach = np.maximum(new, self.suffix_best[start + 1 :])
        feasible = np.isfinite(reach).all(axis=1)
        reach_bound = np.where(
            feasible, np.where(feasible[:, None], reach, 0).sum(axis=1), -np.inf
        )
        child_bound = np.minimum(child_bound, reach_bound)
        wanted = (candidates > current).any(axis=1) & (child_bound > cutoff)
        if chosen:
            wanted &= self._keeps_chosen_useful(chosen, candidates)
        for offset in np.flatnonzero(wanted):
            if child_bound[offset] <= self.best_value + 1e-12:
                continue  # the incumbent rose while exploring earlier children
            j = start + int(offset)
            self._expand(j + 1, new[offset], [*chosen, j], u)

    def _lagrangian(self, start, chosen, slots, u, iterations):
        """Smallest Lagrangian bound found by subgradient steps from ``u``.

        Returns the bound, its multipliers and each later candidate's excess
        ``sum_t max(0, gain - u_t)`` under them.
        """
        remaining = self.gain[start:]
        fixed = self.gain[chosen]
        target = self.best_value
        best = (np.inf, u, None)
        scale, stall = 1.0, 0
        for _ in range(iterations):
            over = remaining - u
            excess = np.maximum(over, 0.0).sum(axis=1)
            if len(excess) > slots:
                top = np.argpartition(excess, len(excess) - slots)[-slots:]
            else:
                top = np.arange(len(excess))
            fixed_over = fixed - u
            bound = u.sum() + np.maximum(fixed_over, 0.0).sum() + excess[top].sum()
            if bound < best[0] - 1e-12:
                best, stall = (bound, u, excess), 0
            else:
                stall += 1
                if stall >= 3:
                    scale, stall = scale / 2, 0
            if best[0] <= target + 1e-12 or not np.isfinite(target):
                break
            top = top[excess[top] > 0]
            served = (fixed_over > 0).sum(axis=0) + (over[top] > 0).sum(axis=0)
            direction = 1.0 - served
            norm = float(direction @ direction)
            if norm == 0:
                break
            u = u - scale * (bound - target) / norm * direction
        return best

    def _keeps_chosen_useful(self, chosen, candidates):
        """Whether adding each candidate leaves every chosen group some task's
        strict best. A set with a group that is no task's strict best has the
        value of the same set without it, which the search also visits (with
        the same later additions and one slot more), so it can be skipped."""
        rows = self.gain[chosen]
        if len(chosen) == 1:
            others = np.full_like(rows, -np.inf)
        else:
            others = np.stack(
                [np.delete(rows, k, axis=0).max(axis=0) for k in range(len(chosen))]
            )
        strict = rows > others
        still = (candidates[:, None, :] < rows[None]) & strict[None]
        return still.any(axis=2).all(axis=1)


class _PartitionSearch(_Search):
    def run(self):
        gain = self.problem.gain
        member = self.problem.membership
        self.member = member
        self.member_float = member.astype(float)
        self.totals = np.where(member, gain, 0.0).sum(axis=1)
        self.largest = int(member.sum(axis=1).max())
        self._descend(np.zeros(self.problem.n_tasks, dtype=bool), [], 0.0)

    def _descend(self, covered, chosen, value, multipliers=None):
        if self.out_of_time():
            return
        uncovered = ~covered
        if not uncovered.any():
            if value > self.best_value:
                self.best_value = value
                self.best_chosen = list(chosen)
            return
        slots = self.n_groups - len(chosen)
        if slots * self.largest < int(uncovered.sum()):
            return
        # Only candidates disjoint from the chosen groups can still be added.
        open_idx = np.flatnonzero(~self.member[:, covered].any(axis=1))
        if len(open_idx) == 0:
            return
        best_open = self.problem.gain[open_idx].max(axis=0)
        if not np.isfinite(best_open[uncovered]).all():
            return
        cutoff = self.best_value + 1e-12
        # Lagrangian bound: relaxing "each uncovered task in exactly one
        # group" with multipliers u gives, for ANY u, value + sum(u) + the
        # best `slots` positive reduced totals sum_G(gain) - sum_G(u).
        # u = each task's best gain is the plain "best gain per task" bound.
        if multipliers is None:
            multipliers = best_open
        u = np.where(uncovered, multipliers, 0.0)
        iterations = 60 if not chosen else 12
        bound, u, reduced = self._lagrangian(
            open_idx, uncovered, slots, value, u, iterations
        )
        if bound <= cutoff:
            return
        positive = np.sort(np.maximum(reduced, 0.0))
        rest = positive[-(slots - 1) :].sum() if slots > 1 else 0.0
        child_bound = bound - positive[-slots:].sum() + reduced + rest
        task = int(np.argmax(uncovered))
        children = np.flatnonzero(self.member[open_idx, task] & (child_bound > cutoff))
        for k in children[np.argsort(-self.totals[open_idx[children]], kind="stable")]:
            if child_bound[k] <= self.best_value + 1e-12:
                continue
            c = int(open_idx[k])
            self._descend(
                covered | self.member[c], [*chosen, c], value + self.totals[c], u
            )

    def _lagrangian(self, open_idx, uncovered, slots, value, u, iterations):
        """Smallest Lagrangian bound found by subgradient steps from ``u``.

        Returns the bound, its multipliers and each open candidate's reduced
        total under them.
        """
        member = self.member_float[open_idx]
        totals = self.totals[open_idx]
        target = self.best_value
        best = (np.inf, u, None)
        scale, stall = 1.0, 0
        for _ in range(iterations):
            reduced = totals - member @ u
            positive = np.maximum(reduced, 0.0)
            if len(positive) > slots:
                top = np.argpartition(positive, len(positive) - slots)[-slots:]
            else:
                top = np.arange(len(positive))
            bound = value + u.sum() + positive[top].sum()
            if bound < best[0] - 1e-12:
                best, stall = (bound, u, reduced), 0
            else:
                stall += 1
                if stall >= 3:
                    scale, stall = scale / 2, 0
            if best[0] <= target + 1e-12 or not np.isfinite(target):
                break
            top = top[positive[top] > 0]
            direction = (1.0 - member[top].sum(axis=0)) * uncovered
            norm = float(direction @ direction)
            if norm == 0:
                break
            u = u - scale * (bound - target) / norm * direction
        return best


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
            values = gain[chunk].max(axis=1)
            if mode == "partition":
                valid = (member[chunk].sum(axis=1) == 1).all(axis=1)
            else:
                valid = np.isfinite(values).all(axis=1)
            if not valid.any():
                continue
            totals = np.where(
                valid, np.where(valid[:, None], values, 0).sum(axis=1), -np.inf
            )
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
