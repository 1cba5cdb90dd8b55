"""The contract between the training loop and the objects it notifies.

The loop (:mod:`.training`) owns the step: the forward pass, the gradients,
the optimizer step and torch's random state. It calls the hooks of
:class:`TrainingCallback` objects at fixed points; a callback observes and
records, it never sets ``.grad`` or steps the optimizer. Affinity recorders,
early stopping, the progress bar and the divergence check are such
callbacks, and so is any callback a user passes to the extractor.
"""

from dataclasses import dataclass

import torch

from .randomness import replaying_randomness


class TrainingCallback:
    """Base class of the objects the training loop notifies.

    Every hook does nothing here; a callback overrides the hooks it needs.
    Each hook receives ``loop``, the running training, which exposes
    ``module``, ``optimizer``, ``history`` (the loss curves so far, the
    number of steps taken), ``max_epochs``, ``n_batches`` (steps per epoch)
    and ``stop_training`` (set it to True to end the training after the
    current epoch).

    Two declarations tell the loop what a step must provide, so it computes
    it once for every callback:

    - :meth:`needs_task_gradients` returns True for a step whose per-task
      gradients the callback wants; the loop then computes every task's
      gradient in one batched backward pass (their sum is the training
      gradient, so no second pass) and hands them over as
      :attr:`TrainingStep.task_gradients`.
    - ``replays_forward = True`` declares that the callback repeats the
      step's forward pass (a lookahead at moved weights, say); the loop then
      keeps the random state of that pass, and
      :meth:`TrainingStep.replaying_randomness` replays it.

    The hooks, in the order the loop calls them:

    ``on_train_begin(loop)``, then for every step ``on_step_begin(loop,
    step_index)``, ``needs_task_gradients(step_index)``, (forward and
    backward pass), ``on_grads_computed(loop, step)``, (optimizer step),
    ``on_step_end(loop, step)``; after every epoch ``on_epoch_end(loop,
    epoch, task_losses)``; finally ``on_train_end(loop)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor
    >>> from sklearn_etap.callbacks import TrainingCallback
    >>> class CountSteps(TrainingCallback):
    ...     def on_train_begin(self, loop):
    ...         self.n_steps = 0
    ...     def on_step_end(self, loop, step):
    ...         self.n_steps += 1
    >>> X, Y = np.random.RandomState(0).normal(size=(64, 3)), np.ones((64, 2))
    >>> ext = TorchAffinityExtractor(max_epochs=2, batch_size=16, device="cpu",
    ...                              callbacks=[CountSteps()]).fit(X, Y)
    >>> ext.callbacks_[0].n_steps
    8
    """

    replays_forward = False

    def needs_task_gradients(self, step_index):
        """Whether the callback wants the per-task gradients of this step.

        Called once per step, before its forward pass, with the step's index
        (from 0, counted over the whole training).
        """
        return False

    def on_train_begin(self, loop):
        """Before the first step (the model is built, the optimizer is fresh)."""

    def on_step_begin(self, loop, step_index):
        """Before the step's forward pass."""

    def on_grads_computed(self, loop, step):
        """After the backward pass, before the optimizer step.

        ``step`` is a :class:`TrainingStep`: the gradients exist and the
        optimizer's state (momentum, Adam's moments) is still the one the
        step will update.
        """

    def on_step_end(self, loop, step):
        """After the optimizer step."""

    def on_epoch_end(self, loop, epoch, task_losses):
        """After every epoch; ``task_losses`` are its per-task mean losses."""

    def on_train_end(self, loop):
        """After the last epoch (also after early stopping)."""


@dataclass(eq=False)
class TrainingStep:
    """What the hooks of a step see.

    Attributes
    ----------
    index : int
        The step's index over the whole training, from 0.
    batch : TaskData
        The batch's inputs ``X``, ``targets`` (0 where a label is missing)
        and ``present`` (1.0 where a label is present).
    losses : torch.Tensor of shape (n_tasks,)
        Every task's mean loss on the batch (0 for a task without labels).
    has_label : torch.Tensor of bool, shape (n_tasks,)
        Whether the task has at least one label in the batch.
    representation : torch.Tensor
        The shared encoder's output on the batch.
    task_gradients : torch.Tensor of shape (n_tasks, n_shared) or None
        Row ``t``: the gradient of task ``t``'s loss with respect to the
        shared (encoder) parameters, flattened in the order of
        ``shared_params``. None unless a callback asked for them.
    module, optimizer :
        The model and its optimizer.
    shared_params, shared_names, head_params : list
        The trainable encoder parameters, their names in
        ``module.named_parameters()``, and the trainable head parameters.
    is_binary : torch.Tensor of bool, shape (n_tasks,)
        Which tasks are binary (their outputs are logits).
    """

    index: int
    batch: object
    losses: torch.Tensor
    has_label: torch.Tensor
    representation: torch.Tensor
    task_gradients: torch.Tensor
    module: torch.nn.Module
    optimizer: torch.optim.Optimizer
    shared_params: list
    shared_names: list
    head_params: list
    is_binary: torch.Tensor
    # torch's random state before the forward pass, kept by the loop when a
    # callback declares replays_forward (see replaying_randomness)
    rng_state: object = None

    def replaying_randomness(self):
        """Context manager yielding ``replay()`` for extra forward passes.

        ``replay()`` resets torch's random state to the one before this
        step's forward pass (the same dropout masks); on exit the state
        after that pass is restored, so the extra passes take nothing from
        the random stream training uses. Only for callbacks that declare
        ``replays_forward = True``.
        """
        if self.rng_state is None:
            raise RuntimeError(
                "replaying_randomness() needs a callback with replays_forward = "
                "True: the loop keeps a step's random state only then."
            )
        return replaying_randomness(self.rng_state, self.losses.device)
