"""How well estimated gains agree with measured ones: the trust check."""

import numpy as np


def _pearson(a, b):
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def gain_agreement(estimated, measured, task):
    """Pooled and within-task Pearson r between estimated and measured gains.

    Parameters
    ----------
    estimated, measured : array-like of shape (n_rows,)
        Gains of the same group-task rows.
    task : array-like of shape (n_rows,)
        The target task of every row.

    Returns
    -------
    agreement : dict
        ``pooled_r`` (over all rows), ``within_task_r`` (mean over tasks of
        r across that task's rows: whether the estimate ranks a task's groups
        as training does), ``n_rows`` and ``n_tasks_scored`` (tasks with 3 or
        more rows and non-constant gains, the ones ``within_task_r``
        averages). A figure that cannot be computed is NaN.
    """
    estimated = np.asarray(estimated, dtype=float)
    measured = np.asarray(measured, dtype=float)
    task = np.asarray(task)
    if not (estimated.shape == measured.shape == task.shape) or estimated.ndim != 1:
        raise ValueError(
            f"estimated, measured and task must be 1-D of one length; got shapes "
            f"{estimated.shape}, {measured.shape} and {task.shape}."
        )
    per_task = [
        _pearson(estimated[task == t], measured[task == t]) for t in np.unique(task)
    ]
    scored = [r for r in per_task if not np.isnan(r)]
    return {
        "pooled_r": _pearson(estimated, measured),
        "within_task_r": float(np.mean(scored)) if scored else np.nan,
        "n_rows": int(len(measured)),
        "n_tasks_scored": len(scored),
    }
