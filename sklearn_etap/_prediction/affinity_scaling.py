"""Per-target-task centre and scale of the affinity feature (``affinity_scaling``).

Deprecated with ``affinity_scaling`` (removed in 0.2); the benchmarks keep
their own copy (``benchmarks/affinity_scaling.py``).
"""

import numpy as np


def column_moments(affinity):
    """Mean and sd of every column's off-diagonal entries (sd 0 -> 1).

    Parameters
    ----------
    affinity : ndarray of shape (n_tasks, n_tasks)
        Validated affinity matrix.

    Returns
    -------
    center, scale : ndarray of shape (n_tasks,)
        For target task ``t``, the mean and standard deviation of
        ``affinity[s, t]`` over ``s != t``.
    """
    n_tasks = affinity.shape[0]
    if n_tasks < 2:
        return np.zeros(n_tasks), np.ones(n_tasks)
    off = ~np.eye(n_tasks, dtype=bool)
    columns = affinity.T[off.T].reshape(n_tasks, n_tasks - 1)  # row t: A[s, t]
    center, scale = columns.mean(axis=1), columns.std(axis=1)
    return center, np.where(scale > 0, scale, 1.0)


def within_task_moments(z, target, n_tasks):
    """Mean and sd of the feature ``z`` over each target task's rows.

    A task without rows gets the mean over all rows; a task with fewer than
    two rows (or a constant feature) the pooled sd (1 if that is 0).

    Parameters
    ----------
    z : ndarray of shape (n_rows,)
        The affinity feature of the training rows.
    target : ndarray of int, shape (n_rows,)
        Each row's target task.
    n_tasks : int
        Number of tasks.

    Returns
    -------
    center, scale : ndarray of shape (n_tasks,)
    """
    pooled_sd = np.std(z) if np.std(z) > 0 else 1.0
    center = np.full(n_tasks, np.mean(z))
    scale = np.full(n_tasks, pooled_sd)
    for t in np.unique(target):
        zt = z[target == t]
        center[t] = zt.mean()
        if len(zt) > 1:
            scale[t] = zt.std() if zt.std() > 0 else 1.0
    return center, scale


def fit_scaling(mode, affinity, z, target, n_tasks):
    """``(center, scale)`` per target task for ``mode``, or ``(None, None)``.

    ``"column"`` needs ``affinity`` (else it falls back to ``"within_task"``);
    both need group rows (``target`` not None).
    """
    if mode is None or target is None:
        return None, None
    if mode == "column" and affinity is not None:
        return column_moments(affinity)
    return within_task_moments(z, target, n_tasks)


def scale_feature(z, target, center, scale):
    """The feature column ``z`` centred and scaled by its row's target task."""
    return ((z[:, 0] - center[target]) / scale[target]).reshape(-1, 1)
