"""The residual stage's default, its penalty selection, and what is refused."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold, KFold, cross_val_predict

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
from sklearn_etap._prediction.residual_ridge import TASK_PENALTIES, residual_features


def _per_task_problem(n_tasks=6, n_groups=20, seed=0, noise=0.0):
    """Gains = a level per target task + what each other member does to it."""
    rng = np.random.RandomState(seed)
    groups = sample_groups(n_tasks, n_groups, random_state=seed)
    P = encode_groups(groups, n_tasks)
    level = rng.normal(size=n_tasks)
    W = rng.normal(scale=0.3, size=(n_tasks, n_tasks))  # W[s, t]: member s on t
    membership, target = P[:, :n_tasks], P[:, n_tasks:].argmax(axis=1)
    others = membership.copy()
    others[np.arange(len(P)), target] = 0
    y = level[target] + np.einsum("rs,sr->r", others, W[:, target])
    return groups, P, y + noise * rng.normal(size=len(y)), level, W


def test_default_residual_stage_recovers_per_task_intercepts_and_coefficients():
    groups, P, y, level, W = _per_task_problem(n_tasks=5, n_groups=26)
    reg = ResidualRidge(alpha=1e-8, encoding="per_task", group_size=None).fit(P, y)
    n_tasks = 5
    # every singleton group: the task's level alone
    singles = encode_groups([(t,) for t in range(n_tasks)], n_tasks)
    np.testing.assert_allclose(reg.predict(singles), level, atol=1e-5)
    # every pair (s, t): level of t plus W[s, t]
    pairs = [(s, t) for s in range(n_tasks) for t in range(s + 1, n_tasks)]
    pred = reg.predict(encode_groups(pairs, n_tasks))
    expected = np.concatenate(
        [[level[s] + W[t, s], level[t] + W[s, t]] for s, t in pairs]
    )
    np.testing.assert_allclose(pred, expected, atol=1e-5)


def test_default_picks_alpha_by_leave_one_group_out():
    groups, P, y, *_ = _per_task_problem(noise=0.5, seed=1)
    reg = ResidualRidge(encoding="per_task", group_size="log").fit(P, y)
    assert reg.cv_errors_.shape == (1, 1, len(reg.alphas))
    assert reg.alpha_ == reg.alphas[int(np.argmin(reg.cv_errors_))]
    # the closed form equals refitting without each group, for every alpha
    F = residual_features(P, "per_task", group_size="log")
    row_group = group_row_ids(groups)
    # (refits by the normal equations' SVD solution, Ridge's "svd" solver
    # without its per-fit overhead; one Ridge refit below checks the two agree)
    for alpha, error in zip(reg.alphas, reg.cv_errors_.ravel()):
        squared = 0.0
        for g in range(len(groups)):
            out = row_group == g
            U, s, Vt = np.linalg.svd(F[~out], full_matrices=False)
            coef = Vt.T @ ((s / (s**2 + alpha)) * (U.T @ y[~out]))
            squared += np.sum((F[out] @ coef - y[out]) ** 2)
        assert error == pytest.approx(squared / len(y), rel=1e-5, abs=1e-10)
    out = row_group == 0
    ridge = Ridge(alpha=reg.alphas[3], fit_intercept=False, solver="svd")
    U, s, Vt = np.linalg.svd(F[~out], full_matrices=False)
    coef = Vt.T @ ((s / (s**2 + reg.alphas[3])) * (U.T @ y[~out]))
    np.testing.assert_allclose(ridge.fit(F[~out], y[~out]).coef_, coef, rtol=1e-6)


def test_default_chooses_pooling_size_term_and_alpha_jointly():
    groups, P, y, *_ = _per_task_problem(noise=0.3, seed=4)
    with pytest.warns(FutureWarning, match="'pooled'.* deprecated"):
        reg = ResidualRidge(encoding="pooled").fit(P, y)
    assert reg.cv_errors_.shape == (2, len(TASK_PENALTIES), len(reg.alphas))
    i, j, k = np.unravel_index(np.argmin(reg.cv_errors_), reg.cv_errors_.shape)
    assert (reg.group_size_, reg.task_penalty_, reg.alpha_) == (
        ("log", "linear")[i],
        TASK_PENALTIES[j],
        reg.alphas[k],
    )
    with pytest.warns(FutureWarning, match="deprecated"):
        fixed = ResidualRidge(
            alpha=reg.alpha_,
            encoding="pooled",
            task_penalty=reg.task_penalty_,
            group_size=reg.group_size_,
        ).fit(P, y)
    assert fixed.cv_errors_ is None
    np.testing.assert_allclose(fixed.predict(P), reg.predict(P))


def test_group_size_term_is_learnt_unpenalised():
    # gains fall with group size the same way for every task
    n_tasks = 6
    groups = all_groups(n_tasks)
    P = encode_groups(groups, n_tasks)
    level = np.linspace(-0.5, 0.5, n_tasks)
    y = level[P[:, n_tasks:].argmax(axis=1)] - 0.2 * np.log(P[:, :n_tasks].sum(axis=1))
    reg = ResidualRidge(alpha=1e4, encoding="per_task", group_size="log").fit(P, y)
    # membership terms are switched off by the large alpha; level and size stay
    np.testing.assert_allclose(reg.predict(P), y, atol=1e-3)


def test_group_loo_keeps_duplicated_rows_together():
    # passthrough: equal rows are one group, so weight 2 == the row twice
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=12)
    weighted = ResidualRidge(encoding="passthrough").fit(
        X, y, sample_weight=np.r_[2.0, np.ones(11)]
    )
    doubled = ResidualRidge(encoding="passthrough").fit(
        np.r_[X[:1], X], np.r_[y[:1], y]
    )
    np.testing.assert_allclose(weighted.cv_errors_ * 12, doubled.cv_errors_ * 13)
    np.testing.assert_allclose(weighted.predict(X), doubled.predict(X))


def test_pooled_shrinks_per_task_coefficients_towards_shared_ones():
    n_tasks = 6
    groups, P, y, *_ = _per_task_problem(n_tasks=n_tasks, n_groups=10, seed=2)
    new = encode_groups(all_groups(n_tasks), n_tasks)
    shared = (
        ResidualRidge(alpha=1.0, encoding="membership+task", group_size=None)
        .fit(P, y)
        .predict(new)
    )
    per_task = (
        ResidualRidge(alpha=1.0, encoding="per_task", group_size=None)
        .fit(P, y)
        .predict(new)
    )
    distances = []
    for task_penalty in (1e-4, 1e-2, 1.0, 1e2, 1e4, 1e8):
        with pytest.warns(FutureWarning, match="deprecated"):
            pooled = ResidualRidge(
                alpha=1.0, encoding="pooled", task_penalty=task_penalty, group_size=None
            ).fit(P, y)
        distances.append(np.abs(pooled.predict(new) - shared).max())
    # a larger penalty on the deviations pulls the fit towards the shared one
    assert np.all(np.diff(distances) < 0)
    assert distances[-1] < 1e-5
    # a small penalty lets each task keep its own coefficients, like per_task
    assert distances[0] > 0.5 * np.abs(per_task - shared).max() > 0.05


def test_cv_splitter_always_splits_by_group():
    groups, P, y, *_ = _per_task_problem(n_groups=12, seed=3)
    A = np.random.RandomState(0).normal(size=(6, 6))
    z = group_affinity(A, P).reshape(-1, 1)
    row_group = group_row_ids(groups)
    kfold = KFold(3, shuffle=True, random_state=0)
    etap = ETAPRegressor(affinity=A, cv=kfold, center_stage1=False).fit(P, y)
    # the splitter splits the distinct groups; every group brings its rows
    _, ids = np.unique(P[:, :6], axis=0, return_inverse=True)
    ids = ids.ravel()
    unique = np.unique(ids)
    splits = [
        (
            np.flatnonzero(np.isin(ids, unique[tr])),
            np.flatnonzero(np.isin(ids, unique[te])),
        )
        for tr, te in kfold.split(unique)
    ]
    for train, test in splits:
        assert not set(row_group[train]) & set(row_group[test])
    oof = cross_val_predict(SplineAffinityRegressor(), z, y, cv=splits)
    expected = ResidualRidge().fit(P, y - oof)
    np.testing.assert_allclose(etap.residual_estimator_.predict(P), expected.predict(P))
    # a row-wise KFold over rows would split groups: explicit pairs that do are refused
    row_splits = list(KFold(3).split(P))
    with pytest.raises(ValueError, match="rows of one group in both"):
        ETAPRegressor(affinity=A, cv=row_splits).fit(P, y)
    # with affinity=None the groups are read from the encoding columns
    X = np.column_stack([z, P])
    by_column = ETAPRegressor(cv=kfold, center_stage1=False).fit(X, y)
    np.testing.assert_allclose(by_column.predict(X), etap.predict(P))
    # an integer is GroupKFold over the groups
    integer = ETAPRegressor(affinity=A, cv=3, center_stage1=False).fit(P, y)
    oof = cross_val_predict(
        SplineAffinityRegressor(), z, y, cv=GroupKFold(3), groups=ids
    )
    np.testing.assert_allclose(
        integer.residual_estimator_.predict(P),
        ResidualRidge().fit(P, y - oof).predict(P),
    )


@pytest.mark.parametrize(
    "estimator", [ResidualRidge(), ETAPRegressor()], ids=lambda e: type(e).__name__
)
def test_rows_that_are_not_group_rows_are_refused(estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 7 if isinstance(estimator, ETAPRegressor) else 6))
    with pytest.raises(ValueError, match="encode_groups"):
        estimator.fit(X, rng.normal(size=20))
    P = encode_groups([(0, 1), (1, 2)], 3)
    two_targets = P.copy()
    two_targets[0, 4] = 1.0
    not_member = P.copy()
    not_member[0, 3:] = [0.0, 0.0, 1.0]
    for bad, what in (
        (two_targets, "exactly one target"),
        (not_member, "not a member"),
    ):
        X = (
            bad
            if isinstance(estimator, ResidualRidge)
            else np.column_stack([np.ones(4), bad])
        )
        with pytest.raises(ValueError, match=f"encode_groups.*{what}"):
            estimator.fit(X, np.zeros(4))


def test_etap_with_affinity_refuses_non_group_rows():
    A = np.eye(3)
    X = np.random.RandomState(0).uniform(size=(5, 6))
    with pytest.raises(
        ValueError, match="ETAPRegressor expects group-task rows.*encode_groups"
    ):
        ETAPRegressor(affinity=A).fit(X, np.zeros(5))


def test_nan_affinity_is_refused_before_fitting_naming_the_tasks():
    A = np.random.RandomState(0).normal(size=(5, 5))
    A[3, :] = np.nan
    A[:, 3] = np.nan
    groups = sample_groups(5, 10, random_state=0)
    P = encode_groups(groups, 5)
    with pytest.raises(ValueError, match=r"NaN or infinite entries for tasks \[3\]"):
        ETAPRegressor(affinity=A).fit(P, np.zeros(len(P)))
    # the search refuses it when made, not after hundreds of failed fits
    with pytest.raises(ValueError, match=r"tasks \[3\]"):
        make_etap_search(A, len(groups))
    with pytest.raises(ValueError, match=r"tasks \[3\]"):
        group_affinity(A, P)


def test_one_affinity_check_for_every_module():
    with pytest.raises(ValueError, match="square"):
        group_affinity(np.ones((2, 3)), encode_groups([(0, 1)], 2))
    with pytest.raises(ValueError, match="square"):
        make_etap_search(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="square"):
        ETAPRegressor(affinity=np.ones((2, 3))).fit(encode_groups([(0, 1)], 2), [0, 0])


def test_spline_stage_one_sample_is_a_one_line_error():
    with pytest.raises(ValueError, match="1 sample.*SplineAffinityRegressor") as info:
        SplineAffinityRegressor().fit([[0.5]], [1.0])
    assert "\n" not in str(info.value)


def test_stage1_is_fitted_within_task_by_default():
    groups, P, y, level, _ = _per_task_problem(n_groups=15, seed=5)
    A = np.random.RandomState(1).normal(size=(6, 6))
    z = group_affinity(A, P).reshape(-1, 1)
    target = P[:, 6:].argmax(axis=1)
    means = np.array([y[target == t].mean() for t in range(6)])
    etap = ETAPRegressor(affinity=A).fit(P, y)
    stage1 = SplineAffinityRegressor().fit(z, y - means[target])
    np.testing.assert_allclose(etap.affinity_estimator_.predict(z), stage1.predict(z))
    residual = ResidualRidge().fit(P, y - stage1.predict(z))
    np.testing.assert_allclose(etap.residual_estimator_.predict(P), residual.predict(P))
    # the tasks' levels are left to stage 2: stage 1 averages ~0 within a task
    raw = ETAPRegressor(affinity=A, center_stage1=False).fit(P, y)
    assert (
        abs(etap.predict_stages(P)[0].mean())
        < abs(raw.predict_stages(P)[0].mean()) + 1e-12
    )


def test_pooled_and_task_penalty_warn_once_per_fit_and_defaults_do_not():
    groups, P, y, *_ = _per_task_problem(seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defaults and kept encodings are silent
        for encoding in ("per_task", "membership", "membership+task", "interaction"):
            ResidualRidge(encoding=encoding).fit(P, y)
    with pytest.warns(FutureWarning) as record:
        ResidualRidge(encoding="pooled", task_penalty=1.0).fit(P, y)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "encoding='pooled'" in messages[0] and "0.2" in messages[0]
    assert "task_penalty" in messages[1]
    # the sentinel default is what tells an unset task_penalty from a set one
    assert ResidualRidge().task_penalty == "deprecated"
