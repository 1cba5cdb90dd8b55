"""Branch and bound for the group-selection problem (after Standley et al.)."""

import time

import numpy as np

from .problem import (
    SelectionTimeoutError,
    check_coverable,
    check_mode,
    evaluate,
    no_selection_error,
    relative_gap,
    usable_budget,
)


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

    The search runs on gains divided by their largest magnitude, so its small
    absolute margins (1e-12) are relative to the gains, whatever their scale;
    the result is scored on the original gains.

    ``time_limit`` (seconds) returns the incumbent with ``optimal=False``
    (unless the bounds of the unexplored branches prove it optimal) and
    ``gap``, its relative distance to the largest bound of the branches left
    unexplored (see :func:`relative_gap`). The budget is capped at what a
    selection can use (:func:`usable_budget`), so the search does not grow
    with an unusable budget.
    """
    check_mode(mode)
    check_coverable(problem, n_groups)
    n_groups = usable_budget(problem, n_groups)
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    scaled, scale = problem.rescaled()
    if mode == "partition":
        search = _PartitionSearch(scaled, n_groups, deadline)
    else:
        search = _OverlapSearch(scaled, n_groups, deadline)
    search.run()
    if search.best_chosen is None:
        if search.timed_out:
            raise SelectionTimeoutError(
                f"the branch and bound found no selection covering every task "
                f"within time_limit={time_limit} s; raise time_limit or use "
                "solver='milp'."
            )
        raise no_selection_error(n_groups, problem.n_tasks, mode)
    result = evaluate(problem, search.best_chosen, mode)
    if search.timed_out:
        # No branch left unexplored can score more than its bound, nor any
        # selection more than every task's best gain.
        trivial = float(scaled.gain.max(axis=0).sum())
        upper = min(trivial, max(search.open_bound, search.best_value)) * scale
        result.gap = relative_gap(result.value, upper)
        result.optimal = result.gap == 0.0
    return result


class _BranchAndBound:
    def __init__(self, problem, n_groups, deadline):
        self.problem = problem
        self.n_groups = n_groups
        self.deadline = deadline
        self.best_value = -np.inf
        self.best_chosen = None
        self.timed_out = False
        # After a time-out: the largest bound of a branch left unexplored.
        self.open_bound = -np.inf

    def out_of_time(self):
        # A node costs far more than reading the clock: check at every one.
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.timed_out = True
        return self.timed_out

    def leave_open(self, bounds):
        """Record the bounds of the branches the time-out leaves unexplored."""
        if len(bounds):
            self.open_bound = max(self.open_bound, float(np.max(bounds)))


class _OverlapSearch(_BranchAndBound):
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
                # -inf where a task is left uncovered
                values = np.maximum(self.gain, kept).sum(axis=1)
                j = int(np.argmax(values))
                if values[j] > best_gain:
                    best_gain, best_swap = values[j], (k, j)
            if best_swap is None or self.out_of_time():
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
            if not chosen:  # the root itself is unexplored
                self.open_bound = np.inf
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
        child_bound = _child_bounds(bound, excess, slots)
        # Each child's subtree can also reach at most every task's best among
        # the chosen, j, and the candidates after j.
        new = np.maximum(candidates, current)
        # (-inf where some task can no longer be covered.)
        reach = np.maximum(new, self.suffix_best[start + 1 :])
        child_bound = np.minimum(child_bound, reach.sum(axis=1))
        wanted = (candidates > current).any(axis=1) & (child_bound > cutoff)
        if chosen:
            wanted &= self._keeps_chosen_useful(chosen, candidates)
        offsets = np.flatnonzero(wanted)
        for k, offset in enumerate(offsets):
            if child_bound[offset] <= self.best_value + 1e-12:
                continue  # the incumbent rose while exploring earlier children
            j = start + int(offset)
            self._expand(j + 1, new[offset], [*chosen, j], u)
            if self.timed_out:  # this child's subtree and the later ones are open
                self.leave_open(child_bound[offsets[k:]])
                return

    def _lagrangian(self, start, chosen, slots, u, iterations):
        """Smallest Lagrangian bound found by subgradient steps from ``u``.

        Returns the bound, its multipliers and each later candidate's excess
        ``sum_t max(0, gain - u_t)`` under them.
        """
        remaining = self.gain[start:]
        fixed = self.gain[chosen]

        def relaxation(u):
            over = remaining - u
            excess = np.maximum(over, 0.0).sum(axis=1)
            top = _largest(excess, slots)
            fixed_over = fixed - u
            bound = u.sum() + np.maximum(fixed_over, 0.0).sum() + excess[top].sum()
            top = top[excess[top] > 0]
            served = (fixed_over > 0).sum(axis=0) + (over[top] > 0).sum(axis=0)
            return bound, excess, 1.0 - served

        return _smallest_bound(relaxation, u, self.best_value, iterations)

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


class _PartitionSearch(_BranchAndBound):
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
            if not chosen:
                self.open_bound = np.inf
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
        child_bound = _child_bounds(bound, reduced, slots)
        task = int(np.argmax(uncovered))
        children = np.flatnonzero(self.member[open_idx, task] & (child_bound > cutoff))
        ordered = children[np.argsort(-self.totals[open_idx[children]], kind="stable")]
        for i, k in enumerate(ordered):
            if child_bound[k] <= self.best_value + 1e-12:
                continue
            c = int(open_idx[k])
            self._descend(
                covered | self.member[c], [*chosen, c], value + self.totals[c], u
            )
            if self.timed_out:
                self.leave_open(child_bound[ordered[i:]])
                return

    def _lagrangian(self, open_idx, uncovered, slots, value, u, iterations):
        """Smallest Lagrangian bound found by subgradient steps from ``u``.

        Returns the bound, its multipliers and each open candidate's reduced
        total under them.
        """
        member = self.member_float[open_idx]
        totals = self.totals[open_idx]

        def relaxation(u):
            reduced = totals - member @ u
            positive = np.maximum(reduced, 0.0)
            top = _largest(positive, slots)
            bound = value + u.sum() + positive[top].sum()
            top = top[positive[top] > 0]
            return bound, reduced, (1.0 - member[top].sum(axis=0)) * uncovered

        return _smallest_bound(relaxation, u, self.best_value, iterations)


def _largest(values, k):
    """Indices of the ``k`` largest ``values`` (all of them if fewer)."""
    if len(values) > k:
        return np.argpartition(values, len(values) - k)[-k:]
    return np.arange(len(values))


def _child_bounds(bound, own, slots):
    """Bound of each child that fixes one more candidate.

    ``bound`` counts the best ``slots`` positive terms ``max(0, own)``; a child
    fixing ``j`` counts ``own[j]`` instead, plus at most the best
    ``slots - 1`` terms.
    """
    ranked = np.sort(np.maximum(own, 0.0))
    rest = ranked[max(len(ranked) - slots + 1, 0) :].sum()
    return bound - ranked[-slots:].sum() + own + rest


def _smallest_bound(relaxation, u, target, iterations):
    """Subgradient descent on the Lagrangian multipliers ``u``.

    ``relaxation(u)`` returns the bound under ``u``, per-candidate terms kept
    with the best bound, and the step direction (one minus how many times
    each task is served in the relaxed optimum). Steps follow Polyak's rule
    towards ``target`` (the incumbent), halving after three steps without
    progress; the descent stops once the bound cannot beat the target.
    Returns ``(bound, u, terms)`` of the smallest bound found.
    """
    best = (np.inf, u, None)
    scale, stall = 1.0, 0
    for _ in range(iterations):
        bound, terms, direction = relaxation(u)
        if bound < best[0] - 1e-12:
            best, stall = (bound, u, terms), 0
        else:
            stall += 1
            if stall >= 3:
                scale, stall = scale / 2, 0
        if best[0] <= target + 1e-12 or not np.isfinite(target):
            break
        norm = float(direction @ direction)
        if norm == 0:
            break
        u = u - scale * (bound - target) / norm * direction
    return best
