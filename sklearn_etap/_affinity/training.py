"""The one multi-task training loop.

Every model of the package trains here: the extractor's run on all tasks (with
or without affinity recording), the models the gain runner fits (clones of the
extractor) and the TAG baseline (a recorder plugged into this loop).

The total loss is the sum over tasks of each task's mean loss over the labels
present in the batch (a missing label, NaN in ``Y``, simply does not count).
At a recording step the recorder computes the per-task gradients and sets
``.grad`` to their sum; at any other step one ordinary backward pass does.
"""

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .safeguards import check_finite_task_losses

REGRESSION = "regression"
BINARY = "binary"


def masked_task_losses(outputs, targets, present, is_binary):
    """Mean loss of every task over the labels present.

    Parameters
    ----------
    outputs : tensor of shape (batch, n_tasks)
        Values (regression tasks) or logits (binary tasks).
    targets : tensor of shape (batch, n_tasks)
        Labels, with missing labels replaced by 0.
    present : tensor of shape (batch, n_tasks)
        1.0 where the label is present, else 0.0.
    is_binary : bool tensor of shape (n_tasks,)

    Returns
    -------
    losses : tensor of shape (n_tasks,)
        MSE or BCE-with-logits per task; 0 for a task without labels.
    has_label : bool tensor of shape (n_tasks,)
    """
    elementwise = elementwise_losses(outputs, targets, is_binary)
    counts = present.sum(dim=0)
    losses = (elementwise * present).sum(dim=0) / counts.clamp(min=1)
    return losses, counts > 0


def elementwise_losses(outputs, targets, is_binary):
    """BCE with logits in the binary columns, squared error in the others.

    Written as masked sums rather than ``torch.where``: in the batched
    (vmapped) backward pass of affinity recording, ``where`` and ``softplus``
    have no batching rule and fall back to a loop over tasks (measured: 15%
    slower per recorded step). Each column only ever sees its own loss, so no
    0 * inf arises from the other formula.
    """
    binary = is_binary.to(outputs.dtype)
    logits = outputs * binary
    cross_entropy = F.binary_cross_entropy_with_logits(
        logits, targets, reduction="none"
    )
    return binary * cross_entropy + ((outputs - targets) * (1 - binary)) ** 2


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

    def rows(self, index):
        return TaskData(self.X[index], self.targets[index], self.present[index])


@dataclass
class StepData:
    """What a recorder sees at a recording step (before ``optimizer.step()``)."""

    losses: torch.Tensor
    has_label: torch.Tensor
    representation: torch.Tensor
    shared_params: list
    shared_names: list  # of shared_params in module.named_parameters()
    head_params: list
    optimizer: torch.optim.Optimizer
    module: torch.nn.Module
    batch: TaskData
    is_binary: torch.Tensor
    # the steps this recorded step stands for (its block's length), so the
    # recorder's weighted mean is unbiased for the every-step mean
    weight: float = 1.0
    # torch's random state before the step's forward pass, for recorders that
    # repeat that pass (TAG's lookaheads: the same dropout masks)
    rng_state: object = None


@dataclass
class TrainingHistory:
    """What a run of :func:`fit_loop` leaves behind.

    ``initial_task_losses`` are the per-task losses of the model before the
    first step, ``final_task_losses`` the per-task mean training losses of the
    epoch whose weights are kept (the best one with early stopping).
    """

    loss_curve: list = field(default_factory=list)
    validation_curve: list = field(default_factory=list)
    n_epochs: int = 0
    n_steps: int = 0
    stopped_early: bool = False
    initial_task_losses: np.ndarray = None
    final_task_losses: np.ndarray = None


def make_optimizer(name, params, learning_rate, momentum, weight_decay):
    """``"sgd"`` (torch SGD with momentum, no dampening) or ``"adam"`` (torch Adam)."""
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=learning_rate, momentum=momentum, weight_decay=weight_decay
        )
    return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)


