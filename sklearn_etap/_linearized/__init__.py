"""Gains without training: linearized group fits around the one trained model.

``jacobians`` (per-sample Jacobians, random projection), ``group_fit`` (one
group's linearized fit from per-task blocks), ``estimator``
(``LinearizedGainEstimator``) and ``agreement`` (the trust check).
"""

from .agreement import gain_agreement
from .estimator import LinearizedGainEstimator

__all__ = ["LinearizedGainEstimator", "gain_agreement"]
