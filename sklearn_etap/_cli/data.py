"""The data of ``etap run``: a built-in dataset, or the user's own table.

Everything wrong with the input raises :class:`UsageError` with a message
that says what to change; the command prints it on one line and exits with
status 2.
"""

from pathlib import Path

import numpy as np

from .. import datasets
from ..datasets._base import (
    check_task_labels,
    make_bunch,
    split_indices,
    standardize_columns,
    subsample_indices,
)

#: Fewest labels a task of the user's data needs (train and test together).
MIN_LABELS = 20


class UsageError(Exception):
    """Bad input to the command line: reported in one line, exit status 2."""


#: Images ``--dataset shapes`` draws when ``--max-samples`` asks for no fewer:
#: 40 tasks keep about 1,000 test images each (4,000 training), and the whole
#: run with the default MLP stays a few minutes on 2 CPU cores.
SHAPES_SAMPLES = 5_000
#: Side of the shapes images: 16 x 16 RGB is 768 features for the MLP, where
#: colour, shape, size, position and rotation stay readable (textures barely).
SHAPES_SIDE = 16


def load_shapes(*, max_samples=None, random_state=0):
    """``--dataset shapes``: :func:`~sklearn_etap.datasets.make_shapes` as a
    built-in dataset: its 40 binary attribute tasks, the pixels flattened
    and standardized with the training images' statistics.

    ``max_samples`` draws that many images instead of ``SHAPES_SAMPLES``
    (the images are independent draws, so fewer draws are a random subset
    in distribution); the same ``random_state`` gives the same data.
    """
    n_samples = SHAPES_SAMPLES if max_samples is None else max_samples
    shapes = datasets.make_shapes(
        n_samples, image_size=SHAPES_SIDE, test_size=0.2, random_state=random_state
    )
    X_train, X_test, X_mean, X_scale = standardize_columns(
        shapes.X_train, shapes.X_test
    )
    check_task_labels(
        shapes.Y_train,
        shapes.Y_test,
        shapes.task_names,
        shapes.task_types,
        f"{n_samples} images leave a task with one class; give a larger --max-samples.",
    )
    return make_bunch(
        X_train=X_train,
        Y_train=shapes.Y_train,
        X_test=X_test,
        Y_test=shapes.Y_test,
        task_names=shapes.task_names,
        feature_names=shapes.feature_names,
        task_types=shapes.task_types,
        descr=shapes.DESCR,
        image_shape=shapes.image_shape,
        X_mean=X_mean,
        X_scale=X_scale,
    )


def builtin_datasets():
    """Name -> loader of every built-in dataset ``--dataset`` accepts."""
    names = {
        "digits": "load_digits_tasks",
        "mhc1": "load_mhc1",
        "ridership": "load_ridership",
        "appliances": "load_appliances",
    }
    loaders = {
        name: getattr(datasets, loader)
        for name, loader in names.items()
        if hasattr(datasets, loader)
    }
    if hasattr(datasets, "make_shapes"):
        loaders["shapes"] = load_shapes
    return loaders


def load_builtin(name, *, max_samples, seed):
    """A built-in dataset, as its loader returns it."""
    loader = builtin_datasets()[name]
    kwargs = {} if max_samples is None else {"max_samples": max_samples}
    try:
        return loader(random_state=seed, **kwargs)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"--dataset {name}: {exc}") from exc


# ---------------------------------------------------------------- own data
def read_table(path):
    """The user's file as a DataFrame: CSV, Parquet, or NPZ of columns."""
    from .inputs import check_header, raw_csv_header

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--data {path}: no such file.")
    try:
        import pandas as pd
    except ImportError as exc:
        raise UsageError(
            'reading --data needs pandas; install it with `pip install "sklearn-etap'
            '[datasets]"`.'
        ) from exc
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".csv", ".csv.gz", ".tsv")):
            sep = "\t" if ".tsv" in suffix else ","
            check_header(raw_csv_header(path, sep), path)
            return pd.read_csv(path, sep=sep)
        if suffix.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            check_header(frame.columns, path)
            return frame
        if suffix.endswith(".npz"):
            return _npz_table(path, pd)
    except ImportError as exc:
        raise UsageError(f"--data {path}: {exc}") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise UsageError(f"--data {path} could not be read: {exc}") from exc
    raise UsageError(
        f"--data {path}: unknown file type {suffix or '(none)'}; give a .csv, "
        ".parquet or .npz file."
    )


