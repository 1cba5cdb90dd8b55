import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_etap import (
    ETAPRegressor,
    ResidualRidge,
    SplineAffinityRegressor,
    all_groups,
    encode_groups,
    group_affinity,
    group_row_ids,
    make_etap_search,
    sample_groups,
)
from sklearn_etap._conformance import expected_failed_checks
from sklearn_etap._prediction.residual_ridge import INTERCEPT_SCALE

# Every estimator is checked on its shipped defaults. ResidualRidge() and
# ETAPRegressor() read group-task rows [u_G | e_t] and refuse the checks' random
# continuous matrices: the checks that fit on those are declared, with their
# reason, in the package's one list (sklearn_etap/_conformance.py)
# and their properties are tested on group rows in test_default_conformance.py.
# The passthrough instances run every check through the other code paths.
CHECK_INSTANCES = [
    SplineAffinityRegressor(),
    SplineAffinityRegressor(alpha=1.0),
    ResidualRidge(),
    ResidualRidge(encoding="passthrough"),
    ETAPRegressor(),
    ETAPRegressor(residual_estimator=ResidualRidge(encoding="passthrough")),
    ETAPRegressor(residual_estimator=ResidualRidge(encoding="passthrough"), cv=3),
]


@parametrize_with_checks(CHECK_INSTANCES, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _planted_problem(n_tasks=6, n_groups=None, seed=0, noise=0.0):
    """Gains = smooth function of group affinity + per-member offsets."""
    rng = np.random.RandomState(seed)
    A = rng.normal(scale=0.5, size=(n_tasks, n_tasks))
    groups = (
        all_groups(n_tasks)
        if n_groups is None
        else sample_groups(n_tasks, n_groups, random_state=seed)
    )
    P = encode_groups(groups, n_tasks)
    member_effect = rng.normal(scale=0.2, size=n_tasks)
    y = np.tanh(2 * group_affinity(A, P)) + P[:, :n_tasks] @ member_effect
    y += noise * rng.normal(size=len(y))
    return A, groups, P, y, member_effect


@pytest.fixture
def problem():
    return _planted_problem()


def test_spline_recovers_smooth_nonlinear_function_better_than_linear():
    rng = np.random.RandomState(0)
    x = rng.uniform(-2, 2, size=(120, 1))
    y = np.sin(2 * x).ravel() + 0.05 * rng.normal(size=120)
    x_test = np.linspace(-1.9, 1.9, 200).reshape(-1, 1)
    truth = np.sin(2 * x_test).ravel()
    spline = SplineAffinityRegressor(degree=3, n_knots=6, alpha=1e-3).fit(x, y)
    linear = LinearRegression().fit(x, y)
    spline_mse = np.mean((spline.predict(x_test) - truth) ** 2)
    linear_mse = np.mean((linear.predict(x_test) - truth) ** 2)
    assert spline_mse < 0.01
    assert spline_mse < linear_mse / 10


def test_spline_extrapolation_stays_bounded():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, size=(60, 1))
    y = x.ravel() ** 3 + 0.05 * rng.normal(size=60)
    inside = np.linspace(-1, 1, 50).reshape(-1, 1)
    far = np.array([[-100.0], [-10.0], [10.0], [100.0]])
    for degree in (2, 3, 6):
        reg = SplineAffinityRegressor(degree=degree, n_knots=5, alpha=1e-3).fit(x, y)
        pred_inside = reg.predict(inside)
        pred_far = reg.predict(far)
        # default: constant continuation of the boundary values
        np.testing.assert_allclose(pred_far[:2], reg.predict([[x.min()]]).repeat(2))
        np.testing.assert_allclose(pred_far[2:], reg.predict([[x.max()]]).repeat(2))
        assert pred_inside.min() - 1e-9 <= pred_far.min()
        assert pred_far.max() <= pred_inside.max() + 1e-9
    # "continue" evaluates the boundary polynomials: it does explode, which is
    # why it is not the default
    wild = SplineAffinityRegressor(degree=6, n_knots=5, extrapolation="continue")
    assert np.abs(wild.fit(x, y).predict(far)).max() > 1e3


def test_spline_linear_extrapolation_grows_linearly():
    x = np.linspace(0, 1, 30).reshape(-1, 1)
    y = np.sin(3 * x).ravel()
    reg = SplineAffinityRegressor(extrapolation="linear", alpha=1e-3).fit(x, y)
    p = reg.predict([[2.0], [3.0], [4.0]])
    np.testing.assert_allclose(p[2] - p[1], p[1] - p[0], rtol=1e-6)


