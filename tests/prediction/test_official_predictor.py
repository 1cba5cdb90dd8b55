"""The benchmarks' official predictor against small hand-computed answers."""

import sys
from pathlib import Path

import numpy as np

from sklearn_etap import encode_groups

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from official_predictor import OfficialPredictor  # noqa: E402

GROUPS = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
P = encode_groups(GROUPS, n_tasks=3)  # rows: 0-1:0, 0-1:1, 0-2:0, 0-2:2, 1-2:1, ...
LINEAR = {
    "splinetransformer__degree": [1],
    "splinetransformer__n_knots": [2],
    "ridge__alpha": [1e-10],
}


def test_stage1_is_the_affine_line_through_exact_data_and_flat_outside():
    z = np.arange(len(P), dtype=float)  # 0 .. 8, mapped onto [0, 1]
    y = 2.0 + 3.0 * z / 8.0
    model = OfficialPredictor(stage1_grid=LINEAR, stage2_alphas=[1.0]).fit(z, P, y)
    stage1, stage2 = model.predict_stages(np.array([-8.0, 4.0, 16.0]), P[:3])
    # 2 + 3 x on [0, 1]; the spline holds its boundary values outside.
    np.testing.assert_allclose(stage1, [2.0, 3.5, 5.0], atol=1e-6)
    np.testing.assert_allclose(stage2, 0.0, atol=1e-6)  # nothing left over


def test_stage2_is_one_ridge_with_intercept_per_target_task_on_membership():
    z = np.arange(len(P), dtype=float)
    y = np.array([1.0, 0.0, 3.0, 1.0, 2.0, 2.0, 4.0, 0.0, 5.0])
    # A huge stage-1 penalty leaves the spline flat: stage 1 is mean(y) = 2.
    flat = {**LINEAR, "ridge__alpha": [1e12]}
    model = OfficialPredictor(stage1_grid=flat, stage2_alphas=[1.0]).fit(z, P, y)
    stage1, stage2 = model.predict_stages(z, P)
    np.testing.assert_allclose(stage1, 2.0, atol=1e-6)
    # Task 0's rows are groups 0-1, 0-2, 0-1-2 with residuals -1, 1, 2.
    # Membership of tasks 1, 2 centred: u1 = (1, -2, 1) / 3, u2 = (-2, 1, 1) / 3;
    # Gram + I = [[5/3, -1/3], [-1/3, 5/3]], X'r = (-1/3 - 2/3 + 2/3,
    # 2/3 + 1/3 + 2/3) = (-1/3, 5/3), so w = (0, 1), and the intercept
    # mean(r) - w . mean(u) = 2/3 - 2/3 = 0: predictions u2 = (0, 1, 1).
    task0 = np.array([0, 2, 6])
    np.testing.assert_allclose(stage2[task0], [0.0, 1.0, 1.0], atol=1e-9)


def test_stage2_penalty_is_chosen_from_the_official_grid():
    rng = np.random.RandomState(0)
    z = rng.normal(size=len(P))
    y = rng.normal(size=len(P))
    model = OfficialPredictor().fit(z, P, y)
    assert np.isclose(np.logspace(-6, 2, 20), model.stage2_alpha_).any()


def test_stage1_search_agrees_with_grid_search_cv():
    from official_predictor import search_stage1, spline_ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold

    rng = np.random.RandomState(1)
    z = rng.uniform(size=(40, 1))
    y = np.sin(4 * z).ravel() + 0.3 * rng.normal(size=40)
    groups = np.repeat(np.arange(10), 4)
    grid = {
        "splinetransformer__degree": [2, 3],
        "splinetransformer__n_knots": [2, 3, 4],
        "ridge__alpha": [0.001, 0.1, 1.0],
    }
    cv = GroupKFold(5)
    search = GridSearchCV(
        spline_ridge(), grid, cv=cv, scoring="neg_mean_squared_error"
    ).fit(z, y, groups=groups)
    best = search_stage1(z, y, list(cv.split(z, groups=groups)), grid)
    params = search.best_params_
    assert best == (
        params["splinetransformer__degree"],
        params["splinetransformer__n_knots"],
        params["ridge__alpha"],
    )
