"""Stage 4: choose the groups to train under a budget, exactly.

``problem`` (the selection problem, its checks and scoring), ``pruning`` (exact
pruning), ``solvers`` (MILP, brute force, and ``solve_selection``: prune, then
solve), ``branch_and_bound``, ``from_gains`` (``select_groups``) and
``selector`` (``GroupSelector``).
"""

from .from_gains import select_groups
from .selector import GroupSelector

__all__ = ["GroupSelector", "select_groups"]
