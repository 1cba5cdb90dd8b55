"""sklearn-etap: predict which tasks to train together (ETAP, ICLR 2026)."""

from ._etap import ETAPRegressor
from ._extractor import TorchAffinityExtractor
from ._group_affinity import group_affinity
from ._gains import measure_gains
from ._groups import encode_groups, sample_groups
from ._measured_gains import MeasuredGains
from ._residual_ridge import ResidualRidge
from ._search import etap_param_grid, make_etap_search
from ._selector import GroupSelector, select_groups
from ._spline_affinity import SplineAffinityRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "ETAPRegressor",
    "GroupSelector",
    "MeasuredGains",
    "ResidualRidge",
    "SplineAffinityRegressor",
    "TorchAffinityExtractor",
    "encode_groups",
    "etap_param_grid",
    "group_affinity",
    "make_etap_search",
    "measure_gains",
    "sample_groups",
    "select_groups",
]
