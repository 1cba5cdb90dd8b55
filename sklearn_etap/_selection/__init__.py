"""Stage 4: choose the groups to train under a budget, exactly.

``problem`` (the selection problem and its pruning), ``solvers`` (MILP, brute force),
``branch_and_bound``, ``selector`` (``GroupSelector`` and ``select_groups``).
"""

from .selector import GroupSelector, select_groups

__all__ = ["GroupSelector", "select_groups"]
