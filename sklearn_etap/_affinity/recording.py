"""Affinity recorders: training-loop callbacks that score task pairs.

:class:`SampledRecorder` decides which steps are scored (one at a random
place in every block of ``every`` steps, :class:`RecordingSchedule`), asks
the loop for those steps' per-task gradients and accumulates the scores,
each weighted by its block's length (:class:`AffinityAccumulator`).
:class:`ETAPRecorder` scores ETAP's first-order score (:mod:`.scores`);
:class:`TAGRecorder` TAG's lookahead (Fifty et al., NeurIPS 2021), which takes
task i's step on a copy of the shared weights and measures
z[i -> j] = 1 - L_j(after) / L_j(before) on the same batch: one extra forward
pass per task.

:meth:`ETAPRecorder.record` takes the per-task gradients of one step
directly, so gradients computed outside the extractor's loop can be recorded
the same way.
"""

import numpy as np
import torch

from .callback import TrainingCallback
from .scores import etap_scores, scored_pairs, task_updates
from .training import masked_task_losses

#: The interval of a long training on at most 10 tasks (issue 21's default).
LONG_TRAINING_EVERY = 100
#: Plain steps the interval grows by per task: a recorded step costs about one
#: backward pass per task (0.5 to 0.7 plain steps per task on a CNN), so one
#: recorded step in ``10 * n_tasks`` costs about 5-7% of the training.
STEPS_PER_TASK = 10
#: Fewest steps ``affinity_every="auto"`` plans to record, the last, partial
#: block counted (the extractor records it). 4: the 320- and 400-step
#: trainings of issue 21's tables keep one step in 100 (4 recorded steps there
#: gave the every-step within-task r), while a training of a few dozen steps
#: (Linnerud: 15 rows) records more than one step.
MIN_RECORDED_STEPS = 4


