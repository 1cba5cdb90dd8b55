"""Synthetic multi-task regression with planted task clusters.

Every cluster owns one latent factor of the inputs, a direction in input
space, and its tasks are noisy copies of that factor; each conflicting task
owns a factor of its own. The factors of different owners overlap a little
(they share a common direction), so they compete for the units of a small
shared encoder without being interchangeable. The true grouping is known,
which lets a benchmark check that a pipeline recovers it.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from .._validation import Interval, validate_params
from ._base import make_bunch, split_indices, standardize_columns

_DESCR = """\
Planted task clusters (synthetic regression)
--------------------------------------------
Inputs: {n_samples} samples of {n_features} independent standard normal
features.
Factors: each cluster, and each conflicting task, owns one latent factor
z_k = X @ v_k, with v_k a unit vector made of a direction shared by every
owner (weight sqrt(overlap), overlap = {overlap}) and one of its own (weight
sqrt(1 - overlap)): factors of different owners correlate by overlap.
Tasks: y_t = z_k + noise * e_t (noise = {noise}, e_t standard normal), with
k the owner of task t.
Targets standardized with the training rows' statistics.
Clusters (task indices): {clusters}; conflicting tasks: {conflicting}.
Split: random, {n_train} train and {n_test} test samples.
"""


@validate_params(
    {
        "n_samples": [Interval(Integral, 4, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_clusters": [Interval(Integral, 0, None, closed="left")],
        "tasks_per_cluster": [Interval(Integral, 1, None, closed="left")],
        "n_conflicting": [Interval(Integral, 0, None, closed="left")],
        "overlap": [Interval(Real, 0, 1, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_task_clusters(
    n_samples=400,
    *,
    n_features=20,
    n_clusters=2,
    tasks_per_cluster=3,
    n_conflicting=2,
    overlap=0.3,
    noise=0.5,
    test_size=0.5,
    random_state=None,
):
    """Generate regression tasks in planted clusters, plus conflicting tasks.

    Each cluster owns one latent factor, a linear function ``X @ v`` of the
    inputs, and its tasks are that factor plus independent noise: tasks of a
    cluster help each other learn it (their noises average out). Each of the
    ``n_conflicting`` tasks owns a factor no other task reads. The factors of
    different owners share a common direction (their correlation is
    ``overlap``), so a shared encoder narrower than the number of factors in
    a group must settle on a compromise between them. With an encoder of one
    hidden unit, as in ``benchmarks/data/gains_clusters_8tasks.csv``, the
    measured MTL gains are positive inside a cluster and strongly negative
    across clusters and with a conflicting task.

    Tasks are ordered cluster by cluster, conflicting tasks last.

    Parameters
    ----------
    n_samples : int, default=400
        Number of samples, train and test together.
    n_features : int, default=20
        Number of input features (independent standard normal). Must exceed
        the number of factors, ``n_clusters + n_conflicting``.
    n_clusters : int, default=2
        Number of planted clusters.
    tasks_per_cluster : int, default=3
        Number of tasks in each cluster.
    n_conflicting : int, default=2
        Number of tasks that each own a factor.
    overlap : float, default=0.3
        Correlation between the factors of two owners: 0 makes them
        unrelated, 1 identical (no structure left).
    noise : float, default=0.5
        Standard deviation of the noise added to each target; the factors
        have standard deviation 1.
    test_size : float, default=0.5
        Fraction of the samples in the test split (random).
    random_state : int, RandomState instance or None, default=None
        Seed of everything drawn; an int makes the output deterministic.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (float32, ``(n, n_features)``),
        ``Y_train``, ``Y_test`` (float32, ``(n, n_tasks)``, standardized),
        ``task_names`` (``"c0_t0"``, ... and ``"conflict_0"``, ...),
        ``feature_names``, ``task_types`` (``"regression"``), ``DESCR``,
        ``train_ids`` and ``test_ids`` (sample indices), ``clusters`` (list
        of tuples of task indices, one per planted cluster), ``conflicting``
        (tuple of the conflicting tasks' indices), ``task_cluster`` (int
        array, the cluster of every task, -1 for a conflicting task),
        ``factor_directions`` (``(n_owners, n_features)``, the unit vectors
        ``v_k``, clusters first) and ``Y_clean_train``, ``Y_clean_test`` (the
        targets without noise, in the same standardized units).

    Examples
    --------
    >>> from sklearn_etap.datasets import make_task_clusters
    >>> data = make_task_clusters(random_state=0)
    >>> data.X_train.shape, data.Y_train.shape
    ((200, 20), (200, 8))
    >>> data.clusters, data.conflicting
    ([(0, 1, 2), (3, 4, 5)], (6, 7))
    >>> data.task_names[::3]
    ['c0_t0', 'c1_t0', 'conflict_0']
    """
    rng = check_random_state(random_state)
    n_tasks = n_clusters * tasks_per_cluster + n_conflicting
    n_owners = n_clusters + n_conflicting
    if n_tasks == 0:
        raise ValueError(
            "n_clusters * tasks_per_cluster + n_conflicting is 0; ask for at "
            "least one task."
        )
    if n_features <= n_owners:
        raise ValueError(
            f"n_features={n_features} must exceed the number of factors "
            f"n_clusters + n_conflicting = {n_owners}; increase n_features."
        )
    X = rng.standard_normal((n_samples, n_features))
    # Orthonormal directions: one shared, one per owner.
    basis, _ = np.linalg.qr(rng.standard_normal((n_features, n_owners + 1)))
    directions = np.sqrt(overlap) * basis[:, :1] + np.sqrt(1 - overlap) * basis[:, 1:]
    factors = X @ directions
    owner = np.repeat(np.arange(n_clusters), tasks_per_cluster)
    owner = np.concatenate([owner, n_clusters + np.arange(n_conflicting)])
    clean = factors[:, owner]
    Y = clean + noise * rng.standard_normal(clean.shape)
    task_cluster = np.where(owner < n_clusters, owner, -1)
    task_names = [
        f"c{k}_t{t % tasks_per_cluster}"
        if k < n_clusters
        else f"conflict_{k - n_clusters}"
        for t, k in enumerate(owner)
    ]

    train, test = split_indices(
        n_samples, test_size=test_size, random_state=rng, shuffle=True
    )
    if len(train) < 2 or len(test) < 2:
        raise ValueError(
            f"n_samples={n_samples} with test_size={test_size} leaves fewer "
            "than 2 samples on one side; increase n_samples."
        )
    X_train, X_test, _, _ = standardize_columns(X[train], X[test], [])
    Y_train, Y_test, Y_mean, Y_scale = standardize_columns(Y[train], Y[test])
    clusters = [
        tuple(int(t) for t in np.flatnonzero(task_cluster == c))
        for c in range(n_clusters)
    ]
    conflicting = tuple(int(t) for t in np.flatnonzero(task_cluster == -1))
    return make_bunch(
        X_train=X_train,
        Y_train=Y_train,
        X_test=X_test,
        Y_test=Y_test,
        task_names=task_names,
        feature_names=[f"x{j}" for j in range(n_features)],
        task_types=["regression"] * n_tasks,
        descr=_DESCR.format(
            n_samples=n_samples,
            n_features=n_features,
            overlap=overlap,
            noise=noise,
            clusters=clusters,
            conflicting=conflicting,
            n_train=len(train),
            n_test=len(test),
        ),
        train_ids=train,
        test_ids=test,
        clusters=clusters,
        conflicting=conflicting,
        task_cluster=task_cluster,
        factor_directions=directions.T.copy(),
        Y_clean_train=((clean[train] - Y_mean) / Y_scale).astype(np.float32),
        Y_clean_test=((clean[test] - Y_mean) / Y_scale).astype(np.float32),
    )
