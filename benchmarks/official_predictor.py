"""The official ETAP predictor as its code computes it, for the benchmarks.

Not the library's ``ETAPRegressor`` defaults: this is the comparison point.

- Stage 1: the group affinity ``z[G -> t]`` mapped affinely onto [0, 1] over
  the training rows, a B-spline basis and a ridge, tuned over the paper's grid
  (degree 2..6, 2 to ``2 + sqrt(n_groups)`` knots, alpha 1e-3..1) by grouped
  5-fold CV on the raw (uncentred) gains. Uniform knots span the training
  range, so the affine map changes nothing but the numbers the spline sees.
- Stage 2: for every target task, a ``Ridge`` with an intercept on the group
  membership ``u_G``, fitted on the stage-1 residuals of the training groups
  that hold the task (``MultiOutputRegressor(Ridge)``, one output per target
  task); one penalty for all tasks, chosen from ``logspace(-6, 2, 20)`` by
  5-fold CV over the training groups (total squared error).

The affinity it is meant for is the one recorded without the momentum term
(the official scripts' ``w_momentum = False``; ``etap_nomomentum`` in
``benchmarks/data/affinity_<table>.npz``).
"""

import warnings

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

STAGE2_ALPHAS = np.logspace(-6, 2, 20)
STAGE1_DEGREES = (2, 3, 4, 5, 6)
STAGE1_ALPHAS = (0.001, 0.01, 0.1, 1.0)
N_FOLDS = 5


def spline_ridge(degree=3, n_knots=4, alpha=1.0):
    """B-spline basis (uniform knots over the training range) + ridge."""
    return make_pipeline(
        SplineTransformer(degree=degree, n_knots=n_knots), Ridge(alpha=alpha)
    )


def ridge_solve(X, y, alpha):
    """Ridge with an unpenalised intercept, in closed form: ``(w, b)``."""
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc = X - x_mean
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - y_mean))
    return w, y_mean - x_mean @ w


def fit_stage2(membership, target, residual, alpha):
    """One ridge with an intercept per target task, on the membership."""
    return {
        t: ridge_solve(membership[target == t], residual[target == t], alpha)
        for t in np.unique(target)
    }


def stage2_predict(models, membership, target):
    """Each row by its target task's ridge (0 for a task never trained on)."""
    out = np.zeros(len(target))
    for t, (w, b) in models.items():
        rows = target == t
        out[rows] = membership[rows] @ w + b
    return out


def _decode(P):
    n = P.shape[1] // 2
    membership = np.asarray(P[:, :n], dtype=float)
    target = P[:, n:].argmax(axis=1)
    _, group = np.unique(membership, axis=0, return_inverse=True)
    return membership, target, group.ravel()


def search_stage1(zs, y, folds, grid):
    """``(degree, n_knots, alpha)`` of least grouped-CV squared error, as
    ``GridSearchCV`` over ``spline_ridge`` finds it (the first best wins)."""
    alphas = grid["ridge__alpha"]
    best, best_error = None, np.inf
    for degree in grid["splinetransformer__degree"]:
        for n_knots in grid["splinetransformer__n_knots"]:
            errors = np.zeros(len(alphas))
            for train, test in folds:
                spline = SplineTransformer(degree=degree, n_knots=n_knots)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    B = spline.fit_transform(zs[train])
                    Bt = spline.transform(zs[test])
                for k, alpha in enumerate(alphas):
                    w, b = ridge_solve(B, y[train], alpha)
                    errors[k] += np.mean((y[test] - Bt @ w - b) ** 2)
            for k, alpha in enumerate(alphas):
                if errors[k] < best_error - 1e-15:
                    best, best_error = (degree, n_knots, alpha), errors[k]
    return best


class OfficialPredictor:
    """Fit with ``fit(z, P, y)``; ``z`` the group affinity of rows ``P``."""

    def __init__(self, stage1_grid=None, stage2_alphas=STAGE2_ALPHAS):
        self.stage1_grid = stage1_grid
        self.stage2_alphas = stage2_alphas

    def _affine(self, z):
        z = np.asarray(z, dtype=float).ravel()
        return ((z - self.z_min_) / self.z_span_).reshape(-1, 1)

    def fit(self, z, P, y):
        z = np.asarray(z, dtype=float).ravel()
        y = np.asarray(y, dtype=float)
        membership, target, group = _decode(P)
        n_groups = len(np.unique(group))
        self.z_min_ = z.min()
        self.z_span_ = (z.max() - z.min()) or 1.0
        grid = self.stage1_grid or {
            "splinetransformer__degree": list(STAGE1_DEGREES),
            "splinetransformer__n_knots": list(range(2, 3 + int(np.sqrt(n_groups)))),
            "ridge__alpha": list(STAGE1_ALPHAS),
        }
        zs = self._affine(z)
        folds = list(GroupKFold(min(N_FOLDS, n_groups)).split(zs, groups=group))
        self.stage1_params_ = search_stage1(zs, y, folds, grid)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.stage1_ = spline_ridge(*self.stage1_params_).fit(zs, y)
        residual = y - self.stage1_.predict(zs)
        self.stage2_alpha_ = self._choose_alpha(membership, target, folds, residual)
        self.stage2_ = fit_stage2(membership, target, residual, self.stage2_alpha_)
        return self

    def _choose_alpha(self, membership, target, folds, residual):
        alphas = np.asarray(self.stage2_alphas, dtype=float)
        if len(alphas) == 1:
            return float(alphas[0])
        errors = []
        for alpha in alphas:
            total = 0.0
            for train, test in folds:
                models = fit_stage2(
                    membership[train], target[train], residual[train], alpha
                )
                pred = stage2_predict(models, membership[test], target[test])
                total += float(np.sum((residual[test] - pred) ** 2))
            errors.append(total)
        return float(alphas[int(np.argmin(errors))])

    def predict_stages(self, z, P):
        membership, target, _ = _decode(P)
        stage1 = self.stage1_.predict(self._affine(z))
        return stage1, stage2_predict(self.stage2_, membership, target)

    def predict(self, z, P):
        stage1, stage2 = self.predict_stages(z, P)
        return stage1 + stage2
