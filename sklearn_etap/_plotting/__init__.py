"""Displays in scikit-learn's style: the affinity heatmap, predicted vs measured."""

from .affinity import AffinityMatrixDisplay
from .gain_prediction import GainPredictionDisplay

__all__ = ["AffinityMatrixDisplay", "GainPredictionDisplay"]
