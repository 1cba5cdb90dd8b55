"""The one multi-task training loop, with hooks.

Every model of the package trains here: the extractor's run on all tasks (with
or without affinity recording), the models the gain runner fits (clones of the
extractor) and the TAG baseline (a recorder callback).

The total loss is the sum over tasks of each task's mean loss over the labels
present in the batch (a missing label, NaN in ``Y``, simply does not count).
On a step where a callback asks for the per-task gradients the loop computes
them in batched backward passes (or one per task, where that is cheaper:
``task_gradients.tasks_per_pass``) and sets ``.grad`` to their sum; on any
other step one ordinary backward pass does. Callbacks
(:class:`~.callback.TrainingCallback`) observe; the loop owns the step.
"""

import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from .callback import TrainingCallback, TrainingStep
from .randomness import get_rng_state
from .task_gradients import SavedActivations, backward_with_task_gradients
from .task_types import BINARY, REGRESSION, TaskLoss, elementwise_losses

__all__ = [
    "BINARY",
    "PRECISIONS",
    "REGRESSION",
    "TaskData",
    "elementwise_losses",
    "evaluate_task_losses",
    "fit_loop",
    "masked_task_losses",
]


def masked_task_losses(outputs, targets, present, is_binary):
    """Mean loss of every task over the labels present.

    Parameters
    ----------
    outputs : tensor of shape (batch, n_outputs)
        The model's outputs: values (regression tasks), logits (binary and
        multiclass tasks), a custom task's outputs.
    targets : tensor of shape (batch, n_tasks)
        Labels, with missing labels replaced by 0.
    present : tensor of shape (batch, n_tasks)
        1.0 where the label is present, else 0.0.
    is_binary : TaskLoss or bool tensor of shape (n_tasks,)
        The tasks' losses (:class:`~.task_types.TaskLoss`); a bool tensor
        stands for regression and binary tasks of one output each.

    Returns
    -------
    losses : tensor of shape (n_tasks,)
        Every task's mean loss over its labels present; 0 for a task without
        labels.
    has_label : bool tensor of shape (n_tasks,)
    """
    if not isinstance(is_binary, TaskLoss):
        elementwise = elementwise_losses(outputs, targets, is_binary)
    elif is_binary.scalar:  # regression and binary tasks only: one formula
        elementwise = elementwise_losses(outputs, targets, is_binary.is_binary)
    else:
        elementwise = is_binary.elementwise(outputs, targets)
    counts = present.sum(dim=0)
    losses = (elementwise * present).sum(dim=0) / counts.clamp(min=1)
    return losses, counts > 0


@dataclass
class TaskData:
    """Inputs and labels of a multi-task problem, as tensors on one device."""

    X: torch.Tensor
    targets: torch.Tensor
    present: torch.Tensor

    @classmethod
    def from_numpy(cls, X, Y, device, dtype=torch.float32):
        present = ~np.isnan(Y)
        # torch.tensor copies, so read-only inputs (memory maps) are never shared
        return cls(
            X=torch.tensor(X, dtype=dtype, device=device),
            targets=torch.as_tensor(
                np.where(present, Y, 0.0), dtype=dtype, device=device
            ),
            present=torch.as_tensor(present, dtype=dtype, device=device),
        )

    def __len__(self):
        return self.X.shape[0]

    @property
    def device(self):
        return self.X.device

    @property
    def n_tasks(self):
        return self.targets.shape[1]

    def rows(self, index):
        return TaskData(self.X[index], self.targets[index], self.present[index])

    def batches(self, order, batch_size):
        """The batches of one epoch: rows ``order`` (a CPU index tensor) in
        slices of ``batch_size``."""
        order = order.to(self.device)
        for start in range(0, len(self), batch_size):
            yield self.rows(order[start : start + batch_size])

    def in_order(self, batch_size):
        """The samples in their order, in batches of ``batch_size``."""
        for start in range(0, len(self), batch_size):
            yield self.rows(slice(start, start + batch_size))

    def probe(self, n_rows):
        """The first ``n_rows`` inputs, on the device (to check a model)."""
        return self.X[:n_rows]

    def subset(self, positions):
        """The rows at ``positions`` (an array of ints)."""
        return self.rows(torch.as_tensor(positions, device=self.device))


