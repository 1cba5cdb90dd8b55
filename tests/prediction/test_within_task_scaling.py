"""Stage 1 on the within-task scaled affinity (``affinity_scaling``, issue 21).

The planted tables: the affinity's spread is mostly per-target column levels,
and the gains' ranking within a task follows what is left. Both scalings must
recover that ranking; the raw feature (the default) does not.

``affinity_scaling`` is deprecated (removed in 0.2); until then it works, and
these tests keep it honest. Its warning is tested, with the benchmarks' copy,
in ``test_scaling_benchmark_copy.py``.
"""

import numpy as np
import pytest

from sklearn_etap import ETAPRegressor, encode_groups, group_affinity, sample_groups

N_TASKS = 8
pytestmark = pytest.mark.filterwarnings("ignore:.*affinity_scaling.*:FutureWarning")


def planted(seed):
    """An affinity whose spread is mostly per-target column levels (100 per
    task index), and gains whose ranking within a task follows what is left."""
    rng = np.random.RandomState(seed)
    within = rng.normal(size=(N_TASKS, N_TASKS))
    A = within + 100.0 * np.arange(N_TASKS)[None, :]
    np.fill_diagonal(A, 0.0)

    def gains(P):
        t = P[:, N_TASKS:].argmax(axis=1)
        level = 3.0 * t  # the task's level, unrelated to the column level
        return level + group_affinity(A, P) - 100.0 * t

    groups = [g for g in sample_groups(N_TASKS, 60, random_state=seed) if len(g) > 1]
    return (
        A,
        gains,
        encode_groups(groups[:12], N_TASKS),
        encode_groups(groups[12:], N_TASKS),
    )


def within_r(pred, y, P):
    t = P[:, N_TASKS:].argmax(axis=1)
    return np.mean([np.corrcoef(pred[t == k], y[t == k])[0, 1] for k in np.unique(t)])


@pytest.mark.parametrize("scaling", ["within_task", "column"])
@pytest.mark.parametrize("seed", range(3))
def test_scaling_recovers_the_ranking_the_raw_affinity_hides(seed, scaling):
    A, gains, P, Q = planted(seed)
    scaled = ETAPRegressor(affinity=A, affinity_scaling=scaling).fit(P, gains(P))
    raw = ETAPRegressor(affinity=A, affinity_scaling=None).fit(P, gains(P))
    r_scaled = within_r(scaled.predict(Q), gains(Q), Q)
    r_raw = within_r(raw.predict(Q), gains(Q), Q)
    assert r_scaled > 0.8
    assert r_scaled > r_raw + 0.2
    # The raw feature's spline is switched off (top of its penalty grid).
    assert raw.affinity_estimator_.alpha_ == 1e4
    assert scaled.affinity_estimator_.alpha_ <= 1.0


def test_centre_and_scale_are_each_tasks_training_mean_and_sd():
    A, gains, P, _ = planted(0)
    etap = ETAPRegressor(affinity=A, affinity_scaling="within_task").fit(P, gains(P))
    z, t = group_affinity(A, P), P[:, N_TASKS:].argmax(axis=1)
    for k in np.unique(t):
        assert np.isclose(etap.affinity_center_[k], z[t == k].mean())
        assert np.isclose(etap.affinity_scale_[k], z[t == k].std())


def test_column_centre_and_scale_are_the_off_diagonal_moments():
    A = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 4.0], [5.0, 6.0, 0.0]])
    P = encode_groups([(0, 1), (0, 2), (1, 2), (0, 1, 2)], 3)
    y = np.arange(len(P), dtype=float)
    etap = ETAPRegressor(affinity=A, affinity_scaling="column").fit(P, y)
    # column 0: 3, 5; column 1: 1, 6; column 2: 2, 4
    np.testing.assert_allclose(etap.affinity_center_, [4.0, 3.5, 3.0])
    np.testing.assert_allclose(etap.affinity_scale_, [1.0, 2.5, 1.0])


@pytest.mark.parametrize("scaling", ["within_task", "column"])
def test_per_column_shift_and_positive_scale_of_the_affinity_change_nothing(
    scaling,
):
    A, gains, P, Q = planted(1)
    rng = np.random.RandomState(0)
    B = A * rng.uniform(0.5, 5.0, N_TASKS)[None, :] + rng.normal(size=N_TASKS)[None, :]
    np.fill_diagonal(B, 0.0)
    a = ETAPRegressor(affinity=A, affinity_scaling=scaling).fit(P, gains(P))
    b = ETAPRegressor(affinity=B, affinity_scaling=scaling).fit(P, gains(P))
    np.testing.assert_allclose(a.predict(Q), b.predict(Q), atol=1e-8)


def test_a_task_without_training_rows_uses_the_pooled_centre_and_scale():
    A, gains, P, _ = planted(2)
    keep = P[:, N_TASKS + 7] == 0  # drop task 7's rows
    etap = ETAPRegressor(affinity=A, affinity_scaling="within_task")
    etap.fit(P[keep], gains(P)[keep])
    z = group_affinity(A, P[keep])
    assert np.isclose(etap.affinity_center_[7], z.mean())
    assert np.isclose(etap.affinity_scale_[7], z.std())
    assert np.all(np.isfinite(etap.predict(encode_groups([(6, 7)], N_TASKS))))
