"""The per-task scaling of the affinity, kept for the benchmarks that compare it.

``ETAPRegressor(affinity_scaling=...)`` is deprecated in the library (on the
tuning draws of ``bench_within_task.py`` neither scaling beat the
constant-affinity ablation on any real table, and both lost to the raw
feature on the planted table; ``docs/benchmark_results.md``). The benchmark's
rows ``col_*`` and ``etap_linearized_within`` use this copy, so they keep
running after the library drops the parameter.

Stage 1 then sees the group affinity ``z[G -> t]`` centred and scaled per
target task ``t``: ``"column"`` by the mean and sd of the off-diagonal entries
of the affinity's column ``t``, ``"within_task"`` by the mean and sd of ``z``
over task ``t``'s training rows. Either is an affine map per target task, and
``z`` is a mean over a column of the affinity, so scaling the feature is
scaling each column of the affinity: :class:`ScaledAffinityETAP` hands the
scaled matrix to a plain ``ETAPRegressor``.
"""

import numpy as np

from sklearn_etap import ETAPRegressor, group_affinity

SCALINGS = ("column", "within_task")


def column_moments(affinity):
    """Mean and sd of every column's off-diagonal entries (sd 0 -> 1)."""
    n_tasks = affinity.shape[0]
    if n_tasks < 2:
        return np.zeros(n_tasks), np.ones(n_tasks)
    off = ~np.eye(n_tasks, dtype=bool)
    columns = affinity.T[off.T].reshape(n_tasks, n_tasks - 1)  # row t: A[s, t]
    center, scale = columns.mean(axis=1), columns.std(axis=1)
    return center, np.where(scale > 0, scale, 1.0)


def within_task_moments(z, target, n_tasks):
    """Mean and sd of ``z`` over each target task's rows.

    A task without rows gets the mean over all rows; a task with fewer than
    two rows (or a constant feature) the pooled sd (1 if that is 0).
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


def _target(rows):
    n_tasks = rows.shape[1] // 2
    return rows[:, n_tasks:].argmax(axis=1), n_tasks


class ScaledAffinityETAP:
    """``ETAPRegressor`` on the group affinity scaled per target task.

    With ``affinity`` (an ``(n_tasks, n_tasks)`` matrix), ``X`` is group rows
    ``[u_G | e_t]``; with ``affinity=None``, its first column is the feature
    and the rest group rows (``"within_task"`` only). ``**params`` go to
    ``ETAPRegressor``.
    """

    def __init__(self, affinity=None, scaling="column", **params):
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
        if affinity is None and scaling == "column":
            raise ValueError("scaling='column' needs the affinity matrix")
        self.affinity = affinity
        self.scaling = scaling
        self.params = params

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        if self.affinity is None:
            rows = X[:, 1:]
            target, n_tasks = _target(rows)
            self.center_, self.scale_ = within_task_moments(X[:, 0], target, n_tasks)
            self.model_ = ETAPRegressor(affinity=None, **self.params)
            self.model_.fit(self._scaled_feature(X), y)
            return self
        A = np.asarray(self.affinity, dtype=float)
        if self.scaling == "column":
            self.center_, self.scale_ = column_moments(A)
        else:
            target, n_tasks = _target(X)
            z = group_affinity(A, X)
            self.center_, self.scale_ = within_task_moments(z, target, n_tasks)
        # z[G -> t] is a mean over column t of A, so scaling column t scales it.
        scaled = (A - self.center_[None, :]) / self.scale_[None, :]
        np.fill_diagonal(scaled, 0.0)
        self.model_ = ETAPRegressor(affinity=scaled, **self.params).fit(X, y)
        return self

    def _scaled_feature(self, X):
        target, _ = _target(X[:, 1:])
        z = (X[:, 0] - self.center_[target]) / self.scale_[target]
        return np.hstack([z[:, None], X[:, 1:]])

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        if self.affinity is None:
            return self.model_.predict(self._scaled_feature(X))
        return self.model_.predict(X)
