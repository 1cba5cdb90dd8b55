"""The gain predictor of :func:`search_groups`: which one, fitting it on the
measured groups, and how much its predictions move under bootstrap refits."""

import inspect

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection._search import BaseSearchCV

from .._groups import encode_groups, group_row_ids
from .._prediction import ETAPRegressor

# Refits on bootstrap resamples of the measured groups, for the spread of the
# predictions that the exploring strategies use.
N_BOOTSTRAP = 16


def default_estimator():
    """The predictor used without ``affinity`` and ``estimator``: a ridge on
    ``[u_G | e_t]`` (each task's membership effect plus a per-target level)."""
    return Ridge(alpha=1.0)


def make_predictor(affinity, estimator, n_measured_groups):
    """An unfitted predictor for ``n_measured_groups`` measured groups.

    With ``affinity``: ``ETAPRegressor(affinity=affinity)`` with the library's
    defaults, which choose their own penalties from the measured groups (the
    configuration ``benchmarks/bench_adaptive.py --estimator etap`` measured; a
    grid search every round cost more and predicted the same in
    ``benchmarks/bench_gain_prediction.py``).
    """
    if estimator is not None:
        return clone(estimator)
    if affinity is not None:
        return ETAPRegressor(affinity=affinity)
    return default_estimator()


def _accepts_groups(predictor):
    if isinstance(predictor, BaseSearchCV):  # fit(X, y, **params) routes groups
        return True
    try:
        parameters = inspect.signature(predictor.fit).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        return False
    return "groups" in parameters


def rows_of(measured, n_tasks):
    """Group-task rows, gains and row groups of ``{group: member gains}``."""
    groups = list(measured)
    P = encode_groups(groups, n_tasks)
    y = np.concatenate([measured[g] for g in groups])
    return P, y, group_row_ids(groups)


def fit_predictor(predictor, P, y, row_group):
    """Fit ``predictor`` on measured rows; ``groups=`` goes to a search
    (``GridSearchCV`` and the like, for group-wise folds) or a ``fit`` that
    names it."""
    if _accepts_groups(predictor):
        return predictor.fit(P, y, groups=row_group)
    return predictor.fit(P, y)


def bootstrap_spread(fitted, P, y, row_group, candidate_rows, rng):
    """Standard deviation of each candidate row's prediction over refits on
    bootstrap resamples of the measured groups.

    A fitted search (``best_estimator_``) is refitted with its chosen
    parameters only, not searched again.
    """
    base = getattr(fitted, "best_estimator_", fitted)
    group_ids = np.unique(row_group)
    predictions = []
    for _ in range(N_BOOTSTRAP):
        drawn = rng.choice(group_ids, size=len(group_ids), replace=True)
        rows = np.concatenate([np.flatnonzero(row_group == g) for g in drawn])
        model = fit_predictor(clone(base), P[rows], y[rows], row_group[rows])
        predictions.append(np.asarray(model.predict(candidate_rows), dtype=float))
    return np.std(predictions, axis=0)
