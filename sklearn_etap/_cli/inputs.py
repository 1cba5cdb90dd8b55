"""Which columns of ``--data`` are inputs: declared, or chosen and shown.

A header naming a column twice is refused (pandas would silently rename the
second one ``name.1``, which then becomes a feature), as is a file with no
rows. Without ``--feature``, the features are the numeric columns other than
the targets that hold a value in every row; the columns left out and the
reason are kept, and the list is printed and written to the report.
"""

from collections import Counter

import numpy as np

from .data import UsageError

#: Feature names printed in full up to this many (the report has them all).
SHOWN_NAMES = 12


def check_header(names, path):
    """Refuse a header that names a column twice, before pandas renames it."""
    names = [str(n) for n in names]
    counts = Counter(names)
    twice = [name for name in names if counts[name] > 1]
    if twice:
        name = twice[0]
        where = [i + 1 for i, n in enumerate(names) if n == name]
        raise UsageError(
            f"--data {path}: the header names column {name!r} {counts[name]} times "
            f"(columns {', '.join(map(str, where))}); give every column its own "
            "name (pandas would rename the copy to "
            f"{name + '.1'!r} and use it as a feature)."
        )


def raw_csv_header(path, sep):
    """The first line of a CSV as written, without pandas' renaming."""
    import pandas as pd

    try:
        first = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str)
    except pd.errors.EmptyDataError as exc:
        raise UsageError(f"--data {path} is empty: no header, no rows.") from exc
    return [] if first.empty else first.iloc[0].tolist()


def check_rows(frame, path):
    """Refuse a table with a header and no rows."""
    if len(frame) == 0:
        raise UsageError(
            f"--data {path} has a header ({len(frame.columns)} columns) but no "
            "rows of data."
        )


def _is_numeric(column):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def auto_features(frame, targets):
    """The numeric non-target columns with a value in every row.

    Returns the features and ``{reason: [columns]}`` for the columns left out.
    """
    features, left_out = [], {}
    for name in frame.columns:
        if name in targets:
            continue
        column = frame[name]
        if not _is_numeric(column):
            left_out.setdefault("not numeric", []).append(name)
        elif column.isna().all():
            left_out.setdefault("empty", []).append(name)
        elif column.isna().any():
            left_out.setdefault("missing values", []).append(name)
        else:
            features.append(name)
    if not features:
        reasons = "; ".join(
            f"{why}: {', '.join(cols)}" for why, cols in left_out.items()
        )
        found = f" (left out, {reasons})" if reasons else ""
        raise UsageError(
            f"no usable feature column besides the {len(targets)} target(s){found}; "
            "name the features with --feature COL (numbers, no missing values)."
        )
    return features, left_out


def label_like(frame, features):
    """Features holding only 0 and 1: possibly other tasks' labels."""
    return [
        name
        for name in features
        if np.isin(frame[name].dropna().unique(), (0, 1)).all()
    ]


def _names(names, full=False):
    limit = len(names) if full else SHOWN_NAMES
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return shown + (f", ... ({more} more in the report)" if more > 0 else "")


def describe_features(data, full=False):
    """The lines ``etap run`` prints about the features it uses."""
    features = list(data.feature_names)
    source = data.get("feature_source", "--feature")
    if source == "--feature":
        return [f"features ({len(features)}, from --feature): {_names(features, full)}"]
    lines = [
        f"features ({len(features)}, every numeric column besides the targets; "
        f"choose them with --feature COL): {_names(features, full)}"
    ]
    for why, columns in data.get("left_out", {}).items():
        lines.append(f"      left out ({why}): {_names(columns)}")
    labels = data.get("label_like", [])
    if labels:
        lines.append(
            f"      note: {len(labels)} feature(s) hold only 0 and 1 "
            f"({_names(labels)}); if they are other tasks' labels, leave them "
            "out with --feature"
        )
    return lines


def feature_summary(data):
    """The features as the report records them."""
    names = data.get("feature_names")
    return {
        "names": None if names is None else [str(n) for n in names],
        "source": data.get("feature_source", "built-in dataset"),
        "left_out": {why: list(cols) for why, cols in data.get("left_out", {}).items()},
        "label_like": list(data.get("label_like", [])),
    }