def auto_recording_interval(n_tasks, n_planned_steps):
    """The interval ``affinity_every="auto"`` resolves to.

    ``max(100, 10 * n_tasks)`` keeps the recording's cost a bounded share of
    the training whatever the number of tasks. When the planned training
    (``n_planned_steps``: epochs times batches per epoch, before any early
    stopping) holds fewer than 4 blocks of that length, the partial one
    counted, the interval is ``n_planned_steps // 4`` instead, so that at
    least 4 steps are recorded. Depends on the data's shape only, never on
    timings: two fits with one seed stay identical.

    Examples
    --------
    >>> from sklearn_etap._affinity.recording import auto_recording_interval
    >>> auto_recording_interval(8, 50 * 20), auto_recording_interval(40, 5000)
    (100, 400)
    >>> auto_recording_interval(3, 50)
    12
    """
    long = max(LONG_TRAINING_EVERY, STEPS_PER_TASK * int(n_tasks))
    n_planned_steps = int(n_planned_steps)
    if -(-n_planned_steps // long) >= MIN_RECORDED_STEPS:
        return long
    return max(1, n_planned_steps // MIN_RECORDED_STEPS)


class RecordingSchedule:
    """One recorded step in every block of ``every`` steps, at a random place.

    A fixed stride can fall into step with periodic training dynamics (epoch
    boundaries, momentum oscillations) and then averages one phase of them.
    A random place in each block keeps the average unbiased at the same
    cost. ``every=1`` records every step.

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


class AffinityAccumulator:
    """Weighted sums and counts of per-step scores, kept on the device (no host sync).

    A recorded step is weighted by the number of steps it stands for (the
    length of its block in the recording schedule), so
    ``A = sum_k w_k z_k / sum_k w_k`` over the recorded steps is an unbiased
    estimate of the every-step mean when the place of each recorded step is
    drawn uniformly within its block: a step of a short last block does not
    count as much as one of a full block.
    """

    def __init__(self, n_tasks, device):
        self.total = torch.zeros((n_tasks, n_tasks), dtype=torch.float64, device=device)
        self.count = torch.zeros((n_tasks, n_tasks), dtype=torch.float64, device=device)
        self.n_recorded_steps = 0

    def add(self, scores, losses, has_label, weight=1.0):
        valid = scored_pairs(losses, has_label)
        self.total += weight * torch.where(valid, scores, 0.0).double()
        self.count += weight * valid.double()
        self.n_recorded_steps += 1

    def affinity(self):
        """A[i, j]: weighted mean of the recorded z[i -> j]; NaN if never scored."""
        total, count = self.total.cpu().numpy(), self.count.cpu().numpy()
        out = total / np.where(count > 0, count, 1.0)
        out[count == 0] = float("nan")
        return out


class SampledRecorder(TrainingCallback):
    """A recorder scoring one step at a random place in every block of ``every``.

    Subclasses define :meth:`score_step`, called on the sampled steps with
    their per-task gradients and the number of steps they stand for.

    Parameters
    ----------
    n_tasks : int
    device : torch.device
    every : int, default=1
        The block length; 1 scores every step.
    seed : int, default=0
        Seeds the places of the sampled steps.
    """

    def __init__(self, n_tasks, device, *, every=1, seed=0):
        self.every = every
        self.seed = seed
        self.scores = AffinityAccumulator(n_tasks, device)
        self._sampled = False

    @property
    def n_recorded_steps(self):
        """Steps scored so far."""
        return self.scores.n_recorded_steps

    def on_train_begin(self, loop):
        n_steps = loop.max_epochs * loop.n_batches
        self.schedule = RecordingSchedule(self.every, self.seed, n_steps)

    def needs_task_gradients(self, step_index):
        self._sampled = self.schedule.records(step_index)
        return self._sampled

    def on_grads_computed(self, loop, step):
        if self._sampled:
            self.score_step(step, self.schedule.weight)

    def score_step(self, step, weight):
        raise NotImplementedError

    def affinity(self):
        """A[i, j]: the weighted mean of the recorded z[i -> j]; NaN if never scored."""
        return self.scores.affinity()


class ETAPRecorder(SampledRecorder):
    """ETAP's affinity from the loop's per-task gradients on the sampled steps."""

    def score_step(self, step, weight):
        self.record(
            step.task_gradients,
            step.losses,
            step.has_label,
            step.optimizer,
            step.shared_params,
            weight,
        )

    def record(self, task_gradients, losses, has_label, optimizer, params, weight=1.0):
        """Add one step's score, before ``optimizer`` takes that step.

        Parameters
        ----------
        task_gradients : tensor of shape (n_tasks, P)
            Every task's gradient of ``params``, flattened in their order.
        losses : tensor of shape (n_tasks,)
            The tasks' losses on the step's batch.
        has_label : bool tensor of shape (n_tasks,)
        optimizer : torch.optim.SGD or torch.optim.Adam
            Its state (momentum, moments) is read, not changed.
        params : list of tensors
            The shared parameters the gradients are of.
        weight : float, default=1.0
            The number of steps this one stands for.
        """
        losses = losses.detach()
        scores = etap_scores(task_gradients, losses, optimizer, params)
        self.scores.add(scores, losses, has_label, weight)


def lookahead_losses(step, buffers, shared_values):
    """Per-task losses on the step's batch with the shared weights replaced.

    The forward pass runs on copies of ``buffers`` (the module's named
    buffers), which take its in-place updates (BatchNorm running statistics),
    so the trained model is the same as without recording.
    """
    batch = step.batch
    values = {name: buffer.clone() for name, buffer in buffers.items()}
    values.update(zip(step.shared_names, shared_values))
    out, _ = torch.func.functional_call(step.module, values, (batch.X,), strict=False)
    return masked_task_losses(out, batch.targets, batch.present, step.is_binary)[0]


class TAGRecorder(SampledRecorder):
    """TAG's lookahead affinity: one extra forward pass per task per sampled step.

    The lookahead step of task i is the optimizer's step with task i's
    gradient alone (the same ``dtheta_i`` as ETAP's), applied to a copy of the
    shared weights; the heads keep their current weights. Every lookahead
    pass replays the random state of the step's own forward pass (so a
    dropout layer draws the same masks as in training), and the loop's
    random stream is left as plain training leaves it.
    """

    replays_forward = True

    def score_step(self, step, weight):
        updates = task_updates(step.task_gradients, step.optimizer, step.shared_params)
        before = step.losses.detach()
        sizes = [p.numel() for p in step.shared_params]
        buffers = dict(step.module.named_buffers())
        scores = torch.empty((len(before), len(before)), device=before.device)
        with torch.no_grad(), step.replaying_randomness() as replay:
            for task, update in enumerate(updates):
                steps = update.split(sizes)
                lookahead = [
                    p.detach() + s.view_as(p) for p, s in zip(step.shared_params, steps)
                ]
                replay()
                after = lookahead_losses(step, buffers, lookahead)
                scores[task] = 1 - after / before
        self.scores.add(scores, before, step.has_label, weight)