@dataclass
class TrainingHistory:
    """What a run of :func:`fit_loop` leaves behind.

    ``initial_task_losses`` are the per-task losses of the model before the
    first step (on the rows :func:`initial_loss_rows` picks), ``task_curve``
    the per-task mean training losses of every epoch, ``kept_epoch`` the
    epoch whose weights are kept (None: the last; early stopping sets the
    best one) and ``final_task_losses`` its entry of ``task_curve``.
    """

    loss_curve: list = field(default_factory=list)
    validation_curve: list = field(default_factory=list)
    task_curve: list = field(default_factory=list)
    n_epochs: int = 0
    n_steps: int = 0
    stopped_early: bool = False
    kept_epoch: int = None
    initial_task_losses: np.ndarray = None
    final_task_losses: np.ndarray = None


def make_optimizer(name, params, learning_rate, momentum, weight_decay):
    """``"sgd"`` (torch SGD with momentum, no dampening), ``"adam"`` or ``"adamw"``."""
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=learning_rate, momentum=momentum, weight_decay=weight_decay
        )
    if name == "adamw":
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)


# The loss before training (what the blow-up warning compares the last
# epoch's loss with) is measured on this many rows spread evenly over the
# data, each task topped up to INITIAL_LOSS_MIN_LABELS of its labels: a
# pass over all rows would cost a CNN most of an epoch's forward passes, and
# a mean over 512 rows is far tighter than the factor of 10 the warning asks.
INITIAL_LOSS_ROWS = 512
INITIAL_LOSS_MIN_LABELS = 32


def initial_loss_rows(present, n_rows=INITIAL_LOSS_ROWS):
    """Positions of the rows the loss before training is measured on.

    ``n_rows`` positions spread evenly from the first row to the last (no
    random draw: the training's random stream is untouched, and data sorted
    by a label or a task are still covered end to end), plus, for a task
    with fewer than :data:`INITIAL_LOSS_MIN_LABELS` labels among them, that
    many of its labelled rows, spread evenly too (a task with sparse labels
    keeps a measured initial loss). ``present``: the (n_samples, n_tasks)
    label mask. Returns None when there are at most ``n_rows`` rows: all.
    """
    n_samples = present.shape[0]
    if n_samples <= n_rows:
        return None
    present = present.cpu().numpy() > 0
    rows = np.unique(np.linspace(0, n_samples - 1, n_rows).round().astype(np.int64))
    short = np.flatnonzero(present[rows].sum(axis=0) < INITIAL_LOSS_MIN_LABELS)
    extra = []
    for task in short:
        labelled = np.flatnonzero(present[:, task])
        if labelled.size > INITIAL_LOSS_MIN_LABELS:
            spread = np.linspace(0, labelled.size - 1, INITIAL_LOSS_MIN_LABELS)
            labelled = labelled[spread.round().astype(np.int64)]
        extra.append(labelled)
    return np.union1d(rows, np.concatenate(extra)) if extra else rows


def initial_loss_sample(data):
    """The rows of ``data`` (:func:`initial_loss_rows`) as data of the same kind."""
    rows = initial_loss_rows(data.present)
    return data if rows is None else data.subset(rows)


def evaluate_task_losses(module, data, is_binary, batch_size=4096):
    """Per-task mean losses of ``module`` on ``data`` (no gradient, float64 sums)."""
    n_tasks = data.n_tasks
    device = data.device
    sums = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    counts = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    with torch.no_grad():
        for batch in data.in_order(batch_size):
            outputs, _ = module(batch.X)
            outputs = outputs.double()
            targets = batch.targets.double()
            present = batch.present.double()
            if isinstance(is_binary, TaskLoss):
                elementwise = is_binary.elementwise(outputs, targets)
            else:
                elementwise = elementwise_losses(outputs, targets, is_binary)
            sums += (elementwise * present).sum(dim=0)
            counts += present.sum(dim=0)
    losses = sums / counts
    return losses.cpu().numpy()  # NaN (0/0) where a task has no label


#: The training loop's ``precision`` values, spelled as Lightning spells them:
#: float32 throughout, or float32 weights with bfloat16 autocast.
PRECISIONS = ("32", "bf16-mixed")


def autocast_to(precision, device):
    """The autocast context of ``precision`` on ``device`` (a no-op for "32")."""
    if precision == "bf16-mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def _as_float32(output):
    """A module's ``(outputs, representation)`` with floating tensors as float32."""
    return tuple(t.float() if t.is_floating_point() else t for t in output)


