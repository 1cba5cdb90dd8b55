"""Choosing which groups to measure: an adaptive measure, predict, select loop.

``loop`` (``search_groups``), ``strategies`` (which groups to measure next),
``predictor`` (the gain predictor refitted every round), ``measure`` (the
``measure`` callable: checking it, ``gains_measurer``, the error that keeps
what was measured).
"""

from .loop import search_groups
from .measure import GroupMeasurementError, gains_measurer

__all__ = ["GroupMeasurementError", "gains_measurer", "search_groups"]
