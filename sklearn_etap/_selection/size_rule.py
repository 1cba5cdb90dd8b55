"""The group-size rule: the baseline every recommendation is reported beside."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression
from sklearn.utils.validation import check_is_fitted, validate_data


class GroupSizeRule(RegressorMixin, BaseEstimator):
    """Predict a gain from the target task and the group's size alone.

    ``predict`` gives ``a_t + b * |G|`` for the row of task ``t`` in group
    ``G``: one mean level per task plus one slope on group size shared by
    all tasks, fitted by least squares on measured gains. It knows nothing
    of which tasks are in the group, so it is the answer any
    affinity-based predictor has to beat; ``etap run`` reports its selection
    beside every recommendation. Pass it to :class:`GroupSelector` (or as
    ``search_groups(..., estimator=GroupSizeRule())``) to get the same
    baseline in Python.

    Attributes
    ----------
    task_level_ : ndarray of shape (n_tasks,)
        ``a_t``: each task's level.
    size_slope_ : float
        ``b``: the change of a task's gain per extra member.
    n_features_in_ : int
        ``2 * n_tasks``: the width of the rows seen in ``fit``.

    See Also
    --------
    GroupSelector : Select groups from this (or any) predictor's gains.
    encode_groups : The group-task rows ``[u_G | e_t]`` it reads.

    Examples
    --------
    >>> from sklearn_etap import GroupSelector, GroupSizeRule, encode_groups
    >>> groups = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    >>> P = encode_groups(groups, n_tasks=3)
    >>> y = [0.2, 0.1, 0.2, 0.0, 0.1, 0.0, 0.3, 0.2, 0.1]
    >>> rule = GroupSizeRule().fit(P, y)
    >>> round(rule.size_slope_, 3)
    0.1
    >>> GroupSelector(GroupSizeRule(), n_groups=1).fit(P, y).groups_
    [(0, 1, 2)]
    """

    def fit(self, X, y):
        """Fit the task levels and the shared size slope.

        Parameters
        ----------
        X : array-like of shape (n_rows, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]`` from :func:`encode_groups`.
        y : array-like of shape (n_rows,)
            Measured gain of each row.

        Returns
        -------
        self : GroupSizeRule
            The fitted rule.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        self.linear_ = LinearRegression(fit_intercept=False).fit(self._features(X), y)
        self.task_level_ = self.linear_.coef_[:-1]
        self.size_slope_ = float(self.linear_.coef_[-1])
        return self

    def predict(self, X):
        """Predicted gain of every group-task row.

        Parameters
        ----------
        X : array-like of shape (n_rows, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]``.

        Returns
        -------
        y : ndarray of shape (n_rows,)
            ``a_t + b * |G|`` for each row.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.linear_.predict(self._features(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # a deliberately poor model: levels and one slope, nothing of membership
        tags.regressor_tags.poor_score = True
        return tags

    @staticmethod
    def _features(X):
        n_tasks = X.shape[1] // 2
        return np.column_stack([X[:, n_tasks:], X[:, :n_tasks].sum(axis=1)])
