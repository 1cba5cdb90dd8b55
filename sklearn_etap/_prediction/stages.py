"""ETAPRegressor's stages: what ``None`` stands for, and what they read.

``default_stages`` is the one definition of the defaults (``make_etap_search``
builds from it too); ``reads_group_rows`` decides from a residual stage alone,
never from the data, whether the columns it gets are group-task rows.
"""

import numpy as np

from .residual_ridge import ResidualRidge
from .spline_affinity import SplineAffinityRegressor


def distinct_row_ids(rows):
    """One id per distinct row: the groups of columns that are not group rows."""
    _, ids = np.unique(rows, axis=0, return_inverse=True)
    return ids.ravel()


def within_task(y, target):
    """``y`` minus each target task's mean over the rows."""
    means = np.bincount(target, weights=y) / np.maximum(np.bincount(target), 1)
    return y - means[target]


def reads_group_rows(affinity, residual_estimator):
    """Whether ETAPRegressor's stage-2 columns are group-task rows ``[u_G | e_t]``.

    Decided from the parameters alone, never from the data: with an
    ``affinity`` matrix, ``X`` is group rows; without, the columns after the
    affinity column are group rows when the residual stage reads them:
    ``None`` (``ResidualRidge()``) or a ``ResidualRidge`` with any encoding
    but ``"passthrough"``. Any other regressor takes columns as given.
    """
    if affinity is not None or residual_estimator is None:
        return True
    return (
        isinstance(residual_estimator, ResidualRidge)
        and residual_estimator.encoding != "passthrough"
    )


def default_stages():
    """The stages ``None`` stands for: ``(SplineAffinityRegressor(), ResidualRidge())``.

    The one place that says what ETAP's defaults are; ``make_etap_search``
    builds its estimator from it, so the two cannot disagree.
    """
    return SplineAffinityRegressor(), ResidualRidge()
