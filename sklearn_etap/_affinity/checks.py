"""Input checks of TorchAffinityExtractor: targets, sizes, task types, device."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_array

from .._validation import Interval, StrOptions
from .task_types import BINARY, MULTICLASS, REGRESSION, resolve_tasks
from .training import PRECISIONS

#: What each parameter of TorchAffinityExtractor accepts (its
#: ``_parameter_constraints``).
PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "encoder": [callable, None],
    "heads": [list, tuple, callable, None],
    "task_types": [
        StrOptions({"auto", REGRESSION, BINARY, MULTICLASS}),
        list,
        tuple,
    ],
    "optimizer": [StrOptions({"sgd", "adam", "adamw"})],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "affinity": [StrOptions({"etap", "tag"}), None],
    "affinity_every": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
    ],
    "affinity_control_variate": ["boolean"],
    "device": [str, torch.device],
    "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    "num_workers": [Interval(Integral, 0, None, closed="left")],
    "precision": [StrOptions(set(PRECISIONS))],
    "compile": ["boolean"],
    "callbacks": [list, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


# The models compute in float32; larger magnitudes become infinite.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(A, name, rows_per_chunk=None, reader=None):
    """Refuse finite values too large for the float32 the models compute in.

    With ``rows_per_chunk`` the rows are checked that many at a time (no
    temporary of the array's size: a memory map stays on disk), read by
    ``reader.read(rows)`` when given (a memory map's file reader).
    """
    A = np.asarray(A)
    if rows_per_chunk is not None and A.ndim:
        for start in range(0, A.shape[0], rows_per_chunk):
            rows = np.arange(start, min(start + rows_per_chunk, A.shape[0]))
            chunk = A[rows] if reader is None else reader.read(rows)
            check_float32_range(chunk, name)
            if not np.isfinite(chunk).all():
                raise ValueError(
                    f"{name} holds NaN or infinity (in rows {start} to "
                    f"{start + len(chunk) - 1}); inputs must be finite."
                )
        return
    if A.dtype.kind not in "fc":
        return  # integers are finite and within float32's range
    with np.errstate(invalid="ignore"):
        too_large = np.abs(A) > FLOAT32_MAX
    if too_large.any():
        where = np.argwhere(too_large)[0]
        column = f" (column {where[1]})" if A.ndim == 2 else ""
        raise ValueError(
            f"{name} holds {A[tuple(where)]:.3g}{column}, too large for float32 "
            f"(at most {FLOAT32_MAX:.3g}), the precision the models compute in; "
            f"rescale that column (standardize it, or take its log) or drop it."
        )


def task_columns(Y):
    """``Y`` as a float (n_samples, n_tasks) array, NaN allowed; 1-D is one task."""
    Y = check_array(
        Y,
        ensure_2d=False,
        allow_nd=True,
        dtype=np.float64,
        ensure_all_finite="allow-nan",
        ensure_min_features=0,
        input_name="Y",
    )
    if Y.ndim not in (1, 2):
        raise ValueError(
            f"Y has {Y.ndim} dimensions; it must be 1-D (one task) or 2-D of "
            "shape (n_samples, n_tasks) with one column per task."
        )
    if Y.ndim == 2 and Y.shape[1] == 0:
        raise ValueError(
            f"Y has shape {Y.shape}: no task column; pass at least one column "
            "of labels per task."
        )
    check_float32_range(Y, "Y")
    return Y[:, None] if Y.ndim == 1 else Y


def check_targets(Y, X, estimator_name, check_X=True):
    """``Y`` as (n_samples, n_tasks) floats, with every column labelled; ``X``
    (unless ``check_X`` is False: checked already) and ``Y`` within the
    float32 range the models compute in."""
    if check_X:
        check_float32_range(X, "X")
    n_samples = X.shape[0]
    if Y is None:
        raise ValueError(
            f"{estimator_name} requires y to be passed, but the target y is "
            "None; pass Y of shape (n_samples, n_tasks)."
        )
    Y = task_columns(Y)
    if Y.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but Y has {Y.shape[0]}; they must match."
        )
    check_labelled_tasks(Y, "Y")
    return Y


def check_labelled_tasks(Y, name):
    """Refuse a task column without any label."""
    empty = np.flatnonzero(np.isnan(Y).all(axis=0))
    if empty.size:
        raise ValueError(
            f"task column(s) {empty.tolist()} of {name} hold no label (all NaN); "
            "drop them before fitting."
        )


def check_hidden_layer_sizes(hidden_layer_sizes, encoder):
    """The sizes as a tuple; refused unless positive ints (or an encoder)."""
    sizes = hidden_layer_sizes
    if isinstance(sizes, Integral):
        sizes = (sizes,)
    sizes = tuple(sizes)
    if encoder is None and (
        not sizes or any(not isinstance(s, Integral) or s < 1 for s in sizes)
    ):
        raise ValueError(
            f"hidden_layer_sizes={hidden_layer_sizes!r}; give a non-empty "
            "sequence of positive integers such as (32, 16)."
        )
    return sizes


def resolve_task_types(task_types, Y):
    """The kind of every column of ``Y`` from ``task_types``: "regression",
    "binary", "multiclass" or "custom" (:mod:`.task_types`)."""
    return np.asarray([spec.kind for spec in resolve_tasks(task_types, Y)], dtype=str)


def resolve_device(device):
    """The torch device ``device`` names (``"auto"``: CUDA if available)."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda'."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available.")
    return device


def check_precision(precision, device):
    """Refuse ``precision="bf16-mixed"`` on a CUDA device without bfloat16."""
    if (
        precision == "bf16-mixed"
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported()
    ):
        raise ValueError(
            f"precision='bf16-mixed' but the CUDA device {device} does not "
            "support bfloat16; use precision='32'."
        )