def evaluate_task_losses(module, data, is_binary, batch_size=4096):
    """Per-task mean losses of ``module`` on ``data`` (no gradient, float64 sums)."""
    n_tasks = data.targets.shape[1]
    device = data.X.device
    sums = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    counts = torch.zeros(n_tasks, dtype=torch.float64, device=device)
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = data.rows(slice(start, start + batch_size))
            outputs, _ = module(batch.X)
            outputs = outputs.double()
            targets = batch.targets.double()
            present = batch.present.double()
            elementwise = elementwise_losses(outputs, targets, is_binary)
            sums += (elementwise * present).sum(dim=0)
            counts += present.sum(dim=0)
    losses = sums / counts
    return losses.cpu().numpy()  # NaN (0/0) where a task has no label


class RecordingSchedule:
    """One recorded step in every block of ``every`` steps, at a random place.

    A fixed stride can fall into step with periodic training dynamics (epoch
    boundaries, momentum oscillations) and then averages one phase of them:
    on MHC-I, the affinity recorded at every 5th step from step 0 correlated
    -0.91 with every-step recording. A random place in each block keeps the
    average unbiased at the same cost. ``every=1`` records every step.

    With ``n_steps`` (the steps training will take), the place in the last,
    partial block is drawn within that block, so it is recorded too: a fit
    shorter than ``every`` steps still records one step instead of none.
    """

    def __init__(self, every, seed, n_steps=None):
        self.every = int(every)
        self.n_steps = n_steps
        self._rng = np.random.RandomState(seed)
        self._chosen = -1
        self.weight = self.every

    def records(self, step):
        """Whether ``step`` (counted from 0) is recorded; call it once per step.

        ``weight`` is then the length of the step's block: the number of
        steps the recorded one stands for.
        """
        if step % self.every == 0:
            block = self.every
            if self.n_steps is not None:
                block = max(1, min(block, self.n_steps - step))
            self._chosen = step + int(self._rng.randint(block))
            self.weight = block
        return step == self._chosen


def _parameter_groups(module):
    """Trainable shared (encoder) parameters with their names, and head parameters."""
    shared = [
        (f"encoder.{name}", p)
        for name, p in module.encoder.named_parameters()
        if p.requires_grad
    ]
    head_params = [p for p in module.heads.parameters() if p.requires_grad]
    return [name for name, _ in shared], [p for _, p in shared], head_params


def run_single_epoch(
    module,
    optimizer,
    data,
    is_binary,
    *,
    batch_size,
    generator,
    history,
    recorder=None,
    schedule=None,
):
    """One pass over ``data`` in a random order; return the per-task mean losses.

    A step that ``schedule`` picks goes through ``recorder.step``, which must
    set the parameters' ``.grad``; any other step is one backward pass of the
    summed loss, after which a recorder with ``observes_every_step`` sees it
    through ``recorder.observe``. ``history.n_steps`` counts the steps.
    """
    module.train()
    shared_names, shared_params, head_params = _parameter_groups(module)
    n_samples = len(data)
    order = torch.randperm(n_samples, generator=generator).to(data.X.device)
    epoch_losses = torch.zeros(data.targets.shape[1], device=data.X.device)
    observing = getattr(recorder, "observes_every_step", False)
    for start in range(0, n_samples, batch_size):
        batch = data.rows(order[start : start + batch_size])
        recording = recorder is not None and schedule.records(history.n_steps)
        seen = recording or observing
        rng_state = None
        if seen and getattr(recorder, "replays_forward", False):
            rng_state = recorder.get_rng_state(data.X.device)
        outputs, representation = module(batch.X)
        losses, has_label = masked_task_losses(
            outputs, batch.targets, batch.present, is_binary
        )
        optimizer.zero_grad(set_to_none=True)
        if seen:
            step = StepData(
                losses=losses,
                has_label=has_label,
                representation=representation,
                shared_params=shared_params,
                shared_names=shared_names,
                head_params=head_params,
                optimizer=optimizer,
                module=module,
                batch=batch,
                is_binary=is_binary,
                weight=schedule.weight,
                rng_state=rng_state,
            )
        if recording:
            recorder.step(step)
        else:
            losses.sum().backward()
            if observing:
                recorder.observe(step)
        optimizer.step()
        epoch_losses += losses.detach()
        history.n_steps += 1
    return (epoch_losses / math.ceil(n_samples / batch_size)).cpu().numpy()


