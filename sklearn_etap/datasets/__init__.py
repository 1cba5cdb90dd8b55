"""Loaders of real multi-task data, split into train and test.

Every loader returns a :class:`~sklearn.utils.Bunch` with ``X_train``,
``Y_train``, ``X_test``, ``Y_test`` (float32; ``Y`` has one column per task,
NaN where a sample has no label for a task), ``task_names``,
``feature_names``, ``task_types`` (``"binary"`` or ``"regression"`` per task)
and ``DESCR``. See ``docs/datasets.md``.
"""

from ._appliances import load_appliances
from ._digits import load_digits_tasks
from ._mhc1 import load_mhc1
from ._ridership import load_ridership
from ._shapes import make_shapes
from ._synthetic import make_task_clusters

__all__ = [
    "load_appliances",
    "load_digits_tasks",
    "load_mhc1",
    "load_ridership",
    "make_shapes",
    "make_task_clusters",
]
