"""The gain predictor of :func:`search_groups`: which one, fitting it on the
measured groups, and how much its predictions move under bootstrap refits."""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.utils.metadata_routing import get_routing_for_object

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
    defaults, which choose their own penalties from the measured groups; no
    grid search (the configuration ``benchmarks/bench_adaptive.py --estimator
    etap`` measures).
    """
    if estimator is not None:
        return clone(estimator)
    if affinity is not None:
        return ETAPRegressor(affinity=affinity)
    return default_estimator()


def consumes_groups(predictor):
    """Whether ``predictor.fit`` takes the rows' groups, by its metadata routing.

    scikit-learn's searches with a group-wise ``cv`` (``GroupKFold``...) do,
    with or without ``enable_metadata_routing``; any estimator does once its
    ``set_fit_request(groups=True)`` asks for them (routing enabled).
    """
    return bool(get_routing_for_object(predictor).consumes("fit", ["groups"]))


def rows_of(measured, n_tasks):
    """Group-task rows, gains and row groups of ``{group: member gains}``."""
    groups = list(measured)
    P = encode_groups(groups, n_tasks)
    y = np.concatenate([measured[g] for g in groups])
    return P, y, group_row_ids(groups)


def fit_predictor(predictor, P, y, row_group):
    """Fit ``predictor`` on measured rows, with ``groups=`` when it
    :func:`consumes_groups`."""
    if consumes_groups(predictor):
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
