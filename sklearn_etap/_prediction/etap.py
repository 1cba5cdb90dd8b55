"""ETAPRegressor: affinity stage + residual stage, stacked."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.model_selection import cross_val_predict
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import HasMethods, Interval, StrOptions
from .affinity_scaling import fit_scaling, scale_feature
from .group_affinity import group_affinity
from .group_splits import group_splits
from .stages import default_stages, distinct_row_ids, reads_group_rows, within_task
from .subsample import average_seen, draw_group_subsets
from .validation import check_affinity, check_group_rows


class ETAPRegressor(RegressorMixin, BaseEstimator):
    """Ensemble Task-Affinity Predictor: predicts the multi-task gain of groups.

    The prediction for the row of task ``t`` in group ``G`` is the sum of two
    stages: ``affinity_estimator`` maps the group affinity ``z[G -> t]``
    (the mean affinity of the other members of ``G`` towards ``t``) to a gain;
    ``residual_estimator``, fitted on what the first stage leaves unexplained,
    corrects it from the group-task rows (which tasks are in the group).

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks), default=None
        Task-affinity matrix, ``affinity[i, j]`` scoring how much task ``i``
        helps task ``j`` (``TorchAffinityExtractor().affinity_``). When given,
        ``X`` holds group-task rows ``[u_G | e_t]`` from
        :func:`encode_groups` and the affinity feature is computed with
        :func:`group_affinity`. When ``None``, the first column of ``X`` is
        taken as a precomputed affinity feature and the remaining columns as
        the stage-2 columns: group-task rows ``[u_G | e_t]`` (validated) when
        the residual stage reads them (the default ``ResidualRidge()``, any
        ``ResidualRidge`` encoding but ``"passthrough"``), else columns of
        your own, passed as given. This is decided from the parameters,
        never guessed from the data.
    affinity_estimator : regressor, default=None
        Stage 1, fitted on the affinity feature (one column). ``None`` means
        ``SplineAffinityRegressor()``.
    residual_estimator : regressor, default=None
        Stage 2, fitted on the stage-2 columns (the group-task rows) against
        the stage-1 residuals. ``None`` means ``ResidualRidge()``.
    cv : int, cross-validation generator or iterable, default=None
        How the stage-1 predictions that define the residuals are made.
        ``None``: in-sample predictions of the fitted stage 1 (the paper's).
        Otherwise out-of-fold predictions from ``cross_val_predict`` with this
        splitter, which keeps a flexible stage 1 from hiding the residual
        signal. The rows of one group always stay in one fold: an integer
        ``k`` means ``GroupKFold(k)`` over the groups read from ``u_G``; a
        splitter such as ``KFold(5, shuffle=True)`` splits the distinct
        groups, each taking all its rows; explicit index pairs that split a
        group are refused. (With stage-2 columns of your own, each distinct
        row counts as a group.) Stage 1 used for prediction is always
        refitted on all rows.
    affinity_scaling : {"column", "within_task"} or None, default=None
        Stage 1 on the group affinity standardized per target task, so it sees
        only how a task's groups rank, not the column levels (the momentum
        term, the same for every source task): ``"column"`` scales each column
        of ``affinity`` by its off-diagonal mean and sd; ``"within_task"``
        the feature by its mean and sd over each task's training rows (also
        with ``affinity=None``). ``None``: the raw feature (the paper's and
        the benchmark's choice). Needs group rows ``[u_G | e_t]``; refused
        with columns of your own.

        .. deprecated:: 0.1
           ``affinity_scaling`` is deprecated and will be removed in 0.2: on
           the benchmark neither scaling beat the constant-affinity ablation
           on any real table (see the benchmark results in the docs). Leave
           it at ``None``.
    center_stage1 : bool, default=True
        Fit stage 1 on each task's gains minus that task's mean over the
        training rows, leaving the tasks' levels to stage 2 (whose default has
        a level per task). The group affinity then only has to explain which
        groups help a task more than its other groups; fitted on the raw gains
        (``False``, the paper's), it also absorbs differences between the
        tasks' levels. Needs group rows ``[u_G | e_t]``; with columns of
        your own there is no target task and it has no effect.
    n_subsamples : int, default=1
        ``1``: both stages fitted once, on all training rows. More: also
        fitted ``n_subsamples`` times on random subsets of the training
        groups (a group's rows stay together), and the prediction for a row
        is the mean over the subset fits that saw the row's target task.
        With few groups, the penalties and the group-size term the stages
        choose jump as single groups come and go, and the mean smooths those
        jumps. Costs ``n_subsamples`` more fits and predictions.
    subsample : float, default=0.8
        Share of the training groups in each subset (rounded; at least 2
        groups, at most all but one).
    random_state : int, RandomState instance or None, default=None
        Draws the subsets (``n_subsamples > 1`` only).

    Attributes
    ----------
    affinity_ : ndarray of shape (n_tasks, n_tasks) or None
        The validated affinity matrix.
    affinity_center_, affinity_scale_ : ndarray of shape (n_tasks,) or None
        Per target task, what ``affinity_scaling`` subtracts from the feature
        and divides it by (``None`` without scaling; deprecated with
        ``affinity_scaling``).
    affinity_estimator_ : regressor
        Fitted clone of the stage-1 estimator.
    residual_estimator_ : regressor
        Fitted clone of the stage-2 estimator (both fitted on all rows; with
        ``n_subsamples > 1`` they predict only the rows whose task no subset
        fit saw).
    estimators_ : list of tuple
        ``(stage 1, stage 2)`` fitted on each subset of the groups; empty
        with ``n_subsamples=1``.
    estimators_tasks_ : ndarray of bool, shape (n_subsamples, n_tasks) or None
        The target tasks each subset held (``None`` without group rows).
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names of ``X``, when it had string column names.

    See Also
    --------
    SplineAffinityRegressor : The default stage 1.
    ResidualRidge : The default stage 2.
    make_etap_search : A ``GridSearchCV`` over the spline's degree and knots
        around these defaults.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import (ETAPRegressor, encode_groups, group_affinity,
    ...                           sample_groups)
    >>> A = np.random.RandomState(0).normal(size=(6, 6))
    >>> P = encode_groups(sample_groups(6, 20, random_state=0), n_tasks=6)
    >>> y = np.tanh(group_affinity(A, P)) + 0.1 * P[:, 0]  # task 0 helps its group
    >>> etap = ETAPRegressor(affinity=A).fit(P, y)
    >>> stage1, stage2 = etap.predict_stages(P)
    >>> bool(np.allclose(etap.predict(P), stage1 + stage2))
    True
    >>> new = encode_groups(sample_groups(6, 20, random_state=1), n_tasks=6)
    >>> round(etap.score(new, np.tanh(group_affinity(A, new)) + 0.1 * new[:, 0]), 2)
    0.94
    """

    _parameter_constraints: dict = {
        "affinity": ["array-like", None],
        "affinity_estimator": [HasMethods(["fit", "predict"]), None],
        "residual_estimator": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object", None],
        "affinity_scaling": [StrOptions({"column", "within_task"}), None],
        "center_stage1": ["boolean"],
        "n_subsamples": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        affinity=None,
        affinity_estimator=None,
        residual_estimator=None,
        cv=None,
        affinity_scaling=None,
        center_stage1=True,
        n_subsamples=1,
        subsample=0.8,
        random_state=None,
    ):
        self.affinity = affinity
        self.affinity_estimator = affinity_estimator
        self.residual_estimator = residual_estimator
        self.cv = cv
        self.affinity_scaling = affinity_scaling
        self.center_stage1 = center_stage1
        self.n_subsamples = n_subsamples
        self.subsample = subsample
        self.random_state = random_state

    def set_params(self, **params):
        """Set parameters, nested ones (``affinity_estimator__degree``) included.

        A nested parameter needs its sub-estimator: with the default ``None``
        there is no object to set it on, so pass the sub-estimator explicitly
        (``ETAPRegressor(affinity_estimator=SplineAffinityRegressor())``), as
        ``make_etap_search`` does.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : ETAPRegressor
            This estimator, with the parameters set.
        """
        defaults = {
            "affinity_estimator": "SplineAffinityRegressor",
            "residual_estimator": "ResidualRidge",
        }
        for key in params:
            name, nested, _ = key.partition("__")
            if nested and name in defaults and name not in params:
                if getattr(self, name) is None:
                    raise ValueError(
                        f"cannot set {key!r}: {name} is None (which means the "
                        f"default {defaults[name]}()), so there is no estimator to "
                        f"set it on. Pass it explicitly, e.g. ETAPRegressor("
                        f"affinity=A, {name}={defaults[name]}()), or use "
                        "make_etap_search."
                    )
        return super().set_params(**params)

    def _group_rows(self):
        """Whether the stage-2 columns are group rows (see ``reads_group_rows``)."""
        return reads_group_rows(self.affinity, self.residual_estimator)

    def _stage_inputs(self, X):
        """The raw stage-1 column, the stage-2 columns, and their target tasks.

        The target task of every row (``None`` when the stage-2 columns are
        the user's own) is read from validated group rows.
        """
        if self.affinity_ is None:
            z, rows = X[:, :1], X[:, 1:]
        else:
            n_tasks = self.affinity_.shape[0]
            if X.shape[1] != 2 * n_tasks:
                raise ValueError(
                    f"X has {X.shape[1]} columns but affinity has {n_tasks} tasks; "
                    f"group-task rows [u_G | e_t] for {n_tasks} tasks have "
                    f"{2 * n_tasks} columns (see encode_groups)."
                )
            z, rows = None, X
        if not self._group_rows():
            return z, rows, None, distinct_row_ids(rows)
        if rows.shape[1] % 2:
            raise ValueError(
                f"ETAPRegressor expects group-task rows [u_G | e_t] built with "
                f"encode_groups after the affinity column: 2 * n_tasks columns, "
                f"got {rows.shape[1]}. For columns of your own, pass "
                "residual_estimator=ResidualRidge(encoding='passthrough')."
            )
        if np.any(rows < 0):
            raise ValueError(
                "Negative values in data passed to ETAPRegressor: group-task rows "
                "[u_G | e_t] built with encode_groups hold 0/1 values."
            )
        _, target, group_ids = check_group_rows(rows, "ETAPRegressor")
        if z is None:
            z = group_affinity(self.affinity_, rows).reshape(-1, 1)
        return z, rows, target, group_ids

    def _scaled(self, z, target):
        """The stage-1 column, scaled per target task when ``affinity_scaling``."""
        if self.affinity_center_ is None:
            return z
        return scale_feature(z, target, self.affinity_center_, self.affinity_scale_)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit stage 1 on the affinity feature, stage 2 on its residuals.

        Parameters
        ----------
        X : array-like of shape (n_rows, 2 * n_tasks) or (n_rows, 1 + n_columns)
            Group-task rows ``[u_G | e_t]`` when ``affinity`` is set;
            otherwise the affinity feature followed by the stage-2 columns.
        y : array-like of shape (n_rows,)
            Measured gains of the rows.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        self.affinity_ = (
            None if self.affinity is None else check_affinity(self.affinity)
        )
        if self.affinity_ is None and X.shape[1] < 2:
            raise ValueError(
                f"With affinity=None, X holds the affinity feature followed by the "
                f"stage-2 columns, so it needs at least 2 columns; got "
                f"{X.shape[1]} feature(s). Pass affinity= to use group-task rows."
            )
        if self.affinity_scaling is not None and not self._group_rows():
            raise ValueError(
                f"affinity_scaling={self.affinity_scaling!r} scales the feature per "
                "target task, which needs group-task rows [u_G | e_t]; with "
                "affinity=None and a residual stage that takes columns as given "
                "there is no target task. Pass affinity= or affinity_scaling=None."
            )
        if self.affinity_scaling is not None:
            warnings.warn(
                f"ETAPRegressor(affinity_scaling={self.affinity_scaling!r}) is "
                "deprecated in 0.1 and will be removed in 0.2: on the benchmark "
                "neither scaling beat the constant-affinity ablation on any real "
                "table. Leave affinity_scaling=None.",
                FutureWarning,
                stacklevel=3,
            )
        z, rows, target, group_ids = self._stage_inputs(X)
        self.affinity_center_, self.affinity_scale_ = fit_scaling(
            self.affinity_scaling,
            self.affinity_,
            z[:, 0],
            target,
            None if target is None else rows.shape[1] // 2,
        )
        z = self._scaled(z, target)
        self.affinity_estimator_, self.residual_estimator_ = self._fit_stages(
            z, rows, y, target, group_ids
        )
        self.estimators_, self.estimators_tasks_ = [], None
        if self.n_subsamples > 1:
            subsets = draw_group_subsets(
                group_ids, self.n_subsamples, self.subsample, self.random_state
            )
            self.estimators_ = [
                self._fit_stages(
                    z[r],
                    rows[r],
                    y[r],
                    None if target is None else target[r],
                    group_ids[r],
                )
                for r in subsets
            ]
            if target is not None:
                n_tasks = rows.shape[1] // 2
                self.estimators_tasks_ = np.array(
                    [np.isin(np.arange(n_tasks), target[r]) for r in subsets]
                )
        return self

    def _fit_stages(self, z, rows, y, target, group_ids):
        """Stage 1 on the affinity feature, stage 2 on its residuals."""
        stage1, stage2 = default_stages()
        if self.affinity_estimator is not None:
            stage1 = self.affinity_estimator
        if self.residual_estimator is not None:
            stage2 = self.residual_estimator

        # Centring needs each row's target task: without group rows, none.
        centre = self.center_stage1 and target is not None
        y1 = within_task(y, target) if centre else y
        fitted1 = clone(stage1).fit(z, y1)
        if self.cv is None:
            stage1_pred = fitted1.predict(z)
        else:
            splits = group_splits(self.cv, group_ids)
            stage1_pred = cross_val_predict(clone(stage1), z, y1, cv=splits)
        return fitted1, clone(stage2).fit(rows, y - stage1_pred)

    def predict(self, X):
        """Predict the gains of group-task rows: stage 1 plus stage 2.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows in the layout used in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_rows,)
            Predicted gains.
        """
        stage1, stage2 = self.predict_stages(X)
        return stage1 + stage2

    def predict_stages(self, X):
        """The two additive parts of the prediction.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Rows in the layout used in ``fit``.

        Returns
        -------
        stage1 : ndarray of shape (n_rows,)
            The affinity stage's predictions.
        stage2 : ndarray of shape (n_rows,)
            The residual stage's corrections.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        z, rows, target, _ = self._stage_inputs(X)
        z = self._scaled(z, target)
        stages = [(self.affinity_estimator_, self.residual_estimator_)]
        stages += self.estimators_
        predictions = np.array(
            [[s1.predict(z), s2.predict(rows)] for s1, s2 in stages], dtype=float
        )  # (1 + n_subsamples, 2 stages, n_rows)
        if not self.estimators_:
            return predictions[0, 0], predictions[0, 1]
        seen = np.ones((len(self.estimators_), len(X)), dtype=bool)
        if self.estimators_tasks_ is not None:
            seen = self.estimators_tasks_[:, target]
        mean = [average_seen(predictions[1:, k], seen) for k in (0, 1)]
        # A task no subset held: the fit on all rows.
        return tuple(
            np.where(np.isnan(m), predictions[0, k], m) for k, m in enumerate(mean)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # With an affinity matrix, X is 0/1 group-task rows; without, its
        # first column is an affinity feature, which may be negative.
        tags.input_tags.positive_only = self.affinity is not None
        return tags
