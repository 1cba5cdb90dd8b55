"""Cross-validation splits that keep every group's rows on one side."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import GroupKFold


def group_splits(cv, groups):
    """Train/test row indices of ``cv`` that never split a group's rows.

    An integer ``k`` means ``GroupKFold(k)``. A splitter (``KFold(5,
    shuffle=True)``, ``LeaveOneGroupOut()``, ...) splits the distinct groups,
    and each group brings all its rows. An iterable of index pairs is used as
    given, but refused if a split puts rows of one group on both sides.
    """
    if isinstance(cv, Integral):
        return list(GroupKFold(n_splits=cv).split(groups, groups=groups))
    if hasattr(cv, "split"):
        unique = np.unique(groups)
        with warnings.catch_warnings():  # KFold & co. ignore groups, and say so
            warnings.filterwarnings("ignore", "The groups parameter is ignored")
            parts = list(cv.split(unique.reshape(-1, 1), groups=unique))
        return [
            (
                np.flatnonzero(np.isin(groups, unique[train])),
                np.flatnonzero(np.isin(groups, unique[test])),
            )
            for train, test in parts
        ]
    splits = [(np.asarray(train), np.asarray(test)) for train, test in cv]
    for k, (train, test) in enumerate(splits):
        if np.intersect1d(groups[train], groups[test]).size:
            raise ValueError(
                f"cv split {k} puts rows of one group in both its training and "
                "its test part; the out-of-fold residuals would leak. Pass an "
                "integer or a splitter: ETAPRegressor splits by group itself."
            )
    return splits
