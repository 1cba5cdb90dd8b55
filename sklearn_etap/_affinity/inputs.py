"""The extractor's inputs: arrays, memory-mapped arrays or a torch Dataset.

Each kind is checked here and turned into what trains on it: in-memory
arrays into tensors on the device (:func:`~.training.split_task_data`), a
memory map into :class:`~.data_sources.HostArrays` and a Dataset into
:class:`~.data_sources.DatasetSource`, both streamed a batch at a time.
"""

import numpy as np
from sklearn.utils.validation import validate_data

from .checks import check_float32_range, check_labelled_tasks, check_targets
from .data_sources import (
    ArrayRows,
    DatasetSource,
    HostArrays,
    is_dataset,
    memory_map_of,
    read_labels,
    row_reader,
)
from .training import split_task_data, validation_split

# Rows of a memory map checked at a time (finite, within float32).
_CHECK_BYTES = 8 * 2**20


def check_inputs(estimator, X, *, reset):
    """``X`` validated as scikit-learn does (``n_features_in_`` and names).

    A memory map is kept as it is (any numeric dtype, inputs of any shape:
    images as (n, C, H, W)), and checked a chunk of rows at a time, so it is
    never copied whole; any other array is converted to float.
    """
    if memory_map_of(X) is None:
        X = validate_data(estimator, X, dtype=[np.float64, np.float32], reset=reset)
        check_float32_range(X, "X")
        return X
    X = validate_data(
        estimator, X, dtype=None, allow_nd=True, ensure_all_finite=False, reset=reset
    )
    if X.dtype.kind not in "fiu":
        raise ValueError(
            f"X is a memory map of dtype {X.dtype}; it must hold numbers "
            "(float or integer)."
        )
    check_values(X, "X")
    return X


def check_values(X, name):
    """Refuse non-finite values (a memory map) and values beyond float32 (any
    array), a chunk of rows at a time for a memory map."""
    if memory_map_of(X) is None:
        check_float32_range(X, name)
        return
    rows = max(1, _CHECK_BYTES // max(1, X[:1].nbytes))
    check_float32_range(X, name, rows_per_chunk=rows, reader=row_reader(X))


def forget_array_input(estimator):
    """Remove what an earlier fit on arrays learned of their features."""
    for name in ("n_features_in_", "feature_names_in_"):
        if hasattr(estimator, name):
            delattr(estimator, name)


def dataset_labels(dataset, Y, num_workers, require_labels=True):
    """The labels of a Dataset's items: (n_samples, n_tasks); with
    ``require_labels``, every task must have one."""
    if Y is not None:
        raise ValueError(
            f"X is a torch Dataset ({type(dataset).__name__}) but Y was given too; "
            "a Dataset's items carry their labels as (x, y) pairs, so pass Y=None "
            "(or pass X and Y as arrays)."
        )
    labels = read_labels(dataset, num_workers)
    check_float32_range(labels, "the Dataset's labels")
    if require_labels:
        check_labelled_tasks(labels, "the Dataset's labels")
    return labels


def training_inputs(estimator, X, Y):
    """``(X, Y)`` checked: ``X`` an array, a memory map or a Dataset; ``Y`` the
    (n_samples, n_tasks) labels (from the Dataset's items for a Dataset)."""
    if is_dataset(X):
        labels = dataset_labels(X, Y, estimator.num_workers)
        forget_array_input(estimator)
        return X, labels
    X = check_inputs(estimator, X, reset=True)
    return X, check_targets(Y, X, type(estimator).__name__, check_X=False)


def training_sources(X, Y, device, validation_fraction, rng, num_workers):
    """Training and validation (None without early stopping) data of ``X, Y``:
    tensors on the device for in-memory arrays, streamed sources otherwise."""
    if isinstance(X, ArrayRows):
        source = X.source(device)
    elif is_dataset(X):
        source = DatasetSource(X, Y, device, num_workers=num_workers)
    elif memory_map_of(X) is not None:
        source = HostArrays(X, Y, device)
    else:
        return split_task_data(X, Y, device, validation_fraction, rng)
    if validation_fraction is None:
        return source, None
    train, validation = validation_split(len(source), validation_fraction, rng)
    return source.subset(train), source.subset(validation)


def scoring_source(X, Y, device, num_workers):
    """``X`` (and labels ``Y``, or None) as a source scored in order, a batch
    at a time: a Dataset through its loader, arrays a slice of rows at a time."""
    if isinstance(X, ArrayRows):
        return X.source(device)  # its labels are Y
    if is_dataset(X):
        labels = np.zeros((len(X), 0)) if Y is None else Y
        return DatasetSource(X, labels, device, num_workers=num_workers)
    labels = np.zeros((X.shape[0], 0)) if Y is None else Y
    return HostArrays(X, labels, device)
