"""sklearn-etap: predict which tasks to train together (ETAP, ICLR 2026)."""

# The pipeline, stage by stage: affinity -> gains -> prediction -> selection.
from ._adaptive import (
    GroupMeasurementError,
    make_measure,
    search_groups,
)
from ._affinity import AffinityRecorder, TorchAffinityExtractor
from ._gains import (
    MeasuredGains,
    TrivialPredictorWarning,
    measure_gains,
    trivial_losses,
)
from ._groups import all_groups, encode_groups, group_row_ids, sample_groups
from ._linearized import LinearizedGainEstimator
from ._plotting import AffinityMatrixDisplay, GainPredictionDisplay
from ._prediction import (
    ETAPRegressor,
    ResidualRidge,
    SplineAffinityRegressor,
    etap_param_grid,
    group_affinity,
    make_etap_search,
)
from ._selection import GroupSelector, GroupSizeRule, select_groups

__version__ = "0.1.0.dev0"

__all__ = [
    "AffinityMatrixDisplay",
    "AffinityRecorder",
    "ETAPRegressor",
    "GainPredictionDisplay",
    "GroupMeasurementError",
    "GroupSelector",
    "GroupSizeRule",
    "LinearizedGainEstimator",
    "MeasuredGains",
    "ResidualRidge",
    "SplineAffinityRegressor",
    "TorchAffinityExtractor",
    "TrivialPredictorWarning",
    "all_groups",
    "encode_groups",
    "etap_param_grid",
    "group_affinity",
    "group_row_ids",
    "make_etap_search",
    "make_measure",
    "measure_gains",
    "sample_groups",
    "search_groups",
    "select_groups",
    "trivial_losses",
]


def __getattr__(name):
    # Deprecated names stay importable without being public (PEP 562).
    if name == "gains_measurer":
        from ._adaptive import gains_measurer

        return gains_measurer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
