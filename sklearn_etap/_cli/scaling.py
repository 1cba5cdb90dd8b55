"""How ``etap run`` scales with the number of tasks.

The number of groups to measure, the budget and the largest candidate group
follow the number of tasks unless given, and settings that cannot work are
refused before any training, in the command line's words (the ``--budget``
checks are all in :func:`resolve_settings`). When every group is measured,
:class:`MeasuredGainsTable` stands in for the predictor; beyond
``PER_TASK_MAX_TASKS`` tasks the residual stage shares its coefficients. The
selection itself is in :mod:`.choosing`.
"""

from math import ceil, sqrt

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import Bunch

from .._selection.entry import MAX_CANDIDATES, largest_group_size
from .data import UsageError

#: Fewest groups measured and chosen by default (the values for 10 tasks).
MIN_DEFAULT_GROUPS = 8
MIN_DEFAULT_BUDGET = 3


def n_multitask_groups(n_tasks):
    """Groups of 2 or more of ``n_tasks`` tasks."""
    return 2**n_tasks - n_tasks - 1


def default_groups(n_tasks):
    """Groups measured by default: 8 for up to 16 tasks, then 2 sqrt(n_tasks),
    and never more than exist (2 tasks: the one pair)."""
    wanted = max(MIN_DEFAULT_GROUPS, ceil(2 * sqrt(n_tasks)))
    return min(wanted, n_multitask_groups(n_tasks))


def fewest_groups(n_tasks, max_size):
    """Fewest groups of at most ``max_size`` tasks that cover ``n_tasks``."""
    return ceil(n_tasks / max_size)


def default_budget(n_tasks, max_size):
    """3 groups, or as many as covering the tasks needs, never more than
    the tasks (with one group per task the budget cannot bind)."""
    return min(n_tasks, max(MIN_DEFAULT_BUDGET, fewest_groups(n_tasks, max_size)))


def resolve_settings(options, n_tasks):
    """The groups to measure, the budget and the largest candidate group.

    ``options.groups`` and ``options.budget`` of ``None`` take the defaults
    for ``n_tasks``. Raises :class:`UsageError` naming the flag to change.
    ``exhaustive`` is true when every multi-task group is measured: the
    selection then uses the measured gains and no predictor is fitted.
    """
    available = n_multitask_groups(n_tasks)
    max_size = largest_group_size(n_tasks)
    groups = default_groups(n_tasks) if options.groups is None else options.groups
    if groups < 1:
        raise UsageError(f"--groups {groups}: measure at least 1 group.")
    if groups > available:
        raise UsageError(
            f"--groups {groups}: {n_tasks} tasks have only {available} "
            f"group(s) of 2 or more tasks; give --groups {available} or fewer "
            "(or leave it out)."
        )
    exhaustive = groups == available
    if groups < 2 and not exhaustive:
        raise UsageError(
            f"--groups {groups}: measure at least 2 groups (ETAP is tuned by "
            f"cross-validation over the measured groups), or all {available}."
        )
    needed = fewest_groups(n_tasks, max_size)
    if options.budget is None:
        budget = default_budget(n_tasks, max_size)
    else:
        budget = options.budget
        if budget < 1:
            raise UsageError(f"--budget {budget}: choose at least 1 group.")
        if budget < needed:
            limit = (
                ""
                if max_size == n_tasks
                else f" (the largest size whose candidate groups stay under "
                f"{MAX_CANDIDATES})"
            )
            raise UsageError(
                f"--budget {budget}: covering {n_tasks} tasks with groups of at "
                f"most {max_size} tasks{limit} needs at least {needed} groups; "
                f"give --budget {needed} or more, or leave --budget out (its "
                "default grows with the number of tasks)."
            )
    return Bunch(
        groups=groups,
        budget=budget,
        max_size=max_size,
        exhaustive=exhaustive,
        n_available=available,
    )


class MeasuredGainsTable(RegressorMixin, BaseEstimator):
    """The measured gains in place of a predictor, when every group was
    measured. ``predict`` returns a row's measured gain; for a group left out
    of ``fit`` (the reference answers refit it without each group in turn),
    the task's mean measured gain, 0 for a task never measured."""

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        n_tasks = X.shape[1] // 2
        self.gains_ = {}
        sums, counts = np.zeros(n_tasks), np.zeros(n_tasks)
        for row, value in zip(X, y):
            group, task = _decode(row, n_tasks)
            self.gains_[group, task] = float(value)
            sums[task] += value
            counts[task] += 1
        self.task_mean_ = np.divide(
            sums, counts, out=np.zeros(n_tasks), where=counts > 0
        )
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        n_tasks = X.shape[1] // 2
        out = np.empty(len(X))
        for i, row in enumerate(X):
            group, task = _decode(row, n_tasks)
            out[i] = self.gains_.get((group, task), self.task_mean_[task])
        return out


def _decode(row, n_tasks):
    group = tuple(np.flatnonzero(row[:n_tasks]).tolist())
    return group, int(np.flatnonzero(row[n_tasks:])[0])


#: Most tasks for which the residual stage keeps the official per-task ridge.
PER_TASK_MAX_TASKS = 50


def scale_etap_search(search, n_tasks):
    """Share the residual stage's membership coefficients across target tasks
    beyond ``PER_TASK_MAX_TASKS`` tasks (per-task levels kept).

    The official stage fits ``n_tasks**2`` coefficients: for 100 tasks and
    20 measured groups, 10,000 columns on about 1,000 rows, which no such
    data can pin down, and each such fit is slow (the grid search makes 150).
    """
    if n_tasks <= PER_TASK_MAX_TASKS:
        return search, "per_task"
    from .._prediction import ResidualRidge

    encoding = "membership+task"
    search.set_params(estimator__residual_estimator=ResidualRidge(encoding=encoding))
    return search, encoding
