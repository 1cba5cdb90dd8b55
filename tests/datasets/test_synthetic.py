"""Tests of make_task_clusters: the planted structure is where it says."""

import numpy as np
import pytest
import torch

from sklearn_etap import TorchAffinityExtractor, measure_gains
from sklearn_etap.datasets import make_task_clusters


def _corr_blocks(Y, clusters, conflicting):
    corr = np.corrcoef(Y.T)
    within, across = [], []
    n_tasks = Y.shape[1]
    label = np.full(n_tasks, -1)
    for c, members in enumerate(clusters):
        label[list(members)] = c
    for i in range(n_tasks):
        for j in range(i + 1, n_tasks):
            same = label[i] == label[j] and label[i] >= 0
            (within if same else across).append(abs(corr[i, j]))
    return np.array(within), np.array(across)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_within_cluster_correlation_high_across_low(seed):
    data = make_task_clusters(n_samples=4000, noise=0.1, random_state=seed)
    # the factors' directions: unit vectors whose pairwise products are overlap
    np.testing.assert_allclose(
        data.factor_directions @ data.factor_directions.T,
        0.7 * np.eye(4) + 0.3,
        atol=1e-12,
    )
    assert data.clusters == [(0, 1, 2), (3, 4, 5)]
    assert data.conflicting == (6, 7)
    np.testing.assert_array_equal(data.task_cluster, [0, 0, 0, 1, 1, 1, -1, -1])
    for Y in (data.Y_train, data.Y_clean_test):
        within, across = _corr_blocks(Y, data.clusters, data.conflicting)
        assert within.min() > 0.97
        assert across.max() < 0.45  # overlap 0.3 plus sampling error
        assert np.median(across) > 0.15


def test_noise_sets_the_signal_to_noise_ratio():
    clean = make_task_clusters(n_samples=2000, noise=0.0, random_state=0)
    np.testing.assert_allclose(clean.Y_train, clean.Y_clean_train, atol=1e-5)
    # without noise, a cluster's tasks are one and the same
    np.testing.assert_allclose(clean.Y_train[:, 0], clean.Y_train[:, 2], atol=1e-5)
    noisy = make_task_clusters(n_samples=2000, noise=1.0, random_state=0)
    # same factors and read-outs: the clean parts agree up to the scaling
    for j in range(8):
        r = np.corrcoef(clean.Y_clean_train[:, j], noisy.Y_clean_train[:, j])[0, 1]
        assert r > 0.999
    # factor and noise both of standard deviation 1: half the variance each
    explained = noisy.Y_clean_train.var(axis=0) / noisy.Y_train.var(axis=0)
    assert np.all((explained > 0.4) & (explained < 0.6))


def test_deterministic_under_random_state():
    a = make_task_clusters(n_samples=300, random_state=7)
    b = make_task_clusters(n_samples=300, random_state=7)
    c = make_task_clusters(n_samples=300, random_state=8)
    for key in ("X_train", "Y_train", "X_test", "Y_test", "train_ids", "test_ids"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a.Y_train, c.Y_train)
    rng = np.random.RandomState(7)
    d = make_task_clusters(n_samples=300, random_state=rng)
    np.testing.assert_array_equal(a.Y_train, d.Y_train)


@pytest.mark.parametrize(
    "n_clusters, tasks_per_cluster, n_conflicting, n_factors",
    [(1, 1, 0, 1), (3, 2, 1, 3), (0, 1, 4, 2), (5, 4, 0, 1)],
)
def test_shapes_names_and_split(
    n_clusters, tasks_per_cluster, n_conflicting, n_factors
):
    data = make_task_clusters(
        n_samples=101,
        n_features=7,
        n_clusters=n_clusters,
        tasks_per_cluster=tasks_per_cluster,
        n_conflicting=n_conflicting,
        test_size=0.3,
        random_state=0,
    )
    n_tasks = n_clusters * tasks_per_cluster + n_conflicting
    assert data.X_train.shape == (70, 7) and data.X_test.shape == (31, 7)
    assert data.Y_train.shape == (70, n_tasks) and data.Y_test.shape == (31, n_tasks)
    assert len(data.task_names) == len(set(data.task_names)) == n_tasks
    assert data.task_types == ["regression"] * n_tasks
    assert sorted(np.concatenate([data.train_ids, data.test_ids])) == list(range(101))
    members = [t for c in data.clusters for t in c] + list(data.conflicting)
    assert sorted(members) == list(range(n_tasks))
    assert all(len(c) == tasks_per_cluster for c in data.clusters)
    assert data.task_names[-1] == (
        f"conflict_{n_conflicting - 1}"
        if n_conflicting
        else f"c{n_clusters - 1}_t{tasks_per_cluster - 1}"
    )
    np.testing.assert_allclose(data.Y_train.mean(axis=0), 0, atol=1e-5)
    assert np.isfinite(data.Y_test).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_clusters": 0, "n_conflicting": 0}, "at least one task"),
        ({"n_samples": 5, "test_size": 0.1}, "increase n_samples"),
        ({"noise": -1.0}, "noise"),
        ({"tasks_per_cluster": 0}, "tasks_per_cluster"),
        ({"n_features": 4}, "must exceed the number of factors"),
        ({"overlap": 1.5}, "overlap"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_task_clusters(**kwargs)


@pytest.mark.slow
def test_gains_positive_within_a_cluster_negative_across():
    # The generator's purpose, on the settings of the planted gain table: a
    # one-unit encoder gains from a partner of its cluster and loses a lot
    # from a partner of another cluster or a conflicting task.
    torch.set_num_threads(1)
    data = make_task_clusters(random_state=0)
    extractor = TorchAffinityExtractor(
        hidden_layer_sizes=(1,),
        optimizer="adam",
        learning_rate=0.05,
        batch_size=200,
        max_epochs=400,
        device="cpu",
    )
    groups = [(0, 1), (0, 3), (0, 6)]
    gains = measure_gains(
        extractor,
        data.X_train,
        data.Y_train,
        groups,
        data.X_test,
        data.Y_test,
        random_state=0,
        progress=False,
    )
    gain = {
        (gains.groups[g], t): y
        for g, t, y in zip(gains.row_group, gains.row_task, gains.y)
    }
    assert gain[(0, 1), 0] > 0 and gain[(0, 1), 1] > 0
    for group in ((0, 3), (0, 6)):
        assert gain[group, 0] < -0.3 and gain[group, group[1]] < -0.3
