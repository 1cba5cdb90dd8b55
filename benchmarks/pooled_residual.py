"""The pooled residual stage, kept for the benchmarks that compare against it.

``ResidualRidge(encoding="pooled")`` is deprecated in the library (it lost
within-task r to the default ``"per_task"`` on five of the six tables of the
variants table in ``docs/benchmark_results.md``); the benchmarks' rows
``residual_pooled``, ``flat_pooled`` and ``col_linear_spline_pooled`` use this
copy, so they keep running after the library drops it.

Per target task an unpenalised intercept, membership coefficients shared by
all targets, and per-task deviations from them penalised ``task_penalty``
times more (their columns scaled by ``1 / sqrt(task_penalty)``), plus an
unpenalised group-size term; the penalty, the pooling strength and the size
term are chosen jointly by exact leave-one-group-out error.
"""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_etap._prediction.group_loo import group_loo_errors
from sklearn_etap._prediction.residual_ridge import (
    DEFAULT_ALPHAS,
    GROUP_SIZES,
    INTERCEPT_SCALE,
)
from sklearn_etap._prediction.validation import check_group_rows

# Pooling strengths tried: from per-task coefficients nearly free (0.01) to
# nearly shared (1e4).
TASK_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0, 1e4)


def pooled_features(P, task_penalty, group_size):
    """``[e_t | size | u_G without t | per-task deviations / sqrt(penalty)]``."""
    n_tasks = P.shape[1] // 2
    membership, target = P[:, :n_tasks], P[:, n_tasks:]
    size = membership.sum(axis=1, keepdims=True)
    size = np.log(size) if group_size == "log" else size
    others = membership * (1.0 - target)
    per_task = (target[:, :, None] * others[:, None, :]).reshape(len(P), -1)
    return np.hstack(
        [
            INTERCEPT_SCALE * target,
            INTERCEPT_SCALE * size,
            others,
            per_task / np.sqrt(task_penalty),
        ]
    )


class PooledResidualRidge(RegressorMixin, BaseEstimator):
    """Stage 2 with partial pooling of the per-task membership coefficients."""

    def __init__(self, alphas=DEFAULT_ALPHAS, task_penalties=TASK_PENALTIES):
        self.alphas = alphas
        self.task_penalties = task_penalties

    def fit(self, X, y):
        X, y = validate_data(self, X, y, y_numeric=True)
        groups = check_group_rows(X, "PooledResidualRidge")[2]
        candidates = [(s, p) for s in GROUP_SIZES for p in self.task_penalties]
        errors = np.array(
            [
                group_loo_errors(pooled_features(X, p, s), y, groups, self.alphas)
                for s, p in candidates
            ]
        )
        best, k = np.unravel_index(np.argmin(errors), errors.shape)
        self.group_size_, self.task_penalty_ = candidates[best]
        self.alpha_ = float(self.alphas[k])
        self.ridge_ = Ridge(alpha=self.alpha_, fit_intercept=False, solver="svd")
        self.ridge_.fit(self._features(X), y)
        return self

    def _features(self, X):
        return pooled_features(X, self.task_penalty_, self.group_size_)

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        check_group_rows(X, "PooledResidualRidge")
        return self.ridge_.predict(self._features(X))