class MixedPrecision:
    """bfloat16 autocast on every forward pass of ``module`` until :meth:`remove`.

    Installed as forward hooks, so the passes the callbacks make (TAG's
    lookahead, the control variate's replay, early stopping's validation
    loss) run in the precision of the step they are compared with. The
    outputs and the representation leave the module as float32: the losses,
    the affinity scores and the gradients stay in float32.
    """

    def __init__(self, module, device):
        self.device = device
        self._open = []
        self._handles = [
            module.register_forward_pre_hook(self._enter),
            module.register_forward_hook(self._exit, always_call=True),
        ]

    def _enter(self, module, args):
        context = autocast_to("bf16-mixed", self.device)
        context.__enter__()
        self._open.append(context)

    def _exit(self, module, args, output):
        self._open.pop().__exit__(None, None, None)
        return _as_float32(output)

    def remove(self):
        for handle in self._handles:
            handle.remove()


def _parameter_groups(module):
    """Trainable shared (encoder) parameters with their names, and head parameters."""
    shared = [
        (f"encoder.{name}", p)
        for name, p in module.encoder.named_parameters()
        if p.requires_grad
    ]
    head_params = [p for p in module.heads.parameters() if p.requires_grad]
    return [name for name, _ in shared], [p for _, p in shared], head_params


def _overridden(callbacks, hook):
    """The bound ``hook`` of every callback that overrides the no-op default."""
    default = getattr(TrainingCallback, hook)
    return [
        getattr(cb, hook) for cb in callbacks if getattr(type(cb), hook) is not default
    ]


class TrainingLoop:
    """One training of ``module`` on ``data``, notifying ``callbacks``.

    The object the hooks receive as ``loop``: ``module``, ``optimizer``,
    ``history``, ``max_epochs``, ``n_batches`` (steps per epoch) and
    ``stop_training`` (a callback sets it to end training after the epoch).

    ``precision="bf16-mixed"`` runs every forward pass of ``module`` during
    the training under bfloat16 autocast (:class:`MixedPrecision`).
    ``compile=True`` takes the step's forward pass through
    ``torch.compile(module.forward)``, except on a step whose per-task
    gradients a callback asks for (the batched backward pass cannot go
    through a compiled graph) and throughout when a callback replays the
    forward pass (a replay must draw the random numbers the step drew,
    which only the uncompiled module does); ``module`` itself stays
    uncompiled.
    """

    def __init__(
        self,
        module,
        optimizer,
        data,
        is_binary,
        *,
        batch_size,
        max_epochs,
        generator,
        callbacks=(),
        precision="32",
        compile=False,
    ):
        for cb in callbacks:
            if not isinstance(cb, TrainingCallback):
                raise TypeError(
                    f"callbacks holds {cb!r}, a {type(cb).__name__}; every callback "
                    "must be an instance of a subclass of "
                    "sklearn_etap.callbacks.TrainingCallback."
                )
        self.module = module
        self.optimizer = optimizer
        self.data = data
        self.is_binary = is_binary
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.generator = generator
        self.callbacks = list(callbacks)
        self.n_batches = math.ceil(len(data) / batch_size)
        self.history = TrainingHistory()
        self.stop_training = False
        # looked up once: a no-op hook costs nothing per step
        self._hooks = {
            hook: _overridden(self.callbacks, hook)
            for hook in (
                "needs_task_gradients",
                "on_step_begin",
                "on_grads_computed",
                "on_step_end",
            )
        }
        self._replays = any(cb.replays_forward for cb in self.callbacks)
        self.precision = precision
        self._compiled = (
            torch.compile(module.forward) if compile and not self._replays else None
        )

    def run(self):
        """Train for up to ``max_epochs`` epochs; return the history."""
        mixed = None
        if self.precision == "bf16-mixed":
            mixed = MixedPrecision(self.module, self.data.device)
        try:
            return self._run()
        finally:
            if mixed is not None:
                mixed.remove()

    def _forward(self, X, compiled):
        """The step's forward pass: ``(outputs, representation)``."""
        if not compiled:
            return self.module(X)
        # the compiled forward skips the module's hooks: autocast from here
        with autocast_to(self.precision, self.data.device):
            return _as_float32(self._compiled(X))

    def _run(self):
        history = self.history
        self.module.eval()  # no dropout draw, no BatchNorm update: RNG untouched
        history.initial_task_losses = evaluate_task_losses(
            self.module, initial_loss_sample(self.data), self.is_binary
        )
        for cb in self.callbacks:
            cb.on_train_begin(self)
        for epoch in range(self.max_epochs):
            epoch_losses = self.run_epoch()
            history.task_curve.append(epoch_losses)
            history.loss_curve.append(float(epoch_losses.sum()))
            history.n_epochs = epoch + 1
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, epoch_losses)
            if self.stop_training:
                history.stopped_early = True
                break
        for cb in self.callbacks:
            cb.on_train_end(self)
        kept = -1 if history.kept_epoch is None else history.kept_epoch
        history.final_task_losses = history.task_curve[kept]
        self.module.eval()
        return history

    def run_epoch(self):
        """One pass over the data in a random order; the per-task mean losses."""
        module, optimizer, data = self.module, self.optimizer, self.data
        step_begin = self._hooks["on_step_begin"]
        asks = self._hooks["needs_task_gradients"]
        grads_computed = self._hooks["on_grads_computed"]
        step_end = self._hooks["on_step_end"]
        module.train()
        shared_names, shared_params, head_params = _parameter_groups(module)
        device = data.device
        order = torch.randperm(len(data), generator=self.generator)
        epoch_losses = torch.zeros(data.n_tasks, device=data.device)
        for batch in data.batches(order, self.batch_size):
            index = self.history.n_steps
            for hook in step_begin:
                hook(self, index)
            # every callback is asked (a sampling schedule draws at each call)
            wanted = [ask(index) for ask in asks]
            rng_state = get_rng_state(device) if self._replays else None
            record = any(wanted)
            # a recorded step counts the activations its backward passes hold
            saved = SavedActivations(shared_params + head_params) if record else None
            with nullcontext() if saved is None else saved:
                outputs, representation = self._forward(
                    batch.X, self._compiled is not None and not record
                )
                losses, has_label = masked_task_losses(
                    outputs, batch.targets, batch.present, self.is_binary
                )
            optimizer.zero_grad(set_to_none=True)
            task_gradients = None
            if record:
                task_gradients = backward_with_task_gradients(
                    losses, shared_params, head_params, saved.bytes
                )
            else:
                losses.sum().backward()
            step = None
            if grads_computed or step_end:
                step = TrainingStep(
                    index=index,
                    batch=batch,
                    losses=losses,
                    has_label=has_label,
                    representation=representation,
                    task_gradients=task_gradients,
                    module=module,
                    optimizer=optimizer,
                    shared_params=shared_params,
                    shared_names=shared_names,
                    head_params=head_params,
                    is_binary=self.is_binary,
                    rng_state=rng_state,
                )
            for hook in grads_computed:
                hook(self, step)
            optimizer.step()
            for hook in step_end:
                hook(self, step)
            epoch_losses += losses.detach()
            self.history.n_steps += 1
        return (epoch_losses / self.n_batches).cpu().numpy()


