"""Checks of :func:`~sklearn_etap.measure_gains`' inputs, each naming the problem."""

import numpy as np
from sklearn.utils.validation import check_array, check_consistent_length

from .._affinity.checks import check_float32_range
from .._affinity.data_sources import (
    LabelledDataset,
    is_dataset,
    memory_map_of,
    read_labels,
)
from .._affinity.inputs import check_values
from .._groups import check_groups


def check_extractor(extractor):
    for method in ("get_params", "set_params", "fit", "task_losses"):
        if not callable(getattr(extractor, method, None)):
            raise TypeError(
                f"extractor must be an estimator with get_params, set_params, fit "
                f"and task_losses, such as TorchAffinityExtractor; "
                f"{type(extractor).__name__} has no {method}."
            )
    if "random_state" not in extractor.get_params(deep=False):
        raise TypeError(
            f"{type(extractor).__name__} has no random_state parameter; "
            "measure_gains seeds every training through it."
        )


def _check_same_columns(train, test, name):
    """Refuse test data whose column labels differ from the training data's:
    a reordered DataFrame would score each task on another column."""
    train_cols = getattr(train, "columns", None)
    test_cols = getattr(test, "columns", None)
    if train_cols is None or test_cols is None:
        return
    train_cols, test_cols = list(train_cols), list(test_cols)
    if train_cols == test_cols:
        return
    if sorted(map(str, train_cols)) == sorted(map(str, test_cols)):
        problem = "the same columns in another order"
    else:
        missing = [c for c in train_cols if c not in test_cols][:5]
        extra = [c for c in test_cols if c not in train_cols][:5]
        problem = f"other columns (missing {missing}, unexpected {extra})"
    raise ValueError(
        f"{name}_test has {problem} than {name}: {name} has {train_cols[:10]}, "
        f"{name}_test has {test_cols[:10]}. Columns are matched by position, so "
        f"select them in the same order, e.g. {name}_test[{name}.columns]."
    )


def check_data(X, Y, X_test, Y_test):
    if is_dataset(X) or is_dataset(X_test):
        return _check_datasets(X, Y, X_test, Y_test)
    _check_same_columns(X, X_test, "X")
    _check_same_columns(Y, Y_test, "Y")
    X, X_test = _check_inputs(X, "X"), _check_inputs(X_test, "X_test")
    Y = _check_targets(Y, "Y")
    Y_test = _check_targets(Y_test, "Y_test")
    for array, name in ((X, "X"), (X_test, "X_test"), (Y, "Y"), (Y_test, "Y_test")):
        check_values(array, name)  # a memory map a chunk at a time
    check_consistent_length(X, Y)
    check_consistent_length(X_test, Y_test)
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}; "
            "both must describe the samples with the same features."
        )
    if Y_test.shape[1] != Y.shape[1]:
        raise ValueError(
            f"Y_test has {Y_test.shape[1]} task columns but Y has {Y.shape[1]}; "
            "both need one column per task, in the same order."
        )
    return X, Y, X_test, Y_test


def _check_inputs(X, name):
    # a memory map is checked for NaN and infinity a chunk of rows at a time
    # (check_values): check_array's check would read the whole file through
    # the mapping, and every page read would stay in the process's memory
    finite = memory_map_of(X) is None
    return check_array(
        X, dtype=[np.float64, np.float32], ensure_all_finite=finite, input_name=name
    )


def _check_datasets(X, Y, X_test, Y_test):
    """Datasets with their labels read once: ``(X, Y, X_test, Y_test)`` with
    ``X`` and ``X_test`` as :class:`LabelledDataset` and their labels."""
    for inputs, labels, name in ((X, Y, "X"), (X_test, Y_test, "X_test")):
        if not is_dataset(inputs):
            raise ValueError(
                f"{name} is a {type(inputs).__name__} but the other input is a "
                "torch Dataset; pass X and X_test both as Datasets or both as "
                "arrays."
            )
        if labels is not None:
            raise ValueError(
                f"{name} is a torch Dataset but Y{name[1:]} was given too; a "
                "Dataset's items carry their labels as (x, y) pairs, so pass "
                f"Y{name[1:]}=None."
            )
    Y, Y_test = read_labels(X), read_labels(X_test)
    for labels, name in ((Y, "X"), (Y_test, "X_test")):
        check_float32_range(labels, f"the labels of {name}")
    if Y_test.shape[1] != Y.shape[1]:
        raise ValueError(
            f"the items of X_test have {Y_test.shape[1]} labels but those of X "
            f"have {Y.shape[1]}; both need one label per task, in the same order."
        )
    return LabelledDataset(X, Y), Y, LabelledDataset(X_test, Y_test), Y_test


def _check_targets(Y, name):
    if np.ndim(Y) != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_tasks) with one column per task; "
            f"got {np.ndim(Y)} dimension(s). Gains compare tasks trained together, "
            "so there must be several task columns."
        )
    Y = check_array(
        Y,
        dtype=np.float64,
        ensure_all_finite="allow-nan",
        ensure_min_features=0,
        input_name=name,
    )
    if Y.shape[1] == 0:
        raise ValueError(
            f"{name} has shape {Y.shape}: no task column; pass one column of "
            "labels per task."
        )
    return Y


def check_measured_groups(groups, n_tasks):
    groups = check_groups(groups, n_tasks)
    for position, group in enumerate(groups):
        if len(group) < 2:
            raise ValueError(
                f"group {position} {group} has a single task; a gain compares a "
                "task trained with others against the task trained alone, so "
                "groups need at least 2 tasks (the single-task models are "
                "trained anyway)."
            )
    if not groups:
        raise ValueError(
            "groups is empty; pass at least one group of two or more tasks, "
            "e.g. from sample_groups."
        )
    return groups


def check_labels(Y, Y_test, tasks):
    for name, targets in (("Y", Y), ("Y_test", Y_test)):
        missing = [t for t in tasks if np.all(np.isnan(targets[:, t]))]
        if missing:
            raise ValueError(
                f"task(s) {missing} have no label in {name} (all NaN); a gain "
                "needs both training and test labels. Drop those tasks from "
                "the groups."
            )
