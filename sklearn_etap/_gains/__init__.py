"""Stage 2: ground-truth multi-task gains of chosen groups.

``measure`` (inputs, seeds, gains), ``runner`` (the trainings through joblib),
``extractor_params`` (what is read of the extractor's parameters, and set),
``result`` (``MeasuredGains``), ``trivial`` (the training mean or base
rate every model must beat), ``cache`` (finished trainings kept on disk as
JSON).
"""

from .measure import measure_gains
from .result import MeasuredGains
from .trivial import TrivialPredictorWarning, trivial_losses

__all__ = [
    "MeasuredGains",
    "TrivialPredictorWarning",
    "measure_gains",
    "trivial_losses",
]
