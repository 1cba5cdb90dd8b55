"""Choosing which groups to measure: an adaptive measure, predict, select loop.

``loop`` (``search_groups``), ``inputs`` (its checks and defaults),
``strategies`` (which groups to measure next),
``predictor`` (the gain predictor refitted every round), ``measure`` (the
``measure`` callable: checking it, ``make_measure``, the error that keeps
what was measured).
"""

from .loop import search_groups
from .measure import GroupMeasurementError, gains_measurer, make_measure

__all__ = ["GroupMeasurementError", "gains_measurer", "make_measure", "search_groups"]
