"""Choose which task groups to train from predicted (or known) gains."""

from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_is_fitted,
    check_non_negative,
    validate_data,
)

from .._groups import check_groups, encode_groups, validated_rows
from .._task_names import check_task_names, name_groups
from .._validation import HasMethods, Interval, StrOptions
from .entry import MAX_CANDIDATES, enumerate_candidates, select_from_gains
from .problem import MODES
from .solvers import DEFAULT_SOLVER, SOLVERS


def _estimator_predicts(selector):
    """Whether the fitted estimator (or, before fit, the given one) predicts."""
    return hasattr(getattr(selector, "estimator_", selector.estimator), "predict")


class GroupSelector(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Choose which task groups to train from an estimator's predicted gains.

    ``fit(X, y)`` fits a clone of ``estimator`` on group-task rows ``X``
    (from :func:`encode_groups`) and their measured gains ``y``, predicts the
    gain of every member of every candidate group, and picks at most
    ``n_groups`` groups covering all tasks so that the sum over tasks of the
    gain of each task's group is maximal. A task trained alone is a singleton
    group with gain 0; singletons in the selection count against
    ``n_groups``.

    Parameters
    ----------
    estimator : object
        A regressor taking group-task rows, e.g. ``ETAPRegressor`` with
        ``affinity`` set. It is cloned, never fitted in place.
    n_groups : int
        Budget: the most groups to train, singletons included. Must be at
        least ``ceil(n_tasks / largest candidate size)``. In
        :func:`sample_groups`, ``n_groups`` is instead the number of groups
        drawn: there it counts groups to measure, here groups to keep.
    mode : {"overlap", "partition"}, default="overlap"
        ``"overlap"`` (the paper's objective): chosen groups may share tasks
        and each task is scored by its best chosen group. ``"partition"``:
        chosen groups are disjoint.
    solver : {"branch_and_bound", "milp", "brute_force"}, \
            default="branch_and_bound"
        All three are exact at any scale of the gains and reach the same
        optimum value (ties may pick different groups).
        ``"branch_and_bound"`` follows Standley et al. (2020), with Lagrangian
        bounds; usually faster than the MILP, but its worst case is
        exponential (it can be slower when the budget is close to the number
        of tasks and the gains have no structure). ``"milp"`` is scipy's
        HiGHS mixed-integer solver with its optimality gaps set to zero.
        ``"brute_force"`` tries every set of candidates and refuses problems
        with more than a few million such sets.
    max_group_size : int, default=None
        Largest candidate group. ``None`` allows all ``n_tasks``. The
        selection is exact over the candidates; limiting their size (or
        passing ``candidates``) is the one heuristic step: a better selection
        using larger groups is not considered.
    candidates : list of groups, default=None
        Multi-task groups to consider instead of all groups of size
        ``2..max_group_size``. Singletons are always added.
    prune : bool, default=True
        Drop candidates that provably cannot change the optimum value; the
        result stays exact. Overlap mode: a group ``G`` is dropped when a
        candidate ``G + {u}`` gives every member of ``G`` at least the same
        gain. Either mode, when ``n_groups >= n_tasks`` (the budget cannot
        bind): groups whose gains cannot beat the singletons'. Dropping
        groups with non-positive gains is *not* exact in general (with
        ``n_groups=1`` the all-task group must be chosen), so it is not done.
    max_candidates : int, default=5000
        Refuse to enumerate more candidate groups than this (all groups of
        13 or more tasks exceed it); set ``max_group_size`` instead. The
        default is the limit :func:`search_groups` and ``etap run`` use too.
    task_names : list of str, default=None
        One name per task, for ``group_names_`` (e.g. the extractor's
        ``task_names_``). ``None``: tasks are named by their indices.
    time_limit : float, default=None
        Seconds the selection's solver may run (``"branch_and_bound"`` or
        ``"milp"``; fitting the estimator is not counted). When it runs out,
        the best covering selection found so far is kept, with
        ``optimal_=False`` and its ``gap_``. ``None``: no limit.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    n_tasks_ : int
        ``X.shape[1] // 2`` of the rows seen in ``fit``.
    n_features_in_ : int
        ``2 * n_tasks_``.
    groups_ : list of tuple of int
        The chosen groups, singletons included, by size then task indices.
    group_names_ : list of tuple
        ``groups_`` with the task indices replaced by ``task_names``.
    predicted_gain_ : float
        The objective: the summed predicted gain of every task in its group.
    task_gain_ : ndarray of shape (n_tasks,)
        Each task's predicted gain in the group it is scored by.
    task_group_ : ndarray of int, shape (n_tasks,)
        Index into ``groups_`` of the group each task is scored by.
    n_candidates_ : int
        Candidate groups considered, singletons included.
    optimal_ : bool
        Whether the solver proved the selection optimal (always, without
        ``time_limit``).
    gap_ : float
        Relative optimality gap of the selection (see
        :func:`select_groups`); 0.0 when optimal.

    See Also
    --------
    select_groups : The same selection from gains you already have.
    all_groups : The candidate groups considered by default.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_etap import GroupSelector, encode_groups
    >>> groups = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    >>> P = encode_groups(groups, n_tasks=3)
    >>> y = [0.4, 0.3, -0.2, -0.1, -0.3, -0.2, 0.1, 0.0, -0.3]
    >>> sel = GroupSelector(LinearRegression(), n_groups=2).fit(P, y)
    >>> sel.groups_
    [(2,), (0, 1)]
    >>> round(sel.predicted_gain_, 3)
    0.7
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions(set(MODES))],
        "solver": [StrOptions(set(SOLVERS))],
        "max_group_size": [Interval(Integral, 1, None, closed="left"), None],
        "candidates": ["array-like", None],
        "prune": ["boolean"],
        "max_candidates": [Interval(Real, 1, None, closed="left")],
        "task_names": ["array-like", None],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        estimator,
        n_groups,
        *,
        mode="overlap",
        solver=DEFAULT_SOLVER,
        max_group_size=None,
        candidates=None,
        prune=True,
        max_candidates=MAX_CANDIDATES,
        task_names=None,
        time_limit=None,
    ):
        self.estimator = estimator
        self.n_groups = n_groups
        self.mode = mode
        self.solver = solver
        self.max_group_size = max_group_size
        self.candidates = candidates
        self.prune = prune
        self.max_candidates = max_candidates
        self.task_names = task_names
        self.time_limit = time_limit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the estimator on group-task rows and select groups.

        Parameters
        ----------
        X : array-like of shape (n_rows, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]`` from :func:`encode_groups`.
        y : array-like of shape (n_rows,)
            Measured gain of each row.
        **fit_params : dict
            Metadata for ``estimator.fit`` (``groups`` for a search with
            group-wise folds, ``sample_weight``, ...). With
            ``sklearn.set_config(enable_metadata_routing=True)`` they are
            routed: the estimator receives what it requests (e.g.
            ``Ridge().set_fit_request(sample_weight=True)``; scikit-learn's
            searches request ``groups`` for a group-wise ``cv``) and anything
            else passed is an error naming it. Without routing (scikit-learn's
            default) every parameter is passed to ``estimator.fit`` as given;
            one it does not take raises a ``TypeError`` saying so.

        Returns
        -------
        self : GroupSelector
            The fitted selector, with ``groups_`` and ``predicted_gain_`` set.
        """
        # A multi-task group contributes at least two rows, one per member.
        X, y = validate_data(
            self, X, y, y_numeric=True, ensure_min_samples=2, ensure_min_features=2
        )
        check_non_negative(X, "GroupSelector.fit (group-task rows hold 0 and 1)")
        validated_rows(X)
        n_tasks = X.shape[1] // 2
        names = check_task_names(self.task_names, n_tasks)
        self.estimator_ = self._fit_estimator(X, y, fit_params)
        candidates = self._candidate_groups(n_tasks)
        if candidates:
            predicted = np.asarray(
                self.estimator_.predict(encode_groups(candidates, n_tasks)), dtype=float
            ).ravel()
        else:
            predicted = np.zeros(0)
        sizes = [len(g) for g in candidates]
        if predicted.shape != (sum(sizes),):
            raise ValueError(
                f"the estimator predicted {predicted.size} values for "
                f"{sum(sizes)} candidate rows; it must return one gain per row."
            )
        member_gains = np.split(predicted, np.cumsum(sizes)[:-1]) if sizes else []
        selection = select_from_gains(
            candidates,
            member_gains,
            n_tasks,
            self.n_groups,
            mode=self.mode,
            solver=self.solver,
            prune=self.prune,
            time_limit=self.time_limit,
            what="the estimator's predicted gain",
        )
        self.n_tasks_ = n_tasks
        self.n_candidates_ = selection.n_candidates
        self.groups_ = selection.groups
        self.group_names_ = name_groups(self.groups_, names)
        self.predicted_gain_ = selection.total_gain
        self.task_gain_ = selection.task_gain
        self.task_group_ = selection.task_group
        self.optimal_ = selection.optimal
        self.gap_ = selection.gap
        return self

    def _fit_estimator(self, X, y, fit_params):
        """A clone of ``estimator`` fitted with the metadata meant for it."""
        estimator = clone(self.estimator)
        if get_config()["enable_metadata_routing"]:
            routed = process_routing(self, "fit", **fit_params)
            return estimator.fit(X, y, **routed.estimator.fit)
        try:
            return estimator.fit(X, y, **fit_params)
        except TypeError as exc:
            if not fit_params:
                raise
            raise TypeError(
                f"{type(estimator).__name__}.fit failed with the fit parameters "
                f"{sorted(fit_params)} that GroupSelector.fit passed on unchanged "
                f"({exc}). Pass only what the estimator's fit takes, or enable "
                "metadata routing (sklearn.set_config(enable_metadata_routing="
                "True)) and request them from the estimator."
            ) from exc

    def get_metadata_routing(self):
        """How ``fit`` routes metadata to ``estimator.fit``.

        Used only with ``sklearn.set_config(enable_metadata_routing=True)``;
        see the User Guide of scikit-learn on metadata routing.

        Returns
        -------
        routing : MetadataRouter
            ``fit``'s metadata go to ``estimator.fit``, as requested by it.
        """
        return MetadataRouter(owner=type(self).__name__).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def _candidate_groups(self, n_tasks):
        if self.candidates is not None:
            groups = check_groups(self.candidates, n_tasks, name="candidates")
            if self.max_group_size is not None:
                groups = [g for g in groups if len(g) <= self.max_group_size]
            return [g for g in groups if len(g) >= 2]
        return enumerate_candidates(
            n_tasks,
            self.max_group_size,
            max_candidates=self.max_candidates,
            advice=f"max_candidates={self.max_candidates}: set max_group_size (or "
            "pass candidates) to keep the problem tractable, or raise "
            "max_candidates",
        )

    @available_if(_estimator_predicts)
    def predict(self, X):
        """Predicted gain of group-task rows, from ``estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_rows, 2 * n_tasks)
            Group-task rows ``[u_G | e_t]`` from :func:`encode_groups`.

        Returns
        -------
        y : ndarray of shape (n_rows,)
            The predicted gain of each row's task in the row's group.
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # rows hold 0 and 1 only
        tags.regressor_tags.poor_score = True
        return tags
