"""The exhaustive gain tables and the gain predictors the benchmarks score.

Shared by ``bench_gain_prediction.py`` (how well each method predicts gains
and chooses groups), ``planted_clusters.py`` (does it recover planted
clusters) and ``bench_linearized.py``, so that they load the same tables and
fit the same methods; none of those scripts imports another's question.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scoring import true_total
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_etap import (
    ETAPRegressor,
    MeasuredGains,
    ResidualRidge,
    SplineAffinityRegressor,
    group_affinity,
    make_etap_search,
    select_groups,
)

DATA = Path(__file__).resolve().parent / "data"
BUDGETS = (2, 3, 4)


# --------------------------------------------------------------------------
# Methods: each maps (train rows, targets, row groups, affinities) to a
# function predicting gains of any rows.


def _task_onehot(X):
    return X[:, X.shape[1] // 2 :]


def _group_size(X):
    return X[:, : X.shape[1] // 2].sum(axis=1, keepdims=True)


def fit_task_mean(X, y, row_group, aff):
    onehot = _task_onehot(X)
    counts = onehot.sum(axis=0)
    means = np.divide(onehot.T @ y, counts, out=np.zeros(len(counts)), where=counts > 0)
    fallback = float(np.mean(y))
    means[counts == 0] = fallback
    return lambda Xn: _task_onehot(Xn) @ means


def fit_task_mean_size(X, y, row_group, aff):
    model = LinearRegression(fit_intercept=False)
    model.fit(np.hstack([_task_onehot(X), _group_size(X)]), y)
    return lambda Xn: model.predict(np.hstack([_task_onehot(Xn), _group_size(Xn)]))


def fit_ridge(X, y, row_group, aff):
    model = Ridge().fit(X, y)
    return model.predict


def fit_official(X, y, row_group, aff):
    n_groups = len(np.unique(row_group))
    grid = {
        "degree": [2, 3, 4, 5, 6],
        "n_knots": list(range(2, 3 + int(np.sqrt(n_groups)))),
        "alpha": [0.001, 0.01, 0.1, 1.0],
    }
    z = group_affinity(aff["etap"], X).reshape(-1, 1)
    search = GridSearchCV(
        SplineAffinityRegressor(),
        grid,
        cv=GroupKFold(min(5, n_groups)),
        scoring="neg_mean_squared_error",
    ).fit(z, y, groups=row_group)
    etap = ETAPRegressor(
        affinity=aff["etap"],
        affinity_estimator=search.best_estimator_,
        residual_estimator=ResidualRidge(encoding="per_task"),
    ).fit(X, y)
    return etap.predict


def fit_raw_affinity(X, y, row_group, aff):
    return lambda Xn: group_affinity(aff["etap"], Xn)


def fit_etap(X, y, row_group, aff, key="etap", **params):
    return ETAPRegressor(affinity=aff[key], **params).fit(X, y).predict


def fit_etap_subsampled(X, y, row_group, aff):
    return fit_etap(X, y, row_group, aff, n_subsamples=20, random_state=0)


def fit_etap_search(X, y, row_group, aff):
    n_groups = len(np.unique(row_group))
    search = make_etap_search(aff["etap"], n_groups)
    return search.fit(X, y, groups=row_group).best_estimator_.predict


def fit_tag(X, y, row_group, aff):
    return fit_etap(X, y, row_group, aff, key="tag")


def make_hoa(table):
    """Mean over the other members of the measured pair gains of each row."""
    n_tasks = table.X.shape[1] // 2
    pair = np.zeros((n_tasks, n_tasks))  # pair[s, t]: gain of t trained with s
    for row, task in enumerate(table.row_task):
        group = table.groups[table.row_group[row]]
        if len(group) == 2:
            other = group[0] if group[1] == task else group[1]
            pair[other, task] = table.y[row]

    def fit_hoa(X, y, row_group, aff):
        def predict(Xn):
            n = Xn.shape[1] // 2
            others = Xn[:, :n] * (1 - Xn[:, n:])
            target = Xn[:, n:].argmax(axis=1)
            totals = np.einsum("rs,sr->r", others, pair[:, target])
            return totals / np.maximum(others.sum(axis=1), 1)

        return predict

    return fit_hoa


# --------------------------------------------------------------------------
# Tables and selection


def load(name):
    measured = MeasuredGains.load(DATA / f"gains_{name}.csv")
    table = SimpleNamespace(
        X=measured.X,
        y=measured.y,
        y_per_seed=measured.y_per_seed,
        groups=[tuple(g) for g in measured.groups],
        row_group=measured.row_group,
        row_task=measured.row_task,
    )
    raw = np.load(DATA / f"affinity_{name}.npz")
    aff = {k: raw[k] for k in raw.files if not k.endswith("_seconds")}
    n = aff["etap"].shape[0]
    off = ~np.eye(n, dtype=bool)
    centred = aff["etap"] - np.where(off, aff["etap"], 0).sum(axis=0) / (n - 1)
    aff["etap_centred"] = np.where(off, centred, 0.0)
    aff["flat"] = off.astype(float)  # the same affinity for every pair: no signal

    def gains_and_optima(y):
        gain_of = {
            (table.groups[g], int(t)): float(v)
            for g, t, v in zip(table.row_group, table.row_task, y)
        }
        optimum = {
            b: float(select_groups(y, b, rows=table.X).total_gain) for b in BUDGETS
        }
        return gain_of, optimum

    table.gain_of, table.optimum = gains_and_optima(table.y)
    seeds = [gains_and_optima(y) for y in table.y_per_seed.T]
    table.gain_of_seed = [gain_of for gain_of, _ in seeds]
    table.optimum_seed = [optimum for _, optimum in seeds]
    return table, aff


def selection_regret(table, pred):
    """Regret per budget against the seed mean, and against each seed alone
    (that seed's optimum minus the chosen groups' total under its gains)."""
    out, per_seed = {}, {}
    for budget in BUDGETS:
        chosen = select_groups(pred, budget, rows=table.X).groups
        out[budget] = table.optimum[budget] - true_total(table.gain_of, chosen)
        per_seed[f"regret_{budget}"] = [
            optimum[budget] - true_total(gain_of, chosen)
            for gain_of, optimum in zip(table.gain_of_seed, table.optimum_seed)
        ]
    return out, per_seed
