"""The contract between the training loop and the objects it notifies.

The loop (:mod:`.training`) owns the step: the forward pass, the gradients,
the optimizer step and torch's random state. It calls the hooks of
:class:`TrainingCallback` objects at fixed points; a callback observes and
records, it never sets ``.grad`` or steps the optimizer. Affinity recorders,
early stopping, the progress bar and the divergence check are such
callbacks, and so is any callback a user passes to the extractor.
"""

from .randomness import replaying_randomness


class TrainingCallback:
    """Base class of the objects the extractor's training loop notifies.

    Every hook does nothing here; a callback overrides the hooks it needs and
    is passed as ``TorchAffinityExtractor(callbacks=[...])``. Each hook
    receives ``loop``, the running training, which exposes ``module``,
    ``optimizer``, ``history`` (``loss_curve`` so far, ``n_steps`` taken),
    ``max_epochs``, ``n_batches`` (steps per epoch) and ``stop_training``
    (set it to True to end the training after the current epoch).

    The loop calls, in this order: ``on_train_begin``; for every step
    ``on_step_begin``, ``needs_task_gradients``, (the forward and backward
    pass), ``on_grads_computed``, (the optimizer step), ``on_step_end``;
    after every epoch ``on_epoch_end``; at the end ``on_train_end``.

    Two declarations tell the loop what a step must provide; it computes it
    once for all callbacks:

    - :meth:`needs_task_gradients` returns True for a step whose per-task
      gradients the callback wants. The loop then takes every task's
      gradient in batched backward passes, or one per task where that is
      cheaper (their sum is the training
      gradient, so there is no second pass) and passes them as
      ``step.task_gradients``. Another callback may ask for other steps:
      test ``step.index``, not ``task_gradients is None``, to keep to yours.
    - ``replays_forward = True`` declares that the callback repeats the
      step's forward pass (a lookahead at moved weights, say). The loop then
      keeps the random state of that pass, which
      :meth:`TrainingStep.replaying_randomness` replays.

    Attributes
    ----------
    replays_forward : bool
        Class attribute, False here; see above.

    See Also
    --------
    TrainingStep : What the step hooks receive.

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

        Called once per step, before its forward pass.

        Parameters
        ----------
        step_index : int
            The step's index, from 0, counted over the whole training.

        Returns
        -------
        needed : bool
            True to receive ``step.task_gradients`` in ``on_grads_computed``.
        """
        return False

    def on_train_begin(self, loop):
        """Before the first step (the model is built, the optimizer is fresh).

        Parameters
        ----------
        loop : TrainingLoop
            The running training.
        """

    def on_step_begin(self, loop, step_index):
        """Before the step's forward pass.

        Parameters
        ----------
        loop : TrainingLoop
            The running training.
        step_index : int
            The step's index, from 0, counted over the whole training.
        """

    def on_grads_computed(self, loop, step):
        """After the backward pass, before the optimizer step.

        The gradients exist and the optimizer's state (momentum, Adam's
        moments) is still the one the step will update.

        Parameters
        ----------
        loop : TrainingLoop
            The running training.
        step : TrainingStep
            The step's batch, losses and, when asked for, per-task gradients.
        """

    def on_step_end(self, loop, step):
        """After the optimizer step.

        Parameters
        ----------
        loop : TrainingLoop
            The running training.
        step : TrainingStep
            The step just taken.
        """

    def on_epoch_end(self, loop, epoch, task_losses):
        """After every epoch.

        Parameters
        ----------
        loop : TrainingLoop
            The running training.
        epoch : int
            The epoch's index, from 0.
        task_losses : ndarray of shape (n_tasks,)
            Every task's mean training loss over the epoch's batches.
        """

    def on_train_end(self, loop):
        """After the last epoch (also after early stopping).

        Parameters
        ----------
        loop : TrainingLoop
            The finished training.
        """


class TrainingStep:
    """What the hooks of one training step see.

    Built by the training loop; a callback reads it.

    Parameters
    ----------
    index : int
        The step's index over the whole training, from 0.
    batch : TaskData
        The batch: ``X``, ``targets`` (0 where a label is missing) and
        ``present`` (1.0 where a label is present), tensors on the model's
        device.
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
    module : torch.nn.Module
        The model: ``module.encoder`` and ``module.heads``.
    optimizer : torch.optim.Optimizer
        The model's optimizer.
    shared_params : list of torch.nn.Parameter
        The trainable encoder parameters.
    shared_names : list of str
        Their names in ``module.named_parameters()``.
    head_params : list of torch.nn.Parameter
        The trainable head parameters.
    is_binary : TaskLoss
        The tasks' losses (regression, binary, multiclass, custom; the
        name is historical): ``masked_task_losses(outputs, batch.targets,
        batch.present, step.is_binary)`` scores the batch again, e.g. at
        moved weights. Its ``is_binary`` attribute is the bool tensor of
        the binary tasks.
    rng_state : dict or None, default=None
        Torch's random state before the forward pass; the loop keeps it when
        a callback declares ``replays_forward``.

    See Also
    --------
    TrainingCallback : The hooks that receive it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor
    >>> from sklearn_etap.callbacks import TrainingCallback
    >>> class GradientShape(TrainingCallback):
    ...     def needs_task_gradients(self, step_index):
    ...         return step_index == 0
    ...     def on_grads_computed(self, loop, step):
    ...         if step.index == 0:
    ...             self.shape = tuple(step.task_gradients.shape)
    >>> X, Y = np.random.RandomState(0).normal(size=(32, 3)), np.ones((32, 2))
    >>> ext = TorchAffinityExtractor(hidden_layer_sizes=(4,), max_epochs=1,
    ...                              device="cpu", callbacks=[GradientShape()])
    >>> ext.fit(X, Y).callbacks_[0].shape  # 2 tasks, 3 * 4 + 4 encoder weights
    (2, 16)
    """

    __slots__ = (
        "index",
        "batch",
        "losses",
        "has_label",
        "representation",
        "task_gradients",
        "module",
        "optimizer",
        "shared_params",
        "shared_names",
        "head_params",
        "is_binary",
        "rng_state",
    )

    def __init__(
        self,
        *,
        index,
        batch,
        losses,
        has_label,
        representation,
        task_gradients,
        module,
        optimizer,
        shared_params,
        shared_names,
        head_params,
        is_binary,
        rng_state=None,
    ):
        self.index = index
        self.batch = batch
        self.losses = losses
        self.has_label = has_label
        self.representation = representation
        self.task_gradients = task_gradients
        self.module = module
        self.optimizer = optimizer
        self.shared_params = shared_params
        self.shared_names = shared_names
        self.head_params = head_params
        self.is_binary = is_binary
        self.rng_state = rng_state

    def replaying_randomness(self):
        """Context manager yielding ``replay()`` for extra forward passes.

        ``replay()`` resets torch's random state to the one before this
        step's forward pass (the same dropout masks); on exit the state
        after that pass is restored, so the extra passes take nothing from
        the random stream training uses. Only for callbacks that declare
        ``replays_forward = True``.

        Returns
        -------
        context : context manager
            Yields the ``replay`` function.
        """
        if self.rng_state is None:
            raise RuntimeError(
                "replaying_randomness() needs a callback with replays_forward = "
                "True: the loop keeps a step's random state only then."
            )
        return replaying_randomness(self.rng_state, self.losses.device)