def test_prediction_is_stage1_plus_stage2_exactly(problem):
    A, _, P, y, _ = problem
    etap = ETAPRegressor(affinity=A).fit(P, y)
    stage1 = etap.affinity_estimator_.predict(group_affinity(A, P).reshape(-1, 1))
    stage2 = etap.residual_estimator_.predict(P)
    np.testing.assert_array_equal(etap.predict(P), stage1 + stage2)
    parts = etap.predict_stages(P)
    np.testing.assert_array_equal(parts[0], stage1)
    np.testing.assert_array_equal(parts[1], stage2)


def test_stage2_is_fitted_on_stage1_residuals(problem):
    A, _, P, y, _ = problem
    etap = ETAPRegressor(affinity=A, center_stage1=False).fit(P, y)
    z = group_affinity(A, P).reshape(-1, 1)
    stage1 = SplineAffinityRegressor().fit(z, y)
    stage2 = ResidualRidge().fit(P, y - stage1.predict(z))
    np.testing.assert_allclose(
        etap.residual_estimator_.ridge_.coef_, stage2.ridge_.coef_, rtol=1e-10
    )


def test_affinity_matrix_and_precomputed_column_agree(problem):
    A, _, P, y, _ = problem
    with_matrix = ETAPRegressor(affinity=A).fit(P, y)
    X = np.column_stack([group_affinity(A, P), P])
    with_column = ETAPRegressor().fit(X, y)
    np.testing.assert_allclose(with_matrix.predict(P), with_column.predict(X))


def test_residual_stage_recovers_planted_member_effect():
    n_tasks = 5
    P = encode_groups(all_groups(n_tasks), n_tasks)
    effect = np.array([0.3, -0.2, 0.0, 0.5, -0.4])
    y = 0.1 + P[:, :n_tasks] @ effect
    reg = ResidualRidge(alpha=1e-8, encoding="membership", group_size=None).fit(P, y)
    # column 0 is the intercept, scaled by INTERCEPT_SCALE
    np.testing.assert_allclose(reg.ridge_.coef_[1:], effect, atol=1e-6)
    np.testing.assert_allclose(reg.ridge_.coef_[0] * INTERCEPT_SCALE, 0.1, atol=1e-6)


def test_residual_stage_recovers_planted_per_task_offset():
    # each target task has its own offset: needs e_t in the encoding
    n_tasks = 5
    P = encode_groups(all_groups(n_tasks), n_tasks)
    offset = np.array([0.4, -0.1, 0.2, -0.3, 0.0])
    y = P[:, n_tasks:] @ offset
    for encoding in ("per_task", "membership+task"):
        reg = ResidualRidge(alpha=1e-8, encoding=encoding, group_size=None).fit(P, y)
        np.testing.assert_allclose(reg.predict(P), y, atol=1e-6)
    with pytest.warns(FutureWarning, match="'pooled'.* deprecated"):  # until 0.2
        pooled = ResidualRidge(alpha=1e-8, encoding="pooled", group_size=None)
        np.testing.assert_allclose(pooled.fit(P, y).predict(P), y, atol=1e-6)
    membership_only = ResidualRidge(
        alpha=1e-8, encoding="membership", group_size=None
    ).fit(P, y)
    assert membership_only.score(P, y) < 0.5


def test_residual_interaction_encoding_recovers_pairwise_effects():
    n_tasks = 4
    P = encode_groups(all_groups(n_tasks), n_tasks)
    rng = np.random.RandomState(0)
    W = rng.normal(size=(n_tasks, n_tasks))  # W[s, t]: member s on target t
    membership, target = P[:, :n_tasks], P[:, n_tasks:].argmax(axis=1)
    y = np.array([membership[r] @ W[:, target[r]] for r in range(len(P))])
    full = ResidualRidge(alpha=1e-8, encoding="interaction", group_size=None).fit(P, y)
    np.testing.assert_allclose(full.predict(P), y, atol=1e-5)
    # each target its own coefficients: the official per-task ridge fits it too
    per_task = ResidualRidge(alpha=1e-8, encoding="per_task").fit(P, y)
    np.testing.assert_allclose(per_task.predict(P), y, atol=1e-5)
    shared = ResidualRidge(alpha=1e-8, encoding="membership+task", group_size=None)
    shared.fit(P, y)
    assert shared.score(P, y) < 0.9


