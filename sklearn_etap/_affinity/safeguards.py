"""What guards a training: non-finite and blown-up losses, threads.

:class:`DivergenceCheck` is the training loop's callback that stops a
diverged training; the extractor warns about blown-up tasks after fit and
wraps its fit and inference in :func:`torch_threads`.
"""

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .callback import TrainingCallback


class NonFiniteLossError(ValueError):
    """A task's training loss became NaN or infinite.

    ``tasks`` are the columns of the trained ``Y`` whose loss diverged,
    ``losses`` their epoch losses and ``epoch`` the epoch (from 0), so a
    caller that trains on a subset of a dataset's tasks can name them.
    """

    def __init__(self, tasks, losses, epoch):
        self.tasks = [int(t) for t in tasks]
        self.losses = [float(v) for v in losses]
        self.epoch = int(epoch)
        super().__init__(self.describe([f"task {t}" for t in self.tasks]))

    def describe(self, names):
        """The message, with ``names[k]`` naming ``tasks[k]``."""
        tasks = ", ".join(f"{name} ({loss})" for name, loss in zip(names, self.losses))
        return (
            f"the training loss of {tasks} became non-finite in epoch "
            f"{self.epoch + 1}. Lower learning_rate, standardize X and the "
            "regression columns of Y, or add weight_decay."
        )

    def __reduce__(self):  # picklable across joblib worker processes
        return type(self), (self.tasks, self.losses, self.epoch)


def check_finite_task_losses(epoch_losses, epoch):
    """Raise :class:`NonFiniteLossError` if a task's epoch loss is NaN or inf."""
    bad = np.flatnonzero(~np.isfinite(epoch_losses))
    if bad.size:
        raise NonFiniteLossError(bad, epoch_losses[bad], epoch)


class DivergenceCheck(TrainingCallback):
    """Raise :class:`NonFiniteLossError` after an epoch with a non-finite task loss."""

    def on_epoch_end(self, loop, epoch, task_losses):
        check_finite_task_losses(task_losses, epoch)


# A task whose training loss ends this many times above its loss before the
# first step has blown up (a learning rate far too large): a working training
# never ends above where it started by that much.
BLOW_UP_FACTOR = 10.0


class TrainingBlewUpWarning(ConvergenceWarning):
    """A task's training loss ended far above its loss before training.

    ``tasks`` are the columns of the trained ``Y``, ``start`` and ``end``
    their losses before the first step and at the kept epoch.
    """

    def __init__(self, tasks, start, end):
        self.tasks = [int(t) for t in tasks]
        self.start = [float(v) for v in start]
        self.end = [float(v) for v in end]
        super().__init__(self.describe([f"task {t}" for t in self.tasks]))

    def describe(self, names):
        """The message, with ``names[k]`` naming ``tasks[k]``."""
        tasks = ", ".join(
            f"{name} ({a:.4g} -> {b:.4g})"
            for name, a, b in zip(names, self.start, self.end)
        )
        return (
            f"the training loss of {tasks} ended more than {BLOW_UP_FACTOR:g} "
            "times above its value before training: the training blew up. "
            "Lower learning_rate, standardize X and the regression columns of Y, "
            "or add weight_decay."
        )

    def __reduce__(self):
        return type(self), (self.tasks, self.start, self.end)


def blown_up_tasks(start, end, factor=BLOW_UP_FACTOR):
    """Tasks whose loss ``end`` is ``factor`` times their loss ``start``."""
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(end > factor * np.maximum(start, 1e-12))


@contextmanager
def torch_threads(n_threads):
    """Run the block with torch limited to ``n_threads`` threads (``None``:
    unchanged), then restore the process's setting, even on error."""
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
