"""ETAP's affinity from a cheap score at every step, corrected on sampled steps.

The exact score z_k[i -> j] = -g_j . dtheta_i / L_j splits into what task
i's own gradient adds and the step every task shares: for SGD,
dtheta_i = -eta g_i + s with s = -eta (beta buf + wd theta), so

    z_k[i -> j] = eta g_i . g_j / L_j  -  g_j . s / L_j.

The second part, the same for every source task i, carries most of the
affinity (the user guide's affinity page measures how much), and its value
for every target j at once is one forward pass away:

    c_k[j] = 1 - L_j(theta + s) / L_j(theta),

the step's batch through the model with the shared weights moved by the
shared step (to first order, c_k[j] = -g_j . s / L_j). The recorder computes
c at every step and the exact score on the sampled steps (one random step per
block), and estimates the every-step mean as

    A = mean over all steps of c  +  block-weighted mean over sampled steps of (z - c),

unbiased for the every-step mean of z whatever c is (a control variate): the
first term is exact, the second an unbiased sample of the rest. It is precise
when z - c varies little from step to step, that is when c tracks the part of
the score that varies. For Adam, ``s`` is Adam's step for a zero gradient.
"""

from contextlib import contextmanager

import torch

from .recording import AffinityAccumulator, SampledRecorder
from .scores import etap_scores, optimizer_settings, task_updates
from .training import masked_task_losses


def has_shared_step(optimizer):
    """Whether the optimizer moves the weights for a zero batch gradient."""
    if isinstance(optimizer, torch.optim.SGD):
        settings = optimizer_settings(optimizer)
        return bool(settings["momentum"] or settings["weight_decay"])
    return True


def moved_weights(optimizer, params):
    """The weights after the optimizer's step for a zero batch gradient."""
    settings = optimizer_settings(optimizer)
    values = [p.detach() for p in params]
    if isinstance(optimizer, torch.optim.SGD):
        # theta - lr (beta buf + wd theta)
        lr, decay = settings["lr"], settings["weight_decay"]
        moved = [v * (1.0 - lr * decay) for v in values] if decay else values
        bufs = [optimizer.state.get(p, {}).get("momentum_buffer") for p in params]
        if settings["momentum"] and bufs[0] is not None:
            alpha = -lr * settings["momentum"]
            return [torch.add(m, b, alpha=alpha) for m, b in zip(moved, bufs)]
        return moved if decay else [v.clone() for v in values]
    size = sum(v.numel() for v in values)
    zero = torch.zeros((1, size), dtype=values[0].dtype, device=values[0].device)
    step = task_updates(zero, optimizer, params)[0].split([v.numel() for v in values])
    return [v + s.view_as(v) for v, s in zip(values, step)]


@contextmanager
def weights_set_to(params, values):
    """Run with ``params`` holding ``values`` (exact copies), then restore them.

    In-place copies under ``no_grad``: the callers run after the step's
    backward pass, so no graph needs the weights; the module keeps its own
    parameter objects (the optimizer's state is keyed by them).
    """
    with torch.no_grad():
        saved = [p.detach().clone() for p in params]
        for p, v in zip(params, values):
            p.copy_(v)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)


def shared_step_score(step, buffers):
    """c[j] = 1 - L_j(theta + s) / L_j(theta) on the step's batch, for every task j.

    The forward pass replays the step's random state (the same dropout masks),
    the module's buffers (BatchNorm statistics) are restored after it, and so
    is torch's random state after the step's own forward pass: training is
    unchanged. ``buffers`` lists the module's buffers (looked up once per fit:
    walking the module costs as much as a small model's forward pass).
    """
    before = step.losses.detach()
    saved = [b.clone() for b in buffers]
    moved = moved_weights(step.optimizer, step.shared_params)
    # Not lookahead_losses (TAG's): its functional_call walks the module at
    # every call, which doubled this score's cost on a small model.
    try:
        with (
            torch.no_grad(),
            step.replaying_randomness() as replay,
            weights_set_to(step.shared_params, moved),
        ):
            replay()
            outputs, _ = step.module(step.batch.X)
            after, _ = masked_task_losses(
                outputs, step.batch.targets, step.batch.present, step.is_binary
            )
    finally:
        for buffer, value in zip(buffers, saved):
            buffer.copy_(value)
    return 1 - after / before


class TargetScoreMean(AffinityAccumulator):
    """Pairwise means of a score that depends on the target task only.

    ``affinity()[i, j]``: the mean of ``c[j]`` over the steps that score the
    pair (both tasks labelled, ``L_j > 0``), as the plain accumulator counts
    them, but at two small operations a step: the per-step vectors are kept
    and reduced every ``flush_every`` steps.
    """

    def __init__(self, n_tasks, device, flush_every=1024):
        super().__init__(n_tasks, device)
        self.flush_every = flush_every
        self._pending = []

    def add(self, score, losses, has_label):
        self._pending.append((score, has_label & (losses > 0), has_label))
        if len(self._pending) >= self.flush_every:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        score, valid, source = (torch.stack(v).double() for v in zip(*self._pending))
        # where(): a score of a pair not scored may be inf or NaN (L_j = 0)
        self.total += source.T @ torch.where(valid > 0, score, 0.0)
        self.count += source.T @ valid
        self._pending = []

    def affinity(self):
        self._flush()
        return super().affinity()


class ControlVariateRecorder(SampledRecorder):
    """ETAP's affinity: a shared-step score at every step, the exact one on some.

    On every step that is not sampled, the cheap score c (one value per
    target task) goes to a plain mean; on the sampled steps the exact score
    z (as :class:`~.recording.ETAPRecorder` computes it) and c are computed,
    c goes to the plain mean and z - c to a mean weighted by the step's
    block length (``self.scores``). ``affinity`` is their sum.
    """

    replays_forward = True  # the cheap score replays every step's forward pass

    def __init__(self, n_tasks, device, *, every=1, seed=0):
        super().__init__(n_tasks, device, every=every, seed=seed)
        self.cheap = TargetScoreMean(n_tasks, device)
        self._buffers = None

    def _cheap_scores(self, step):
        if not has_shared_step(step.optimizer):  # c = 0: spare the forward pass
            return torch.zeros_like(step.losses.detach())
        if self._buffers is None:
            self._buffers = list(step.module.buffers())
        return shared_step_score(step, self._buffers)

    def on_grads_computed(self, loop, step):
        cheap = self._cheap_scores(step)
        losses = step.losses.detach()
        if self._sampled:
            exact = etap_scores(
                step.task_gradients, losses, step.optimizer, step.shared_params
            )
            self.add_exact(exact, cheap, losses, step.has_label, self.schedule.weight)
        else:
            self.add_cheap(cheap, losses, step.has_label)

    def add_cheap(self, cheap, losses, has_label):
        """A step with the cheap score only: ``cheap[j]`` for every target j."""
        self.cheap.add(cheap, losses, has_label)

    def add_exact(self, exact, cheap, losses, has_label, weight):
        """A sampled step: both scores; ``weight`` steps stand behind it."""
        self.cheap.add(cheap, losses, has_label)
        self.scores.add(exact - cheap[None, :], losses, has_label, weight)

    def affinity(self):
        return self.cheap.affinity() + self.scores.affinity()
