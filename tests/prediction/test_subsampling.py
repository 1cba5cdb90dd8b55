"""ETAPRegressor(n_subsamples=...): fits on subsets of the groups, averaged."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_etap import (
    ETAPRegressor,
    ResidualRidge,
    encode_groups,
    group_affinity,
    group_row_ids,
    sample_groups,
)
from sklearn_etap._conformance import expected_failed_checks
from sklearn_etap._prediction.subsample import average_seen, draw_group_subsets
from sklearn_etap._prediction.validation import check_group_rows


def _row_group_ids(P):
    """The group ids ETAPRegressor draws its subsets from."""
    return check_group_rows(P, "test")[2]


def _problem(n_tasks=6, n_groups=12, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(n_tasks, n_tasks))
    groups = sample_groups(n_tasks, n_groups, random_state=seed)
    P = encode_groups(groups, n_tasks)
    level = rng.normal(size=n_tasks)
    y = P[:, n_tasks:] @ level + 0.3 * P[:, :n_tasks] @ rng.normal(size=n_tasks)
    return A, groups, P, y + 0.05 * rng.normal(size=len(y))


@parametrize_with_checks(
    [
        ETAPRegressor(
            residual_estimator=ResidualRidge(encoding="passthrough", alpha=1.0),
            n_subsamples=3,
            subsample=0.7,
        )
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_subsets_keep_groups_whole_and_have_the_asked_size():
    _, groups, P, _ = _problem(n_groups=10)
    ids = group_row_ids(groups)
    subsets = draw_group_subsets(ids, 30, 0.8, random_state=0)
    for rows in subsets:
        kept = np.unique(ids[rows])
        assert len(kept) == 8
        # every row of a kept group is in, no row of another group is
        np.testing.assert_array_equal(rows, np.flatnonzero(np.isin(ids, kept)))
    assert len({tuple(np.unique(ids[r])) for r in subsets}) > 1
    again = draw_group_subsets(ids, 30, 0.8, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, again))


@pytest.mark.parametrize(
    "n_groups, fraction, expected",
    [(3, 0.1, 2), (3, 0.99, 2), (10, 0.5, 5), (40, 0.8, 32)],
)
def test_subset_size_is_clipped_to_two_and_all_but_one(n_groups, fraction, expected):
    ids = np.repeat(np.arange(n_groups), 2)
    rows = draw_group_subsets(ids, 1, fraction, random_state=0)[0]
    assert len(np.unique(ids[rows])) == expected


def test_too_few_groups_is_refused_with_a_clear_message():
    P = encode_groups([(0, 1), (1, 2)], 3)
    y = np.arange(len(P), dtype=float)
    with pytest.raises(ValueError, match="at least 3 distinct groups.*n_subsamples=1"):
        ETAPRegressor(affinity=np.ones((3, 3)), n_subsamples=5).fit(P, y)


def test_one_subsample_is_the_single_fit():
    """``n_subsamples=1`` (the default) ignores ``subsample`` and
    ``random_state``: one fit on all rows, the stages' sum."""
    A, _, P, y = _problem()
    one = ETAPRegressor(affinity=A, subsample=0.3, random_state=5).fit(P, y)
    assert one.estimators_ == [] and one.estimators_tasks_ is None
    z = group_affinity(A, P).reshape(-1, 1)
    expected = one.affinity_estimator_.predict(z) + one.residual_estimator_.predict(P)
    np.testing.assert_array_equal(one.predict(P), expected)
    np.testing.assert_array_equal(
        one.predict(P), ETAPRegressor(affinity=A, random_state=9).fit(P, y).predict(P)
    )


def test_prediction_is_the_mean_of_subset_fits_that_saw_the_task():
    """Against a reference: single fits on the same subsets, averaged by hand."""
    A, _, P, y = _problem(n_tasks=6, n_groups=8, seed=3)
    etap = ETAPRegressor(affinity=A, n_subsamples=7, subsample=0.5, random_state=4)
    etap.fit(P, y)
    subsets = draw_group_subsets(_row_group_ids(P), 7, 0.5, random_state=4)
    new = encode_groups(sample_groups(6, 30, random_state=9), 6)
    target = new[:, 6:].argmax(axis=1)
    full = ETAPRegressor(affinity=A).fit(P, y).predict(new)
    total, count = np.zeros(len(new)), np.zeros(len(new))
    for rows in subsets:
        member = ETAPRegressor(affinity=A).fit(P[rows], y[rows])
        saw = np.isin(target, P[rows, 6:].argmax(axis=1))
        total += np.where(saw, member.predict(new), 0.0)
        count += saw
    expected = np.where(count > 0, total / np.maximum(count, 1), full)
    np.testing.assert_allclose(etap.predict(new), expected, rtol=1e-10, atol=1e-12)
    stage1, stage2 = etap.predict_stages(new)
    np.testing.assert_allclose(stage1 + stage2, expected, rtol=1e-10, atol=1e-12)


def test_a_task_no_subset_held_is_predicted_by_the_fit_on_all_groups():
    # task 3 is only in the last group; with 2 of 3 groups per subset, a seed
    # whose subsets all leave that group out shows the fallback
    groups = [(0, 1), (1, 2), (0, 2, 3)]
    P = encode_groups(groups, 4)
    y = np.array([0.1, 0.2, -0.1, 0.3, 0.05, 0.0, 0.4])
    A = np.ones((4, 4))
    ids = _row_group_ids(P)
    last = ids[-1]  # the group (0, 2, 3)
    seed = next(
        s
        for s in range(200)
        if all(last not in ids[r] for r in draw_group_subsets(ids, 2, 0.5, s))
    )
    etap = ETAPRegressor(affinity=A, n_subsamples=2, subsample=0.5, random_state=seed)
    etap.fit(P, y)
    assert not etap.estimators_tasks_[:, 3].any()
    row = encode_groups([(0, 3)], 4)[1:]  # task 3's row
    full = ETAPRegressor(affinity=A).fit(P, y)
    np.testing.assert_allclose(etap.predict(row), full.predict(row))
    assert np.all(np.isfinite(etap.predict(P)))


def test_average_seen_ignores_fits_that_did_not_see_the_task():
    predictions = np.array([[1.0, 2.0, 3.0], [5.0, 4.0, 100.0]])
    seen = np.array([[True, True, True], [True, False, False]])
    np.testing.assert_allclose(average_seen(predictions, seen), [3.0, 2.0, 3.0])
    out = average_seen(predictions, np.zeros_like(seen))
    assert np.isnan(out).all()


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_subsampled_predictions_scale_with_the_gains(scale):
    A, _, P, y = _problem(seed=5)
    params = dict(affinity=A, n_subsamples=5, random_state=0)
    base = ETAPRegressor(**params).fit(P, y).predict(P)
    scaled = ETAPRegressor(**params).fit(P, scale * y).predict(P)
    np.testing.assert_allclose(scaled, scale * base, rtol=1e-6, atol=1e-6 * scale)
