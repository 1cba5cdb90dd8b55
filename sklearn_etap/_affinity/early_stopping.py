"""Early stopping on a held-out validation loss, as a training-loop callback."""

import math

import numpy as np

from .callback import TrainingCallback
from .training import evaluate_task_losses


class EarlyStopping(TrainingCallback):
    """Stop once the validation score has not improved by ``tol`` for
    ``n_iter_no_change`` epochs; keep the weights of the best epoch.

    Parameters
    ----------
    n_iter_no_change : int
        Epochs without improvement before stopping.
    tol : float
        The least decrease of the score that counts as an improvement.
    validation : TaskData, HostArrays, DatasetSource or None
        The held-out data scored after every epoch (the summed per-task
        losses); None to feed :meth:`update` by hand.
    is_binary : TaskLoss or torch.Tensor of bool
        The tasks' losses (:class:`~.task_types.TaskLoss`); needed with
        ``validation``.
    """

    def __init__(self, n_iter_no_change, tol, validation=None, is_binary=None):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.validation = validation
        self.is_binary = is_binary
        self.best_score = math.inf
        self.best_epoch = None
        self._best_state = None
        self._epochs_without_improvement = 0

    def update(self, score, module, epoch):
        """Record the epoch's ``score`` (lower is better); return whether to stop."""
        if score < self.best_score - self.tol:
            self.best_score, self.best_epoch = score, epoch
            self._epochs_without_improvement = 0
            self._best_state = {
                k: v.detach().clone() for k, v in module.state_dict().items()
            }
        else:
            self._epochs_without_improvement += 1
        return self._epochs_without_improvement >= self.n_iter_no_change

    def restore(self, module):
        """Load the best epoch's weights into ``module`` (if an epoch was scored)."""
        if self._best_state is not None:
            module.load_state_dict(self._best_state)

    def on_epoch_end(self, loop, epoch, task_losses):
        loop.module.eval()
        losses = evaluate_task_losses(loop.module, self.validation, self.is_binary)
        score = float(np.nansum(losses))
        loop.history.validation_curve.append(score)
        if self.update(score, loop.module, epoch):
            loop.stop_training = True

    def on_train_end(self, loop):
        self.restore(loop.module)
        if self.best_epoch is not None:
            loop.history.kept_epoch = self.best_epoch
