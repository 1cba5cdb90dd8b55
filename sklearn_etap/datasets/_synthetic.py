"""Synthetic multi-task regression with planted task clusters.

Tasks of one cluster read the same few latent factors of the inputs, so a
shared encoder learns those factors from all of them at once; tasks of
different clusters, and the conflicting tasks (each with factors of its own),
compete for the capacity of a small shared encoder. The true grouping is known,
which lets a benchmark check that a pipeline recovers it.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._base import make_bunch, split_indices, standardize_columns

_DESCR = """\
Planted task clusters (synthetic regression)
--------------------------------------------
Inputs: {n_samples} samples of {n_features} independent standard normal
features.
Factors: each cluster c owns {n_factors} latent factors
z_c = tanh(X @ W_c) (W_c standard normal, scaled by 1 / sqrt(n_features / 2),
so X @ W_c has standard deviation sqrt(2)); each conflicting task owns
{n_factors} factors of its own.
Tasks: task t of cluster c is y_t = z_c @ a_t + noise * e_t, with a_t the
cluster's direction a_c plus task_spread times a standard normal vector,
rescaled to unit norm, and e_t standard normal; conflicting tasks read their
own factors the same way.
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
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "task_spread": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_task_clusters(
    n_samples=1000,
    *,
    n_features=20,
    n_clusters=2,
    tasks_per_cluster=3,
    n_conflicting=2,
    n_factors=2,
    task_spread=0.1,
    noise=1.0,
    test_size=0.5,
    random_state=None,
):
    """Generate regression tasks in planted clusters, plus conflicting tasks.

    Every cluster owns ``n_factors`` nonlinear latent factors of the inputs,
    ``z_c = tanh(X @ W_c)``, and each of its tasks is a noisy linear read-out
    of them in a direction close to the cluster's own. Tasks of one cluster
    therefore help each other learn their factors (their noises average out),
    while tasks of different clusters, and the ``n_conflicting`` tasks that
    each read factors no other task uses, compete for the units of a small
    shared encoder. With an encoder of about ``n_factors`` hidden units, the
    measured MTL gains are positive inside a cluster and negative across.

    Tasks are ordered cluster by cluster, conflicting tasks last.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples, train and test together.
    n_features : int, default=20
        Number of input features (independent standard normal).
    n_clusters : int, default=2
        Number of planted clusters.
    tasks_per_cluster : int, default=3
        Number of tasks in each cluster.
    n_conflicting : int, default=2
        Number of tasks that each read factors of their own.
    n_factors : int, default=2
        Latent factors per cluster (and per conflicting task).
    task_spread : float, default=0.1
        How far each task's read-out direction strays from its cluster's:
        0 makes the tasks of a cluster identical up to noise.
    noise : float, default=1.0
        Standard deviation of the noise added to each target, whose noiseless
        part has a standard deviation of about 0.8.
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
        array, the cluster of every task, -1 for a conflicting task) and
        ``Y_clean_train``, ``Y_clean_test`` (the targets without noise, in
        the same standardized units).

    Examples
    --------
    >>> from sklearn_etap.datasets import make_task_clusters
    >>> data = make_task_clusters(n_samples=400, random_state=0)
    >>> data.X_train.shape, data.Y_train.shape
    ((200, 20), (200, 8))
    >>> data.clusters, data.conflicting
    ([(0, 1, 2), (3, 4, 5)], (6, 7))
    >>> data.task_names[::3]
    ['c0_t0', 'c1_t0', 'conflict_0']
    """
    rng = check_random_state(random_state)
    n_tasks = n_clusters * tasks_per_cluster + n_conflicting
    if n_tasks == 0:
        raise ValueError(
            "n_clusters * tasks_per_cluster + n_conflicting is 0; ask for at "
            "least one task."
        )
    X = rng.standard_normal((n_samples, n_features))
    # Factor owners: the clusters, then one per conflicting task.
    owners = [(c, tasks_per_cluster) for c in range(n_clusters)]
    owners += [(-1, 1)] * n_conflicting
    clean, task_cluster, task_names = [], [], []
    for k, (cluster, n_members) in enumerate(owners):
        W = rng.standard_normal((n_features, n_factors)) / np.sqrt(n_features / 2)
        factors = np.tanh(X @ W)
        direction = rng.standard_normal(n_factors)
        for member in range(n_members):
            a = direction / np.linalg.norm(direction)
            a = a + task_spread * rng.standard_normal(n_factors)
            clean.append(factors @ (a / np.linalg.norm(a)))
            task_cluster.append(cluster)
            task_names.append(
                f"c{cluster}_t{member}"
                if cluster >= 0
                else f"conflict_{k - n_clusters}"
            )
    clean = np.column_stack(clean)
    Y = clean + noise * rng.standard_normal(clean.shape)

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
    task_cluster = np.array(task_cluster)
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
            n_factors=n_factors,
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
        Y_clean_train=((clean[train] - Y_mean) / Y_scale).astype(np.float32),
        Y_clean_test=((clean[test] - Y_mean) / Y_scale).astype(np.float32),
    )
