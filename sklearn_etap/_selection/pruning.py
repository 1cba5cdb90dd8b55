"""Exact pruning of the group-selection problem.

Drops candidate groups that provably cannot change the optimum value, before a
solver of :mod:`.solvers` or :mod:`.branch_and_bound` runs.
"""

import numpy as np

from .problem import check_mode


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
