"""Input checks shared by the prediction stages: the affinity matrix, group rows."""

import numpy as np
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
)

from .._groups import validated_rows


def check_affinity(affinity, *, input_name="affinity"):
    """Validate a task-affinity matrix: square, 2-D, finite.

    A non-finite entry is refused before any fitting, naming the tasks it
    concerns: a task with too few labels, say, leaves its row and column of
    ``TorchAffinityExtractor().affinity_`` NaN.

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks)
        The matrix to check.
    input_name : str, default="affinity"
        Name used in error messages.

    Returns
    -------
    affinity : ndarray of shape (n_tasks, n_tasks)
        The matrix as floats.
    """
    affinity = check_array(
        affinity, ensure_2d=True, ensure_all_finite=False, input_name=input_name
    )
    if affinity.shape[0] != affinity.shape[1]:
        raise ValueError(
            f"{input_name} must be a square (n_tasks, n_tasks) matrix; got shape "
            f"{affinity.shape}."
        )
    bad = ~np.isfinite(affinity)
    if bad.any():
        off_diagonal = ~np.eye(len(affinity), dtype=bool)
        # A task without scores leaves its whole row or column non-finite;
        # name those tasks, or every task of a stray non-finite entry.
        whole = [
            t
            for t in range(len(affinity))
            if bad[t, off_diagonal[t]].all() or bad[off_diagonal[:, t], t].all()
        ]
        stray = np.flatnonzero(bad.any(axis=0) | bad.any(axis=1)).tolist()
        tasks = whole if whole and len(affinity) > 1 else stray
        raise ValueError(
            f"{input_name} holds NaN or infinite entries for tasks {tasks}; a task "
            "with too few labels or recorded steps gets no affinity score. Drop "
            "those tasks or record more steps (a smaller affinity_every)."
        )
    return affinity


def check_group_rows(X, who):
    """Membership, target task and group id of every group-task row of ``X``.

    Rows must be ``[u_G | e_t]``: 0/1 values, exactly one target bit, and the
    target a member of the group, as :func:`encode_groups` makes them.

    Parameters
    ----------
    X : ndarray of shape (n_rows, 2 * n_tasks)
        Candidate group-task rows.
    who : str
        The estimator (and encoding) named in the error message.

    Returns
    -------
    membership : ndarray of bool, shape (n_rows, n_tasks)
    target : ndarray of int, shape (n_rows,)
    group_ids : ndarray of int, shape (n_rows,)
        Rows with the same membership share an id.
    """
    try:
        membership, target = validated_rows(X)
    except ValueError as exc:
        raise ValueError(
            f"{who} expects group-task rows [u_G | e_t] built with encode_groups "
            f"(0/1 values, one target bit, the target a member of the group): "
            f"{exc}"
        ) from None
    _, group_ids = np.unique(membership, axis=0, return_inverse=True)
    return membership, target, group_ids.ravel()


def check_weights(sample_weight, X):
    """Per-row weights as floats: ones for ``None``, else validated.

    scikit-learn has no public check of ``sample_weight`` (its
    ``_check_sample_weight`` is private), so this is the one for the
    prediction stages: one finite, non-negative weight per row of ``X``, not
    all zero.

    Parameters
    ----------
    sample_weight : array-like of shape (n_rows,) or None
        The weights, or ``None`` for equal weights.
    X : ndarray of shape (n_rows, n_features)
        The rows they weight.

    Returns
    -------
    sample_weight : ndarray of shape (n_rows,)
    """
    if sample_weight is None:
        return np.ones(len(X))
    weights = column_or_1d(
        np.asarray(sample_weight, dtype=float), input_name="sample_weight"
    )
    check_consistent_length(X, weights)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            "sample_weight must be finite and non-negative; got "
            f"{weights[~np.isfinite(weights) | (weights < 0)][:3].tolist()} "
            "among them."
        )
    if not np.any(weights > 0):
        raise ValueError(
            "sample_weight is zero for every row: there is nothing to fit; give "
            "some rows a positive weight."
        )
    return weights
