"""A grid search around ETAPRegressor's defaults: a thin helper, no defaults of its own.

The estimator searched is ``ETAPRegressor``'s default with its stages made
explicit (``default_stages``), so ``set_params`` can reach them; the grid adds
the spline's degree and knots, which the defaults fix. Everything else,
penalties included, is what ``ETAPRegressor()`` does.
"""

import math
from numbers import Integral

from sklearn.model_selection import GridSearchCV, GroupKFold

from .etap import ETAPRegressor
from .stages import default_stages
from .validation import check_affinity


def etap_param_grid(n_train_groups):
    """The spline's degree and knots for :class:`ETAPRegressor`, sized to the groups.

    Spline degree 2 to 6 and interior knots from 0 up to about
    ``sqrt(n_train_groups)`` (``n_knots`` counts the two boundary knots too),
    the paper's ranges; the defaults (degree 3, 4 knots) are among them.
    The penalties are not in the grid: each fit chooses them itself in closed
    form, the spline's by leave-one-out over 1e-3 to 1e4, the residual
    stage's (with its group-size term) by leave-one-group-out over 1e-6 to
    1e4, exactly as ``ETAPRegressor()`` does without a search. (The paper's
    grid also searched both penalties over {0.001, 0.01, 0.1, 1}.)

    Parameters
    ----------
    n_train_groups : int
        Number of groups whose gains were measured.

    Returns
    -------
    param_grid : dict
        Parameter names of an ``ETAPRegressor`` mapped to candidate values.

    Examples
    --------
    >>> from sklearn_etap import etap_param_grid
    >>> etap_param_grid(10)["affinity_estimator__n_knots"]
    [2, 3, 4, 5]
    """
    if n_train_groups < 2:
        raise ValueError(
            f"the grid is tuned by cross-validation over groups, which needs at "
            f"least 2 training groups; got {n_train_groups}."
        )
    max_interior_knots = math.isqrt(int(n_train_groups))
    return {
        "affinity_estimator__degree": [2, 3, 4, 5, 6],
        "affinity_estimator__n_knots": list(range(2, 3 + max_interior_knots)),
    }


def make_etap_search(
    affinity,
    n_train_groups,
    *,
    n_splits=5,
    scoring="neg_mean_squared_error",
    n_jobs=None,
    verbose=0,
    **etap_params,
):
    """A ``GridSearchCV`` of ``ETAPRegressor``'s defaults over degree and knots.

    A thin helper: the estimator is ``ETAPRegressor(affinity=affinity,
    **etap_params)`` with its default stages passed explicitly, and the grid
    is :func:`etap_param_grid`. The rows of one group share its training
    run, so they are not
    independent: folds are made by :class:`~sklearn.model_selection.
    GroupKFold` and ``fit`` needs the group of every row, as ``groups=``.

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks)
        Task-affinity matrix for the :class:`ETAPRegressor`.
    n_train_groups : int
        Number of measured groups; sizes the knot grid and bounds the folds.
    n_splits : int, default=5
        Folds, at least 2; capped at ``n_train_groups``.
    scoring : str or callable, default="neg_mean_squared_error"
        Passed to ``GridSearchCV``. With few rows per fold, R^2 per fold is
        unstable, hence the squared error.
    n_jobs : int, default=None
        Parallel jobs of the search.
    verbose : int, default=0
        Progress of the search, as ``GridSearchCV`` prints it: 1 gives the
        number of candidates and fits, 2 adds each fit's time, 3 its score.
    **etap_params : dict
        Other ``ETAPRegressor`` parameters, such as ``cv``.

    Returns
    -------
    search : GridSearchCV
        Unfitted; call ``search.fit(P, y, groups=row_group)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import (encode_groups, group_affinity,
    ...                           make_etap_search, sample_groups)
    >>> from sklearn_etap import group_row_ids
    >>> A = np.random.RandomState(0).normal(size=(5, 5))
    >>> groups = sample_groups(5, 8, random_state=0)
    >>> P = encode_groups(groups, 5)
    >>> y = np.tanh(group_affinity(A, P))
    >>> search = make_etap_search(A, len(groups), n_splits=4)
    >>> search = search.fit(P, y, groups=group_row_ids(groups))
    >>> sorted(search.best_params_)[:2]
    ['affinity_estimator__degree', 'affinity_estimator__n_knots']
    """
    # Refuse a bad affinity now, not after hundreds of fits that all fail.
    affinity = check_affinity(affinity)
    if isinstance(n_splits, bool) or not isinstance(n_splits, Integral) or n_splits < 2:
        raise ValueError(
            f"n_splits={n_splits!r}; cross-validation needs an integer number of "
            "folds of at least 2."
        )
    stage1, stage2 = default_stages()
    estimator = ETAPRegressor(
        affinity=affinity,
        affinity_estimator=stage1,
        residual_estimator=stage2,
        **etap_params,
    )
    return GridSearchCV(
        estimator,
        etap_param_grid(n_train_groups),
        cv=GroupKFold(n_splits=max(2, min(n_splits, int(n_train_groups)))),
        scoring=scoring,
        n_jobs=n_jobs,
        verbose=verbose,
    )
