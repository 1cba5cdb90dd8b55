"""LinearizedGainEstimator: every group's gain from the one trained model."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._affinity.checks import task_columns
from .._affinity.training import BINARY
from .._groups import validated_rows
from .._validation import Interval, StrOptions
from .agreement import gain_agreement
from .checks import check_fitted_extractor, limited_threads, validation_mask
from .group_fit import Rows, TaskBlock, fit_displacement, regression_group_losses
from .jacobians import DenseRademacher, SignSketch, n_trainable, output_jacobians

# n_components="auto": the Jacobians are projected to this many columns when
# the model has more parameters (each group costs one Cholesky factor of a
# square matrix of this size).
AUTO_COMPONENTS = 1024


class LinearizedGainEstimator(BaseEstimator):
    """Estimate the multi-task gain of any group without training it.

    The trained all-task model of a fitted extractor is linearized around its
    weights: task ``t``'s output becomes ``f_t(x) + J_t(x) . delta`` with
    ``J_t(x)`` the per-sample Jacobian with respect to all parameters. For a
    group ``G`` the displacement ``delta`` is fitted on the group's tasks
    jointly (the mean of their training losses plus a ridge penalty), and for
    each task on that task alone; the estimated gain of task ``t`` in ``G``
    is the relative fall of its held-out loss,
    ``(L_t(alone) - L_t(G)) / L_t(alone)``, as
    :func:`~sklearn_etap.measure_gains` defines the measured gain (after
    Grad-TAG, Li et al., KDD 2024). No group is trained: each costs one
    linear solve on precomputed per-task blocks, and is cached.

    Regression tasks (squared error) are fitted in closed form; binary tasks
    (logistic loss on the logits) by a few damped Newton steps started at the
    trained weights. The held-out loss is measured on a split of the training
    data (``validation_fraction``), which also chooses the penalty; the test
    data is never used.

    Parameters
    ----------
    extractor : TorchAffinityExtractor
        A FITTED extractor; its trained ``module_`` and ``task_types_`` are
        used as they are (never refitted). Clones of this estimator share it.
    alpha : float, default=None
        Ridge penalty, relative to the mean diagonal of the tasks' mean loss
        Hessian with respect to the parameters (so it does not depend on the
        scale of the model or on the projection). ``None``
        chooses it from ``alphas``.
    alphas : array-like of float, default=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
        Candidates when ``alpha`` is None; the one whose single-task fits
        have the least held-out loss (mean over tasks, each relative to the
        trained model's loss) is kept.
    n_components : int, "auto" or None, default="auto"
        Columns of the random projection of the Jacobians. ``"auto"``: 1024
        when the model has more parameters than that, else no projection.
        ``None``: never project (exact, but each group costs a solve of the
        size of the parameter count).
    projection : {"dense", "sparse"}, default="dense"
        ``"dense"``: a matrix of random signs (Rademacher, as Grad-TAG).
        ``"sparse"``: a count sketch (each parameter added with a random sign
        to one random column): inner products with the same mean and
        variance, at one addition per Jacobian entry instead of
        ``n_components`` multiplications; not the default because on the one
        benchmark table it applies to (MHC-I) its estimate ranked groups
        worse in the one projection seed measured (``docs/linearized.md``).
    validation_fraction : float, default=0.2
        Share of the training samples held out to measure the linearized
        fits (and to choose ``alpha``).
    max_iter : int, default=10
        Most Newton steps of a group fit with a binary task.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the projection.

    Attributes
    ----------
    alpha_ : float
        The penalty used (relative, as ``alpha``).
    alpha_scores_ : ndarray of shape (n_alphas,) or None
        Mean relative held-out loss of the single-task fits for every
        candidate of ``alphas`` (None when ``alpha`` is given).
    penalty_ : float
        The absolute penalty, ``alpha_`` times the Hessians' mean diagonal.
    n_parameters_ : int
        Trainable parameters of the extractor's model.
    n_components_ : int
        Columns of the (projected) Jacobians.
    n_tasks_ : int
        Number of tasks.
    task_types_ : ndarray of str of shape (n_tasks,)
        The extractor's task types.
    validation_loss_ : ndarray of shape (n_tasks,)
        Held-out loss of every task under the trained model.
    single_task_loss_ : ndarray of shape (n_tasks,)
        Held-out loss of every task under its own linearized fit (the
        denominator of the gains).
    validation_mask_ : ndarray of bool of shape (n_samples,)
        The samples held out to measure the fits.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    measure_gains : Measure gains by training the groups.
    ETAPRegressor : Predict gains from measured ones; with ``affinity=None``
        the estimate can be its first (stage-1) column.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import (
    ...     LinearizedGainEstimator, TorchAffinityExtractor, encode_groups)
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 4))
    >>> shared = X[:, 0] + X[:, 1]
    >>> Y = np.c_[shared, shared + 0.1 * rng.normal(size=300), np.sin(3 * X[:, 2])]
    >>> ext = TorchAffinityExtractor(hidden_layer_sizes=(4,), max_epochs=20,
    ...                              affinity=None, random_state=0).fit(X, Y)
    >>> est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    >>> P = encode_groups([(0, 1), (0, 2)], n_tasks=3)
    >>> gains = est.predict(P)
    >>> gains.shape
    (4,)
    >>> bool(gains[0] > gains[2])  # task 0 gains more with task 1 than with 2
    True
    """

    _parameter_constraints = {
        "extractor": "no_validation",
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "alphas": ["array-like"],
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "projection": [StrOptions({"dense", "sparse"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        extractor,
        *,
        alpha=None,
        alphas=(1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
        n_components="auto",
        projection="dense",
        validation_fraction=0.2,
        max_iter=10,
        random_state=None,
    ):
        self.extractor = extractor
        self.alpha = alpha
        self.alphas = alphas
        self.n_components = n_components
        self.projection = projection
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_clone__(self):
        # a clone shares the fitted extractor: it is prefit and only read, and
        # cloning it (unfitted) would leave nothing to linearize
        params = self.get_params(deep=False)
        extractor = params.pop("extractor")
        return type(self)(
            extractor, **{k: clone(v, safe=False) for k, v in params.items()}
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, Y):
        """Linearize the extractor's trained model on its training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The inputs the extractor was trained on.
        Y : array-like of shape (n_samples, n_tasks)
            Their labels, one column per task (NaN: label missing).

        Returns
        -------
        self : LinearizedGainEstimator
            The fitted estimator.

        Warns
        -----
        UserWarning
            When the penalty chosen is the largest of ``alphas``.
        """
        extractor = check_fitted_extractor(self.extractor)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if X.shape[1] != extractor.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but the extractor was trained on "
                f"{extractor.n_features_in_}; pass the data it was trained on."
            )
        Y = task_columns(Y)
        if Y.shape != (X.shape[0], extractor.n_tasks_):
            raise ValueError(
                f"Y has shape {Y.shape}; expected ({X.shape[0]}, "
                f"{extractor.n_tasks_}): one row per sample of X and one column "
                "per task of the extractor."
            )
        alphas = np.asarray(self.alphas, dtype=float).ravel()
        if self.alpha is None and (alphas.size == 0 or np.any(alphas <= 0)):
            raise ValueError(
                f"alphas must be a non-empty list of positive penalties; got "
                f"{self.alphas!r}."
            )
        self.n_tasks_ = extractor.n_tasks_
        self.task_types_ = np.asarray(extractor.task_types_)
        rng = check_random_state(self.random_state)
        validation = validation_mask(self.validation_fraction, X.shape[0], rng)
        self.validation_mask_ = validation
        module = extractor.module_
        self.n_parameters_ = n_trainable(module)
        projection = self._projection(module, rng)
        self.n_components_ = (
            self.n_parameters_ if projection is None else projection.n_components
        )
        self._n_threads = extractor.n_threads
        with limited_threads(self._n_threads):
            self._fit_blocks(module, X, Y, validation, projection, alphas)
        return self

    def _fit_blocks(self, module, X, Y, validation, projection, alphas):
        present = ~np.isnan(Y)
        outputs, jacobians = output_jacobians(module, X, present, projection)
        self._blocks = [
            self._task_block(t, outputs, jacobians, Y, validation)
            for t in range(self.n_tasks_)
        ]
        # per parameter, not per column: a projection keeps the trace (its
        # columns preserve squared norms), and the projected ridge approximates
        # the full one with the same penalty
        trace = np.mean([np.trace(b.hessian) for b in self._blocks])
        self._scale = trace / self.n_parameters_ if trace > 0 else 1.0
        zero = np.zeros(self.n_components_)
        self.validation_loss_ = np.array(
            [b.validation_loss(zero) for b in self._blocks]
        )
        if self.alpha is None:
            self.alpha_scores_ = np.array([self._alpha_score(a) for a in alphas])
            self.alpha_ = float(alphas[np.argmin(self.alpha_scores_)])
            if len(alphas) > 1 and self.alpha_ == alphas.max():
                warnings.warn(
                    f"the penalty chosen is the largest of alphas ({self.alpha_:g}): "
                    "the less the linearized fits move from the trained weights, "
                    "the better they do on the held-out part. Widen alphas, and "
                    "check the estimates with score_against on measured groups "
                    "before relying on them.",
                    UserWarning,
                    stacklevel=2,
                )
        else:
            self.alpha_scores_ = None
            self.alpha_ = float(self.alpha)
        self.penalty_ = self.alpha_ * self._scale
        self._cache = {}
        self.single_task_loss_ = np.array(
            [self._member_losses((t,))[0] for t in range(self.n_tasks_)]
        )

    def _projection(self, module, rng):
        seed = rng.randint(np.iinfo(np.int32).max)
        k = self.n_components
        if k is None or (k == "auto" and self.n_parameters_ <= AUTO_COMPONENTS):
            return None
        k = AUTO_COMPONENTS if k == "auto" else int(k)
        device = next(module.parameters()).device
        kind = SignSketch if self.projection == "sparse" else DenseRademacher
        return kind(self.n_parameters_, k, seed, device)

    def _task_block(self, task, outputs, jacobians, Y, validation):
        present = ~np.isnan(Y[:, task])
        # the task's Jacobian rows are those of its labelled samples, in order
        J, in_validation = jacobians[task], validation[present]
        parts = []
        for kept, name in ((~in_validation, "fit"), (in_validation, "validation")):
            if kept.sum() < 2:
                raise ValueError(
                    f"task {task} has {int(kept.sum())} labelled samples in the "
                    f"{name} part of the data; each task needs 2 or more in each "
                    "part (change validation_fraction or random_state)."
                )
            rows = np.flatnonzero(present)[kept]
            parts.append(Rows(J[kept], outputs[rows, task], Y[rows, task]))
        return TaskBlock(*parts, binary=self.task_types_[task] == BINARY)

    def _alpha_score(self, alpha):
        penalty = alpha * self._scale
        relative = [
            block.validation_loss(fit_displacement([block], penalty, self.max_iter))
            / max(loss, np.finfo(float).tiny)
            for block, loss in zip(self._blocks, self.validation_loss_)
        ]
        return float(np.mean(relative))

    def _member_losses(self, group):
        """Held-out loss of every member of ``group`` (a sorted tuple) under
        the group's linearized fit; cached."""
        losses = self._cache.get(group)
        if losses is None:
            blocks = [self._blocks[t] for t in group]
            delta = fit_displacement(blocks, self.penalty_, self.max_iter)
            losses = np.array([b.validation_loss(delta) for b in blocks])
            self._cache[group] = losses
        return losses

    def _fill_cache_for_regression(self, groups):
        """Fit the uncached groups of regression tasks only, all at once."""
        binary = self.task_types_ == BINARY
        todo = [g for g in groups if g not in self._cache and not binary[list(g)].any()]
        if todo:
            losses = regression_group_losses(self._blocks, todo, self.penalty_)
            self._cache.update(zip(todo, losses))

    def predict(self, P):
        """Estimated gain of every group-task row.

        Parameters
        ----------
        P : array-like of shape (n_rows, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]``, as :func:`encode_groups` makes.

        Returns
        -------
        gains : ndarray of shape (n_rows,)
            ``(L_t(alone) - L_t(G)) / L_t(alone)`` on the held-out part of
            the training data, under the linearized fits; 0 for a task alone.
        """
        check_is_fitted(self)
        P = np.asarray(P, dtype=float)
        if P.ndim != 2 or P.shape[1] != 2 * self.n_tasks_:
            raise ValueError(
                f"P has shape {P.shape}; expected (n_rows, {2 * self.n_tasks_}): "
                f"group-task rows [u_G | e_t] of the {self.n_tasks_} tasks the "
                "estimator was fitted on (encode_groups(groups, n_tasks))."
            )
        membership, target = validated_rows(P)
        unique, inverse = np.unique(membership, axis=0, return_inverse=True)
        gains = np.empty(len(P))
        with limited_threads(self._n_threads):
            self._fill_cache_for_regression(
                [tuple(np.flatnonzero(member).tolist()) for member in unique]
            )
            group_losses = [
                self._member_losses(tuple(np.flatnonzero(member).tolist()))
                for member in unique
            ]
        for index, member in enumerate(unique):
            group = tuple(np.flatnonzero(member).tolist())
            losses = dict(zip(group, group_losses[index]))
            for row in np.flatnonzero(inverse.ravel() == index):
                task = int(target[row])
                alone = max(self.single_task_loss_[task], np.finfo(float).tiny)
                gains[row] = (alone - losses[task]) / alone
        return gains

    def score_against(self, P, y):
        """Agreement of the estimates with measured gains (the trust check).

        Parameters
        ----------
        P : array-like of shape (n_rows, 2 * n_tasks)
            Rows of groups that were trained (``MeasuredGains.X``).
        y : array-like of shape (n_rows,)
            Their measured gains (``MeasuredGains.y``).

        Returns
        -------
        agreement : dict
            ``pooled_r``, ``within_task_r`` (mean over tasks of the Pearson r
            across the task's rows: whether the estimate ranks a task's
            groups as training did; near 0 or negative means the
            linearization does not describe this model), ``n_rows`` and
            ``n_tasks_scored`` (tasks with 3 or more rows). NaN where a
            figure cannot be computed.
        """
        estimated = self.predict(P)
        _, target = validated_rows(P)
        return gain_agreement(estimated, np.asarray(y, dtype=float).ravel(), target)
