"""Stage 2 of ETAP: ridge regression on the group encoding."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

ENCODINGS = ("membership", "membership+task", "interaction", "passthrough")


def residual_features(P, encoding):
    """The columns the residual ridge sees for group-task rows ``P``.

    Parameters
    ----------
    P : ndarray of shape (n_rows, 2 * n_tasks)
        Rows ``[u_G | e_t]``.
    encoding : {"membership", "membership+task", "interaction", "passthrough"}
        ``"membership"``: ``u_G`` only (the paper's choice); one coefficient
        per task: what having that task in the group does to any member.
        ``"membership+task"``: ``[u_G | e_t]``, adding a per-target offset.
        ``"interaction"``: ``[u_G | e_t | u_G (x) e_t]``, adding what each
        member does to each target task (``n_tasks ** 2`` more columns).
        ``"passthrough"``: the columns as given, for encodings of one's own.
    """
    if encoding == "passthrough":
        return P
    n_tasks = P.shape[1] // 2
    membership, target = P[:, :n_tasks], P[:, n_tasks:]
    if encoding == "membership":
        return membership
    if encoding == "membership+task":
        return P
    pairs = (membership[:, :, None] * target[:, None, :]).reshape(len(P), -1)
    return np.hstack([P, pairs])


class ResidualRidge(RegressorMixin, BaseEstimator):
    """Ridge regression of (stage-1 residual) gains on the group encoding.

    ETAP's second stage. The affinity stage cannot tell two groups with the
    same affinity apart; this stage learns what the membership of particular
    tasks adds, from the residuals of the first stage. Its input is the
    group-task rows ``[u_G | e_t]`` made by :func:`encode_groups` (an even
    number of columns), or any encoding of one's own with
    ``encoding="passthrough"``.

    Parameters
    ----------
    alpha : float, default=1.0
        Ridge penalty (the intercept is not penalised).
    encoding : {"membership", "membership+task", "interaction", "passthrough"}, \
            default="membership"
        The features built from each row ``[u_G | e_t]``: the membership
        vector ``u_G`` alone (the paper's), membership plus the one-hot target
        task, or those plus all membership-by-target products; or
        ``"passthrough"``: the input columns unchanged, whatever they are. See
        ``residual_features`` in this module.

    Attributes
    ----------
    ridge_ : Ridge
        The fitted ridge on the encoded features.
    n_tasks_ : int or None
        Number of tasks, half the number of input columns (``None`` with
        ``encoding="passthrough"``).
    n_features_in_ : int
        Number of input columns seen in ``fit`` (``2 * n_tasks_``).
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.

    See Also
    --------
    ETAPRegressor : Fits this stage on the residuals of the affinity stage.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import ResidualRidge, encode_groups
    >>> P = encode_groups([(0, 1), (0, 2), (1, 2), (0, 1, 2)], n_tasks=3)
    >>> y = 0.5 * P[:, 2]          # having task 2 in the group adds 0.5
    >>> reg = ResidualRidge(alpha=1e-6).fit(P, y)
    >>> np.round(reg.ridge_.coef_, 3)
    array([0. , 0. , 0.5])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "encoding": [StrOptions(set(ENCODINGS))],
    }

    def __init__(self, alpha=1.0, encoding="membership"):
        self.alpha = alpha
        self.encoding = encoding

    def _encode(self, X):
        return residual_features(X, self.encoding)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the ridge on the encoded group-task rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]``.
        y : array-like of shape (n_samples,)
            Targets, typically the residuals of the affinity stage.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        if self.encoding != "passthrough" and X.shape[1] % 2:
            raise ValueError(
                f"ResidualRidge expects group-task rows [u_G | e_t] with "
                f"2 * n_tasks columns; got {X.shape[1]} feature(s), an odd number. "
                "Use encoding='passthrough' for an encoding of your own."
            )
        self.n_tasks_ = None if self.encoding == "passthrough" else X.shape[1] // 2
        self.ridge_ = Ridge(alpha=self.alpha).fit(
            self._encode(X), y, sample_weight=sample_weight
        )
        return self

    def predict(self, X):
        """Predict from group-task rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.ridge_.predict(self._encode(X))