def fit_loop(
    module,
    optimizer,
    data,
    is_binary,
    *,
    batch_size,
    max_epochs,
    generator,
    validation=None,
    early_stopping=None,
    recorder=None,
    record_every=1,
    record_seed=0,
    verbose=False,
):
    """Train ``module`` on ``data`` for up to ``max_epochs`` epochs.

    Every model of the package trains here. Each epoch is one
    :func:`run_single_epoch`; a non-finite task loss raises
    :class:`~.safeguards.NonFiniteLossError`. With ``validation`` (a
    :class:`TaskData`) and ``early_stopping`` (an
    :class:`~.safeguards.EarlyStopping`), the summed
    validation loss of every epoch goes to ``early_stopping.update``, which
    says when to stop, and the best epoch's weights are restored at the
    end. With a ``recorder``, one step at a random place in every block of
    ``record_every`` steps (:class:`RecordingSchedule`, seeded by
    ``record_seed``) goes through ``recorder.step``; a recorder with
    ``observes_every_step`` sees the others through ``recorder.observe``.

    Returns
    -------
    history : TrainingHistory
    """
    history = TrainingHistory()
    n_batches = math.ceil(len(data) / batch_size)
    schedule = RecordingSchedule(record_every, record_seed, max_epochs * n_batches)
    module.eval()  # no dropout draw, no BatchNorm update: the RNG is untouched
    history.initial_task_losses = evaluate_task_losses(module, data, is_binary)
    task_curve = []

    progress = tqdm(range(max_epochs), desc="epochs", disable=not verbose, leave=False)
    for epoch in progress:
        epoch_losses = run_single_epoch(
            module,
            optimizer,
            data,
            is_binary,
            batch_size=batch_size,
            generator=generator,
            history=history,
            recorder=recorder,
            schedule=schedule,
        )
        check_finite_task_losses(epoch_losses, epoch)
        task_curve.append(epoch_losses)
        history.loss_curve.append(float(epoch_losses.sum()))
        history.n_epochs = epoch + 1
        postfix = {"loss": f"{history.loss_curve[-1]:.4g}"}
        if validation is not None and early_stopping is not None:
            module.eval()
            score = float(
                np.nansum(evaluate_task_losses(module, validation, is_binary))
            )
            history.validation_curve.append(score)
            postfix["val_loss"] = f"{score:.4g}"
            history.stopped_early = early_stopping.update(score, module, epoch)
        progress.set_postfix(postfix)
        if history.stopped_early:
            break
    progress.close()
    kept = len(task_curve) - 1
    if early_stopping is not None:
        early_stopping.restore(module)
        if early_stopping.best_epoch is not None:
            kept = early_stopping.best_epoch
    history.final_task_losses = task_curve[kept]
    module.eval()
    return history


@contextmanager
def seeded_torch(seed, device):
    """Torch's global RNG seeded for a fit on ``device`` and restored after it."""
    devices = []
    if device.type == "cuda":
        devices = [
            torch.cuda.current_device() if device.index is None else device.index
        ]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def split_task_data(X, Y, device, validation_fraction, rng):
    """Training data and, when ``validation_fraction`` is not None, validation
    data drawn at random by ``rng``, as tensors on ``device``."""
    if validation_fraction is None:
        return TaskData.from_numpy(X, Y, device), None
    n_samples = X.shape[0]
    n_validation = max(1, int(round(validation_fraction * n_samples)))
    if n_validation >= n_samples:
        raise ValueError(
            f"early_stopping needs at least 2 samples; got {n_samples}. Turn "
            "early_stopping off or pass more samples."
        )
    order = rng.permutation(n_samples)
    train, validation = np.sort(order[n_validation:]), np.sort(order[:n_validation])
    return (
        TaskData.from_numpy(X[train], Y[train], device),
        TaskData.from_numpy(X[validation], Y[validation], device),
    )
