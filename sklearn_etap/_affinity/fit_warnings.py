"""The warnings a finished extractor fit gives: nothing recorded, NaN affinity,
a blown-up task, early stopping that never stopped."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .safeguards import TrainingBlewUpWarning, blown_up_tasks


def warn_nan_affinity(affinity):
    """Name the tasks behind NaN entries of ``affinity_`` (pairs never scored)."""
    unscored = np.isnan(affinity)
    if not unscored.any():
        return
    lonely = np.flatnonzero(np.diag(unscored))
    pairs = [
        (int(i), int(j))
        for i, j in zip(*np.nonzero(unscored))
        if i not in lonely and j not in lonely
    ]
    parts = []
    if lonely.size:
        parts.append(
            f"task(s) {lonely.tolist()} had no label in any recorded batch, "
            "so their rows and columns are NaN"
        )
    if pairs:
        parts.append(f"the pairs {pairs} never had labels in one recorded batch")
    warnings.warn(
        f"affinity_ has {int(unscored.sum())} NaN entries: {'; '.join(parts)} "
        "(tasks with very few labels). Give those tasks more labels, lower "
        "affinity_every or raise batch_size; ETAPRegressor cannot use a NaN "
        "affinity.",
        UserWarning,
        stacklevel=4,
    )


def warn_after_fit(
    history, *, affinity, n_recorded_steps, affinity_every, max_epochs=None
):
    """Every warning a finished fit deserves.

    ``history``: the loop's :class:`~.training.TrainingHistory`;
    ``affinity``: the recorded matrix (None: no recording) from
    ``n_recorded_steps`` steps sampled one in ``affinity_every``;
    ``max_epochs``: the epoch limit when early stopping was on, else None.
    """
    if affinity is not None and not n_recorded_steps:
        warnings.warn(
            f"Training stopped after {history.n_steps} steps, before the first "
            f"recorded step (affinity_every={affinity_every}), so "
            "affinity_ is all NaN; lower affinity_every.",
            UserWarning,
            stacklevel=3,
        )
    blown_up = blown_up_tasks(history.initial_task_losses, history.final_task_losses)
    if blown_up.size:
        warnings.warn(
            TrainingBlewUpWarning(
                blown_up,
                history.initial_task_losses[blown_up],
                history.final_task_losses[blown_up],
            ),
            stacklevel=3,
        )
    if affinity is not None and n_recorded_steps:
        warn_nan_affinity(affinity)
    if max_epochs is not None and not history.stopped_early:
        warnings.warn(
            f"Stopped at max_epochs={max_epochs} before the validation loss "
            "stopped improving; increase max_epochs.",
            ConvergenceWarning,
            stacklevel=3,
        )
