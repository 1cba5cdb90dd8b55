"""Stage 3: predict the gain of every group from affinity and a few measured gains.

``group_affinity`` (the feature), ``affinity_scaling`` (its per-task
standardization, deprecated), ``spline_affinity`` and ``residual_ridge`` (the two
stages), ``etap`` (the stacked regressor, whose defaults are the documented path),
``group_splits`` (its grouped cross-validation), ``search`` (a thin grid-search
helper over those defaults).
"""

from .etap import ETAPRegressor
from .group_affinity import group_affinity
from .residual_ridge import ResidualRidge
from .search import etap_param_grid, make_etap_search
from .spline_affinity import SplineAffinityRegressor

__all__ = [
    "ETAPRegressor",
    "ResidualRidge",
    "SplineAffinityRegressor",
    "etap_param_grid",
    "group_affinity",
    "make_etap_search",
]
