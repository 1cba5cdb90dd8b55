"""Handwritten digits as ten one-vs-rest binary tasks (ships with scikit-learn)."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from .._validation import validate_params
from ._base import (
    check_task_labels,
    common_constraints,
    make_bunch,
    split_indices,
    standardize_columns,
    subsample_indices,
)

_DESCR = """\
Digits as one-vs-rest binary tasks
----------------------------------
Source: scikit-learn's bundled copy of the UCI optical recognition of
handwritten digits test set (sklearn/datasets/data/digits.csv.gz, read with
sklearn.datasets.load_digits): 1,797 images of 8x8 pixels with values 0..16.
Tasks: task k ("digit_k") is 1 when the image shows digit k, else 0; every
image is labelled for every task (no missing labels).
Features: the 64 pixels, standardized with the training rows' mean and scale.
Split: stratified by digit, random_state fixed.
Sizes here: {n_train} train and {n_test} test samples, {n_features} features,
{n_tasks} tasks.
Licence: the UCI data is CC BY 4.0; scikit-learn is BSD-3-Clause.
"""


@validate_params(
    {**common_constraints(), "standardize": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_digits_tasks(
    *, n_tasks=None, max_samples=None, test_size=0.25, random_state=0, standardize=True
):
    """Load the digits data as one-vs-rest binary tasks, split into train and test.

    The embedded default dataset of the library: it ships with scikit-learn,
    so it needs no extra install. Task ``k`` asks whether an 8x8 image shows
    digit ``k``.

    Parameters
    ----------
    n_tasks : int, default=None
        Keep only the tasks of digits ``0 .. n_tasks - 1`` (all images are kept;
        the other digits are negatives). ``None`` keeps the 10 tasks.
    max_samples : int, default=None
        Keep a random subset of at most this many images (stratified by digit)
        before splitting, for quick runs. ``None`` keeps all 1,797.
    test_size : float, default=0.25
        Fraction of the images in the test split.
    random_state : int, RandomState instance or None, default=0
        Seed of the subsample and of the split (stratified by digit).
    standardize : bool, default=True
        Standardize the pixels with the training rows' mean and scale (the test
        rows use the same statistics). Constant pixels keep scale 1.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (float32, ``(n, 64)``), ``Y_train``,
        ``Y_test`` (float32 in {0, 1}, ``(n, n_tasks)``), ``task_names``
        (``"digit_0"``...), ``feature_names`` (``"pixel_r_c"``), ``task_types``
        (``"binary"`` for every task), ``DESCR``, ``train_ids`` and
        ``test_ids`` (row indices into :func:`sklearn.datasets.load_digits`),
        ``X_mean`` and ``X_scale`` (the statistics used to standardize).

    Examples
    --------
    >>> from sklearn_etap.datasets import load_digits_tasks
    >>> data = load_digits_tasks()
    >>> data.X_train.shape, data.Y_train.shape, data.X_test.shape
    ((1347, 64), (1347, 10), (450, 64))
    >>> data.task_names[:3], data.task_types[0]
    (['digit_0', 'digit_1', 'digit_2'], 'binary')
    >>> small = load_digits_tasks(n_tasks=3, max_samples=300)
    >>> small.X_train.shape, small.Y_test.shape
    ((225, 64), (75, 3))
    """
    digits = load_digits()
    X, y = digits.data, digits.target
    n_available = 10
    if n_tasks is None:
        n_tasks = n_available
    elif n_tasks > n_available:
        raise ValueError(f"n_tasks={n_tasks} but digits has only {n_available} tasks.")
    rng = check_random_state(random_state)
    rows = subsample_indices(len(y), max_samples, random_state=rng, stratify=y)
    train, test = split_indices(
        len(rows), test_size=test_size, random_state=rng, stratify=y[rows]
    )
    train_ids, test_ids = rows[train], rows[test]

    Y = (y[:, None] == np.arange(n_tasks)[None, :]).astype(np.float64)
    X_train, X_test, X_mean, X_scale = standardize_columns(
        X[train_ids], X[test_ids], None if standardize else []
    )

    task_names = [f"digit_{k}" for k in range(n_tasks)]
    task_types = ["binary"] * n_tasks
    Y_train, Y_test = Y[train_ids], Y[test_ids]
    check_task_labels(
        Y_train, Y_test, task_names, task_types, "increase max_samples or test_size."
    )
    return make_bunch(
        X_train=X_train,
        Y_train=Y_train,
        X_test=X_test,
        Y_test=Y_test,
        task_names=task_names,
        feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        task_types=task_types,
        descr=_DESCR.format(
            n_train=len(train_ids),
            n_test=len(test_ids),
            n_features=X.shape[1],
            n_tasks=n_tasks,
        ),
        train_ids=train_ids,
        test_ids=test_ids,
        X_mean=X_mean,
        X_scale=X_scale,
    )
