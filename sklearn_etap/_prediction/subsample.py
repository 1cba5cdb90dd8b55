"""Averaging ETAP over random subsets of the training groups.

With few training groups, the penalties and the group-size term that ETAP's
stages choose by cross-validation jump from one choice to another as single
groups come and go; averaging fits on random subsets of the groups smooths
those jumps (subsampling without replacement, so no group is counted twice).
"""

import numpy as np
from sklearn.utils import check_random_state

# A stage needs at least two groups to choose anything by leaving one out.
MIN_GROUPS = 2


def draw_group_subsets(group_ids, n_subsets, fraction, random_state):
    """Row indices of ``n_subsets`` random subsets of the groups.

    Parameters
    ----------
    group_ids : ndarray of shape (n_rows,)
        Group of every training row; a group's rows are kept or left out
        together.
    n_subsets : int
        Number of subsets.
    fraction : float
        Share of the groups in each subset (rounded, at least 2 groups and at
        most all but one).
    random_state : int, RandomState instance or None
        Draws the subsets.

    Returns
    -------
    subsets : list of ndarray of int
        Row indices of each subset.
    """
    groups = np.unique(group_ids)
    if len(groups) <= MIN_GROUPS:
        raise ValueError(
            f"n_subsamples > 1 averages fits on subsets of the training groups, "
            f"which needs at least {MIN_GROUPS + 1} distinct groups; got "
            f"{len(groups)}. Measure more groups or use n_subsamples=1."
        )
    size = int(np.clip(round(fraction * len(groups)), MIN_GROUPS, len(groups) - 1))
    rng = check_random_state(random_state)
    return [
        np.flatnonzero(np.isin(group_ids, rng.choice(groups, size, replace=False)))
        for _ in range(n_subsets)
    ]


def average_seen(predictions, seen):
    """Mean over the fits that saw each row's target task.

    Parameters
    ----------
    predictions : ndarray of shape (n_fits, n_rows)
        Each fit's predictions.
    seen : ndarray of bool, shape (n_fits, n_rows)
        Whether the fit's subset held the row's target task (a fit that never
        saw a task knows nothing of its level).

    Returns
    -------
    mean : ndarray of shape (n_rows,)
        NaN where no fit saw the row's task.
    """
    counts = seen.sum(axis=0)
    total = np.where(seen, predictions, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / counts, np.nan)