def _npz_table(path, pd):
    """An NPZ file as a table.

    Either 1-D arrays of one length (each a column, named by its key), or a
    2-D ``X`` and a 2-D ``Y`` (optional ``feature_names`` and ``task_names``)
    whose columns become features and targets.
    """
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    if "X" in arrays and "Y" in arrays and arrays["X"].ndim == 2:
        X, Y = arrays["X"], arrays["Y"]
        Y = Y[:, None] if Y.ndim == 1 else Y
        features = arrays.get("feature_names", [f"x{j}" for j in range(X.shape[1])])
        targets = arrays.get("task_names", [f"y{j}" for j in range(Y.shape[1])])
        frame = pd.DataFrame(np.column_stack([X, Y]))
        frame.columns = [str(n) for n in features] + [str(n) for n in targets]
        frame.attrs["targets"] = [str(n) for n in targets]
        return frame
    lengths = {key: value.shape for key, value in arrays.items()}
    if (
        any(len(shape) != 1 for shape in lengths.values())
        or len({shape[0] for shape in lengths.values()}) > 1
    ):
        raise ValueError(
            "an NPZ file must hold either 1-D arrays of one length (one per "
            "column) or a 2-D 'X' and a 'Y'"
        )
    return pd.DataFrame(arrays)


def _columns_named(frame, names, option):
    columns = [str(c) for c in frame.columns]
    unknown = [n for n in names if n not in columns]
    if unknown:
        shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise UsageError(
            f"{option} {unknown[0]}: no such column in the data; columns: {shown}."
        )
    if len(set(names)) != len(names):
        raise UsageError(f"{option} names a column twice: {names}.")
    return names


def _target_column(values, name):
    """A target column as floats (NaN: no label) and its task type."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        values = values.astype(float)
    if not pd.api.types.is_numeric_dtype(values):
        labels = sorted(values.dropna().unique().tolist(), key=str)
        if len(labels) == 1:
            raise UsageError(
                f"--target {name} has one class (every label is {labels[0]!r}); "
                "nothing to learn, drop it."
            )
        if len(labels) != 2:
            raise UsageError(
                f"--target {name}: a text column must hold exactly 2 classes to be "
                f"a binary task; it holds {len(labels)}."
            )
        values = values.map({labels[0]: 0.0, labels[1]: 1.0})
    values = values.to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    if present.size < MIN_LABELS:
        raise UsageError(
            f"--target {name} has {present.size} labels; a task needs at least "
            f"{MIN_LABELS} (to train on some and measure gains on others)."
        )
    distinct = np.unique(present)
    if distinct.size < 2:
        raise UsageError(
            f"--target {name} has one class (every label is {distinct[0]:g}); "
            "nothing to learn, drop it."
        )
    kind = "binary" if np.isin(distinct, (0.0, 1.0)).all() else "regression"
    return values, kind


def load_table(path, targets, features, *, max_samples, seed, test_size=0.25):
    """The user's table split into train and test, in the loaders' format."""
    from .inputs import auto_features, check_rows, label_like

    frame = read_table(path)
    check_rows(frame, path)
    if not targets:
        targets = frame.attrs.get("targets")
        if not targets:
            raise UsageError(
                "--data needs the target columns: name each with --target COL "
                "(repeat it for every task)."
            )
    frame.columns = [str(c) for c in frame.columns]
    targets = _columns_named(frame, list(targets), "--target")
    if len(targets) < 2:
        raise UsageError(
            "give at least 2 --target columns: ETAP chooses which tasks to train "
            "together."
        )
    left_out, source = {}, "--feature"
    if features:
        features = _columns_named(frame, list(features), "--feature")
        overlap = sorted(set(features) & set(targets))
        if overlap:
            raise UsageError(
                f"--feature {overlap[0]} is also a --target; a target is never a "
                "feature."
            )
    else:
        features, left_out = auto_features(frame, targets)
        source = "automatic"
    X = _feature_matrix(frame, features)
    columns = [_target_column(frame[name], name) for name in targets]
    Y = np.column_stack([values for values, _ in columns])
    task_types = [kind for _, kind in columns]
    labelled = ~np.isnan(Y).all(axis=1)
    X, Y = X[labelled], Y[labelled]

    rng = np.random.RandomState(seed)
    rows = subsample_indices(len(X), max_samples, random_state=rng)
    train, test = split_indices(len(rows), test_size=test_size, random_state=rng)
    train, test = rows[train], rows[test]
    X_train, X_test, _, _ = standardize_columns(X[train], X[test])
    try:
        check_task_labels(
            Y[train], Y[test], targets, task_types, "give more labelled rows."
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return make_bunch(
        X_train=X_train,
        Y_train=Y[train],
        X_test=X_test,
        Y_test=Y[test],
        task_names=targets,
        feature_names=features,
        task_types=task_types,
        descr=f"{Path(path).name}: {len(X)} labelled rows, {len(features)} "
        f"features, {len(targets)} tasks.",
        feature_source=source,
        left_out=left_out,
        label_like=label_like(frame, features) if source == "automatic" else [],
    )


def _is_numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _feature_matrix(frame, features):
    bad = [c for c in features if not _is_numeric(frame[c])]
    if bad:
        raise UsageError(
            f"--feature {bad[0]} is not numeric; encode it as numbers or leave it out."
        )
    X = frame[features].to_numpy(dtype=float, na_value=np.nan)
    missing = [c for c, bad in zip(features, np.isnan(X).any(axis=0)) if bad]
    if missing:
        raise UsageError(
            f"feature column {missing[0]} has missing values; fill or drop them "
            "(or leave the column out with --feature)."
        )
    return X