def test_residual_ridge_rejects_odd_width():
    with pytest.raises(ValueError, match="encode_groups.*2 \\* n_tasks columns"):
        ResidualRidge().fit(np.zeros((4, 3)), np.zeros(4))


def test_etap_recovers_planted_structure_on_unseen_groups():
    A, groups, P, y, _ = _planted_problem(n_tasks=7, seed=3)
    row_group = group_row_ids(groups)
    rng = np.random.RandomState(0)
    train_groups = rng.choice(len(groups), size=25, replace=False)
    train = np.isin(row_group, train_groups)
    etap = ETAPRegressor(
        affinity=A,
        affinity_estimator=SplineAffinityRegressor(alpha=0.01),
        residual_estimator=ResidualRidge(alpha=0.01),
    ).fit(P[train], y[train])
    stage1_only = SplineAffinityRegressor(alpha=0.01).fit(
        group_affinity(A, P[train]).reshape(-1, 1), y[train]
    )
    r_etap = np.corrcoef(etap.predict(P[~train]), y[~train])[0, 1]
    r_stage1 = np.corrcoef(
        stage1_only.predict(group_affinity(A, P[~train]).reshape(-1, 1)), y[~train]
    )[0, 1]
    assert r_etap > 0.9
    assert r_etap > r_stage1


def test_out_of_fold_stage1_uses_group_folds(problem):
    A, groups, P, y, _ = problem
    etap = ETAPRegressor(affinity=A, cv=3, center_stage1=False).fit(P, y)
    z = group_affinity(A, P).reshape(-1, 1)
    # u_G identifies the group; GroupKFold over those ids
    _, ids = np.unique(P[:, :6], axis=0, return_inverse=True)
    oof = cross_val_predict(
        SplineAffinityRegressor(), z, y, cv=GroupKFold(3), groups=ids.ravel()
    )
    expected = ResidualRidge().fit(P, y - oof)
    np.testing.assert_allclose(
        etap.residual_estimator_.ridge_.coef_, expected.ridge_.coef_, rtol=1e-10
    )
    # stage 1 used for prediction is refit on all rows
    full = SplineAffinityRegressor().fit(z, y)
    np.testing.assert_allclose(etap.affinity_estimator_.predict(z), full.predict(z))


def test_user_estimators_are_cloned_not_fitted(problem):
    A, _, P, y, _ = problem
    stage1, stage2 = SplineAffinityRegressor(), ResidualRidge()
    etap = ETAPRegressor(
        affinity=A, affinity_estimator=stage1, residual_estimator=stage2
    )
    etap.fit(P, y)
    assert not hasattr(stage1, "pipeline_") and not hasattr(stage2, "ridge_")
    assert etap.affinity_estimator_ is not stage1


def test_any_regressors_as_stages(problem):
    A, _, P, y, _ = problem
    etap = ETAPRegressor(
        affinity=A, affinity_estimator=LinearRegression(), residual_estimator=Ridge()
    ).fit(P, y)
    assert etap.predict(P).shape == y.shape


def test_etap_errors_name_the_problem(problem):
    A, _, P, y, _ = problem
    with pytest.raises(ValueError, match="affinity has 6 tasks"):
        ETAPRegressor(affinity=A).fit(P[:, :10], y)
    with pytest.raises(ValueError, match="square"):
        ETAPRegressor(affinity=A[:, :5]).fit(P, y)
    with pytest.raises(ValueError, match="not a member"):
        bad = P.copy()
        bad[0, :6] = 0
        bad[0, 1:3] = 1
        bad[0, 6:] = 0
        bad[0, 6] = 1
        ETAPRegressor(affinity=A).fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        ETAPRegressor(affinity=np.full((6, 6), np.nan)).fit(P, y)
    etap = ETAPRegressor(affinity=A).fit(P, y)
    with pytest.raises(ValueError, match="12 features"):
        etap.predict(P[:, :10])


