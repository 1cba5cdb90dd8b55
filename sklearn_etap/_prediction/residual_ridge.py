"""Stage 2 of ETAP: ridge regression on features of the group-task rows."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import Interval, StrOptions
from .group_loo import group_loo_errors
from .validation import check_group_rows, check_weights

ENCODINGS = (
    "per_task",
    "membership",
    "membership+task",
    "interaction",
    "passthrough",
)
# Deprecated in 0.1 and removed in 0.2: "pooled" lost within-task accuracy to
# "per_task" on the benchmark tables (docs/benchmark_results.md), and
# task_penalty only served it. Until then both work, with a FutureWarning.
DEPRECATED_ENCODINGS = ("pooled",)
DEPRECATED = "deprecated"
# The official residual stage searches 1e-6 .. 1e2; the larger penalties let
# the search switch the membership columns off (leaving task level and size).
DEFAULT_ALPHAS = tuple(10.0**k for k in range(-6, 5))
# Partial pooling strengths tried when task_penalty=None: from per-task
# coefficients nearly free (0.01, the official per-task ridge) to nearly shared.
TASK_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0, 1e4)
GROUP_SIZES = ("log", "linear")
# Unpenalised columns (intercepts, group size) are multiplied by this, so their
# penalty is alpha * 1e-6: negligible over the alpha grid, while
# leave-one-group-out stays exact and numerically stable.
INTERCEPT_SCALE = 1e3


def _size_column(membership, group_size):
    size = membership.sum(axis=1, keepdims=True)
    return np.log(size) if group_size == "log" else size


def residual_features(P, encoding, task_penalty=10.0, group_size=None):
    """The columns the residual ridge sees for group-task rows ``P``.

    Every encoding starts with intercept columns scaled by ``INTERCEPT_SCALE``
    (effectively unpenalised): one per target task ``e_t`` for ``"per_task"``,
    ``"pooled"`` and ``"membership+task"``, one constant column otherwise.

    Parameters
    ----------
    P : ndarray of shape (n_rows, 2 * n_tasks)
        Rows ``[u_G | e_t]`` (any columns for ``"passthrough"``).
    encoding : str
        ``"per_task"``: each target task its own intercept and its own
        coefficient for every other member (``u_G (x) e_t``, ``t``'s own bit
        left out): the official residual stage, one ridge per target task.
        ``"pooled"`` (deprecated): per-task intercepts, coefficients shared
        by all targets (``u_G``), and per-task deviations from them
        penalised ``task_penalty`` times more.
        ``"membership"``: ``u_G`` only, one shared intercept.
        ``"membership+task"``: per-task intercepts and ``u_G``.
        ``"interaction"``: ``u_G``, ``e_t`` and all ``u_G (x) e_t``, one
        shared intercept and one penalty for all.
        ``"passthrough"``: the columns as given.
    task_penalty : float, default=10.0
        Penalty of the per-task deviations over the shared coefficients'
        (``"pooled"`` only); the deviations' columns are scaled by
        ``1 / sqrt(task_penalty)``.
    group_size : {"log", "linear"} or None, default=None
        Add the group size ``|G|`` (or its log) as an unpenalised column
        shared by all tasks (not with ``"passthrough"``).

    Returns
    -------
    F : ndarray of shape (n_rows, n_columns)
    """
    if encoding == "passthrough":
        return np.hstack([np.full((len(P), 1), INTERCEPT_SCALE), P])
    n_tasks = P.shape[1] // 2
    membership, target = P[:, :n_tasks], P[:, n_tasks:]
    size = (
        np.empty((len(P), 0))
        if group_size is None
        else INTERCEPT_SCALE * _size_column(membership, group_size)
    )
    if encoding == "membership":
        return np.hstack([np.full((len(P), 1), INTERCEPT_SCALE), size, membership])
    intercepts = np.hstack([INTERCEPT_SCALE * target, size])
    # Membership of every *other* task (the target's own bit is its intercept).
    others = membership * (1.0 - target)
    if encoding == "membership+task":
        return np.hstack([intercepts, others])
    # One block of other-member coefficients per target task.
    per_task = (target[:, :, None] * others[:, None, :]).reshape(len(P), -1)
    if encoding == "per_task":
        return np.hstack([intercepts, per_task])
    if encoding == "pooled":
        return np.hstack([intercepts, others, per_task / np.sqrt(task_penalty)])
    # "interaction": u_G, e_t and every member-by-target pair, one intercept.
    pairs = (membership[:, :, None] * target[:, None, :]).reshape(len(P), -1)
    return np.hstack([np.full((len(P), 1), INTERCEPT_SCALE), size, P, pairs])


class ResidualRidge(RegressorMixin, BaseEstimator):
    """Ridge regression of (stage-1 residual) gains on the group-task rows.

    ETAP's second stage. The affinity stage cannot tell two groups with the
    same affinity apart; this stage learns what the membership of particular
    tasks adds, from the residuals of the first stage. Its input is the
    group-task rows ``[u_G | e_t]`` made by :func:`encode_groups` (rows of any
    other form are refused), or any encoding of one's own with
    ``encoding="passthrough"``.

    The default is the official ETAP residual stage, one ridge per target
    task (its own unpenalised level and its own coefficient for every other
    member), plus an unpenalised term in the group size shared by all tasks.
    Whatever is ``None`` or ``"auto"`` among ``alpha`` and ``group_size`` is
    chosen in ``fit`` by exact leave-one-group-out error in closed form (one
    SVD per candidate, no refits; all rows of one group are left out
    together, since they share one training run). The benchmark behind these
    defaults is on the documentation's benchmark results page.

    Parameters
    ----------
    alpha : float or None, default=None
        Ridge penalty; intercepts and the group-size term are (effectively)
        not penalised. ``None`` chooses it from ``alphas``.
    alphas : array-like of float, default=(1e-6, 1e-5, ..., 1e4)
        Candidate penalties when ``alpha=None``: the official range 1e-6 to
        1e2, and larger ones that switch the membership terms off.
    encoding : {"per_task", "membership", "membership+task", "interaction", \
            "passthrough"}, default="per_task"
        The features built from each row ``[u_G | e_t]``. ``"per_task"``:
        per-task intercepts and per-task membership coefficients (the
        official stage 2). ``"membership"``: ``u_G`` alone (the paper's
        text). ``"membership+task"``: per-task intercepts and shared
        membership coefficients. ``"interaction"``: ``[u_G | e_t |
        u_G (x) e_t]`` with one intercept: shared and per-pair member
        effects, for tasks that form clusters (see the adaptive search
        guide). ``"passthrough"``: the input columns unchanged, whatever
        they are. See ``residual_features``.

        .. deprecated:: 0.1
           ``"pooled"`` is deprecated and will be removed in 0.2; use the
           default ``"per_task"``.
    task_penalty : float or None, default="deprecated"
        How many times more the per-task deviations of the deprecated
        ``encoding="pooled"`` are penalised than the shared coefficients
        (``None``: chosen from 0.01 to 1e4).

        .. deprecated:: 0.1
           ``task_penalty`` is deprecated with ``"pooled"`` and will be
           removed in 0.2.
    group_size : {"auto", "log", "linear"} or None, default="auto"
        An unpenalised term in the group size ``|G|`` (``"log"``: in
        ``log |G|``), shared by all target tasks; ``"auto"`` chooses log or
        linear; ``None``: no such term. Ignored with ``"passthrough"``.

    Attributes
    ----------
    alpha_ : float
        The penalty used: ``alpha``, or the one chosen from ``alphas``.
    task_penalty_ : float or None
        The pooling penalty used (deprecated ``"pooled"`` only, else None).
    group_size_ : str or None
        The group-size term used.
    cv_errors_ : ndarray of shape (n_group_sizes, n_task_penalties, n_alphas) or None
        Mean squared leave-one-group-out error of every candidate searched
        (``None`` when nothing was chosen).
    ridge_ : Ridge
        The fitted ridge (no intercept) on the encoded features.
    n_tasks_ : int or None
        Number of tasks, half the number of input columns (``None`` with
        ``encoding="passthrough"``).
    n_features_in_ : int
        Number of input columns seen in ``fit``.
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
    >>> y = np.array([0.3, 0.1, 0.3, -0.2, 0.1, -0.2, 0.3, 0.1, -0.2])
    >>> reg = ResidualRidge().fit(P, y)   # task levels 0.3, 0.1, -0.2
    >>> reg.predict(encode_groups([(0, 2)], n_tasks=3)).round(2)
    array([ 0.3, -0.2])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), None],
        "alphas": ["array-like"],
        "encoding": [
            StrOptions(
                set(ENCODINGS) | set(DEPRECATED_ENCODINGS), deprecated={"pooled"}
            )
        ],
        "task_penalty": [
            Interval(Real, 0, None, closed="neither"),
            None,
            StrOptions({DEPRECATED}),
        ],
        "group_size": [StrOptions({"auto", "log", "linear"}), None],
    }

    def __init__(
        self,
        alpha=None,
        alphas=DEFAULT_ALPHAS,
        encoding="per_task",
        task_penalty=DEPRECATED,
        group_size="auto",
    ):
        self.alpha = alpha
        self.alphas = alphas
        self.encoding = encoding
        self.task_penalty = task_penalty
        self.group_size = group_size

    def _encode(self, X):
        return residual_features(X, self.encoding, self.task_penalty_, self.group_size_)

    def _group_ids(self, X):
        """Rows of one group share an id; with passthrough, equal rows do."""
        if self.encoding == "passthrough":
            _, ids = np.unique(X, axis=0, return_inverse=True)
            return ids.ravel()
        return self._check_rows(X)[2]

    def _check_rows(self, X):
        """Membership, target and group id of group-task rows, or a clear error."""
        who = f"ResidualRidge(encoding={self.encoding!r})"
        if np.any(X < 0):
            raise ValueError(
                f"Negative values in data passed to {who}: it expects group-task "
                "rows [u_G | e_t] built with encode_groups (0/1 values)."
            )
        if X.shape[1] % 2:
            raise ValueError(
                f"{who} expects group-task rows [u_G | e_t] built with encode_groups, "
                f"2 * n_tasks columns; got {X.shape[1]} feature(s)."
            )
        return check_group_rows(X, who)

    def _candidates(self):
        """The group-size terms and pooling penalties to choose among."""
        if self.encoding == "passthrough":
            sizes = [None]
        elif self.group_size == "auto":
            sizes = list(GROUP_SIZES)
        else:
            sizes = [self.group_size]
        if self.encoding != "pooled":
            penalties = [None]
        elif self.task_penalty in (None, DEPRECATED):
            penalties = list(TASK_PENALTIES)
        else:
            penalties = [self.task_penalty]
        return sizes, penalties

    def _warn_deprecated(self):
        if self.encoding in DEPRECATED_ENCODINGS:
            warnings.warn(
                f"ResidualRidge(encoding={self.encoding!r}) is deprecated in 0.1 and "
                "will be removed in 0.2: it lost within-task accuracy to the default "
                "'per_task' on most benchmark tables. Use encoding='per_task'.",
                FutureWarning,
                stacklevel=4,
            )
        if not (isinstance(self.task_penalty, str) and self.task_penalty == DEPRECATED):
            warnings.warn(
                "ResidualRidge(task_penalty=...) is deprecated in 0.1 and will be "
                "removed in 0.2, with encoding='pooled', the only encoding it "
                "served. Leave it unset.",
                FutureWarning,
                stacklevel=4,
            )

    def _alphas(self):
        if self.alpha is not None:
            return np.array([float(self.alpha)])
        alphas = np.asarray(self.alphas, dtype=float).ravel()
        if alphas.size == 0 or np.any(alphas < 0) or not np.all(np.isfinite(alphas)):
            raise ValueError(
                f"alphas must be a non-empty list of finite penalties >= 0; "
                f"got {self.alphas!r}."
            )
        return alphas

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
        self._warn_deprecated()
        X, y = validate_data(self, X, y, y_numeric=True)
        weights = check_weights(sample_weight, X)
        groups = self._group_ids(X)
        self.n_tasks_ = None if self.encoding == "passthrough" else X.shape[1] // 2
        sizes, penalties = self._candidates()
        alphas = self._alphas()
        if len(sizes) * len(penalties) * len(alphas) == 1:
            self.cv_errors_ = None
            best = (0, 0, 0)
        else:
            root = np.sqrt(weights)
            self.cv_errors_ = np.array(
                [
                    [
                        group_loo_errors(
                            residual_features(X, self.encoding, penalty, size)
                            * root[:, None],
                            y * root,
                            groups,
                            alphas,
                        )
                        for penalty in penalties
                    ]
                    for size in sizes
                ]
            )
            best = np.unravel_index(np.argmin(self.cv_errors_), self.cv_errors_.shape)
        self.group_size_ = sizes[best[0]]
        self.task_penalty_ = penalties[best[1]]
        self.alpha_ = float(alphas[best[2]])
        # The SVD solver: unpenalised columns are scaled up, so the normal
        # equations of a tiny alpha are ill-conditioned for Cholesky.
        self.ridge_ = Ridge(alpha=self.alpha_, fit_intercept=False, solver="svd").fit(
            self._encode(X), y, sample_weight=weights
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
        if self.encoding != "passthrough":
            self._check_rows(X)
        return self.ridge_.predict(self._encode(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Group-task rows are 0/1: negative values are refused, saying so.
        tags.input_tags.positive_only = self.encoding != "passthrough"
        return tags
