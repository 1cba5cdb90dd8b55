"""Scores shared by the gain-prediction benchmarks, so their figures agree."""

import numpy as np


def within_task_r(pred, y, task):
    """Mean over tasks of Pearson r across the task's rows (0 if constant)."""
    rs = []
    for t in np.unique(task):
        m = task == t
        ok = m.sum() > 2 and np.std(pred[m]) > 0 and np.std(y[m]) > 0
        rs.append(float(np.corrcoef(pred[m], y[m])[0, 1]) if ok else 0.0)
    return float(np.mean(rs))


def true_total(gain_of, chosen):
    """True total gain of chosen groups: each task by its best chosen group."""
    best = {}
    for group in chosen:
        for task in group:
            gain = 0.0 if len(group) == 1 else gain_of[(tuple(group), task)]
            best[task] = max(best.get(task, -np.inf), gain)
    return float(sum(best.values()))
