"""Stage 2: ground-truth multi-task gains of chosen groups.

``measure`` (inputs, seeds, gains), ``runner`` (the trainings through joblib),
``result`` (``MeasuredGains``), ``cache`` (finished trainings kept on disk as
JSON).
"""

from .measure import measure_gains
from .result import MeasuredGains

__all__ = ["MeasuredGains", "measure_gains"]
