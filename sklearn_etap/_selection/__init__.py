"""Stage 4: choose the groups to train under a budget, exactly.

``entry`` (the one entry point every caller uses: the candidate limit,
``enumerate_candidates`` and ``select_from_gains``), ``problem`` (the
selection problem, its checks and scoring), ``pruning`` (exact pruning),
``solvers`` (MILP, brute force, and ``solve_selection``: cap the budget,
prune, then solve), ``branch_and_bound``, ``from_gains`` (``select_groups``)
``selector`` (``GroupSelector``) and ``size_rule`` (``GroupSizeRule``, the
baseline every recommendation is reported beside).
"""

from .from_gains import select_groups
from .selector import GroupSelector
from .size_rule import GroupSizeRule

__all__ = ["GroupSelector", "GroupSizeRule", "select_groups"]