def fit_loop(
    module,
    optimizer,
    data,
    is_binary,
    *,
    batch_size,
    max_epochs,
    generator,
    callbacks=(),
    precision="32",
    compile=False,
):
    """Train ``module`` on ``data`` (a :class:`TaskData`) for up to ``max_epochs``.

    Every model of the package trains here; ``callbacks``
    (:class:`~.callback.TrainingCallback` instances, notified in order) record
    affinities, stop early, check for divergence and show progress;
    ``precision`` and ``compile`` as :class:`TrainingLoop` takes them.

    Returns
    -------
    history : TrainingHistory
    """
    return TrainingLoop(
        module,
        optimizer,
        data,
        is_binary,
        batch_size=batch_size,
        max_epochs=max_epochs,
        generator=generator,
        callbacks=callbacks,
        precision=precision,
        compile=compile,
    ).run()


def split_task_data(X, Y, device, validation_fraction, rng):
    """Training data and, when ``validation_fraction`` is not None, validation
    data drawn at random by ``rng``, as tensors on ``device``."""
    if validation_fraction is None:
        return TaskData.from_numpy(X, Y, device), None
    train, validation = validation_split(X.shape[0], validation_fraction, rng)
    return (
        TaskData.from_numpy(X[train], Y[train], device),
        TaskData.from_numpy(X[validation], Y[validation], device),
    )


def validation_split(n_samples, validation_fraction, rng):
    """Sorted training and validation positions, drawn by ``rng``."""
    n_validation = max(1, int(round(validation_fraction * n_samples)))
    if n_validation >= n_samples:
        raise ValueError(
            f"early_stopping needs at least 2 samples; got {n_samples}. Turn "
            "early_stopping off or pass more samples."
        )
    order = rng.permutation(n_samples)
    return np.sort(order[n_validation:]), np.sort(order[:n_validation])