def test_pipeline_gridsearch_nested_params(problem):
    A, groups, P, y, _ = problem
    etap = ETAPRegressor(
        affinity=A,
        affinity_estimator=SplineAffinityRegressor(),
        residual_estimator=ResidualRidge(),
    )
    pipe = make_pipeline(FunctionTransformer(), etap)
    search = GridSearchCV(
        pipe,
        {
            "etapregressor__affinity_estimator__degree": [2, 3],
            "etapregressor__residual_estimator__alpha": [0.01, 1.0],
            "etapregressor__residual_estimator__encoding": [
                "membership",
                "membership+task",
            ],
        },
        cv=GroupKFold(3),
    ).fit(P, y, groups=group_row_ids(groups))
    best = search.best_estimator_[-1]
    assert best.affinity_estimator_.degree in (2, 3)
    assert (
        best.residual_estimator_.alpha
        == search.best_params_["etapregressor__residual_estimator__alpha"]
    )
    assert search.best_score_ > 0.8


def test_make_etap_search_covers_paper_grid(problem):
    A, groups, P, y, _ = problem
    search = make_etap_search(A, n_train_groups=len(groups))
    grid = search.param_grid
    assert grid["affinity_estimator__degree"] == [2, 3, 4, 5, 6]
    # both penalties are chosen inside each fit, in closed form
    assert "residual_estimator__alpha" not in grid
    assert "affinity_estimator__alpha" not in grid
    assert search.estimator.residual_estimator.alpha is None
    assert search.estimator.affinity_estimator.alpha is None
    # knots up to about sqrt(#groups) interior knots
    assert max(grid["affinity_estimator__n_knots"]) - 2 == int(np.sqrt(len(groups)))
    assert isinstance(search.cv, GroupKFold)
    with pytest.raises(ValueError, match="groups"):
        search.fit(P, y)  # rows of one group must stay together


@pytest.mark.parametrize(
    "estimator",
    [
        SplineAffinityRegressor(degree=4),
        ResidualRidge(encoding="interaction"),
        ETAPRegressor(cv=3),
    ],
    ids=lambda e: type(e).__name__,
)
def test_clone_and_pickle_round_trip_predictions_exactly(problem, estimator):
    A, _, P, y, _ = problem
    if isinstance(estimator, ETAPRegressor):
        estimator = clone(estimator).set_params(affinity=A)
        X = P
    elif isinstance(estimator, SplineAffinityRegressor):
        X = group_affinity(A, P).reshape(-1, 1)
    else:
        X = P
    fitted = clone(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))
    refit = clone(fitted)
    assert not hasattr(refit, "n_features_in_")
    np.testing.assert_array_equal(refit.fit(X, y).predict(X), fitted.predict(X))


def test_group_rows_are_decided_by_the_parameters_never_guessed(problem):
    A, _, P, y, _ = problem
    z = group_affinity(A, P).reshape(-1, 1)
    X = np.column_stack([z, P])
    # The default residual stage reads group rows: stage 1 within task, as
    # with the affinity matrix.
    np.testing.assert_allclose(
        ETAPRegressor().fit(X, y).predict(X),
        ETAPRegressor(affinity=A).fit(P, y).predict(P),
    )
    # A residual stage that takes columns as given: the same 0/1 columns are
    # not read as group rows, so stage 1 fits the raw gains and every
    # distinct row is its own group.
    own = ETAPRegressor(residual_estimator=ResidualRidge(encoding="passthrough"))
    own.fit(X, y)
    np.testing.assert_allclose(
        own.affinity_estimator_.predict(z),
        SplineAffinityRegressor().fit(z, y).predict(z),
    )
    target = P[:, 6:].argmax(axis=1)
    means = np.array([y[target == t].mean() for t in range(6)])
    centred = SplineAffinityRegressor().fit(z, y - means[target]).predict(z)
    assert not np.allclose(own.affinity_estimator_.predict(z), centred)
    # Rows that are not group rows with the default are an error, not a
    # silent switch to other grouping and centring.
    rng = np.random.RandomState(0)
    for width in (7, 8):
        with pytest.raises(ValueError, match="encode_groups"):
            ETAPRegressor().fit(rng.uniform(size=(20, width)), rng.normal(size=20))
    # The per-task scaling has no task to scale by with columns of one's own.
    with pytest.raises(ValueError, match="affinity_scaling='within_task'.*target"):
        ETAPRegressor(
            residual_estimator=ResidualRidge(encoding="passthrough"),
            affinity_scaling="within_task",
        ).fit(X, y)
    # Any other regressor as stage 2 takes the columns as given too.
    with_ridge = ETAPRegressor(residual_estimator=Ridge()).fit(X, y)
    np.testing.assert_allclose(
        with_ridge.affinity_estimator_.predict(z), own.affinity_estimator_.predict(z)
    )
