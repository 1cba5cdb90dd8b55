"""ETAP's affinity from a cheap score at every step, corrected on sampled steps.

The exact score z_k[i -> j] = -g_j . dtheta_i / L_j splits into what task
i's own gradient adds and the step every task shares: for SGD,
dtheta_i = -eta g_i + s with s = -eta (beta buf + wd theta), so

    z_k[i -> j] = eta g_i . g_j / L_j  -  g_j . s / L_j.

The second part, the same for every source task i, carries most of the
affinity (``docs/affinity.md``: r 0.92 and 0.995 with the full score), and its
value for every target j at once is one forward pass away:

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

from .recording import (
    _AffinityAccumulator,
    _optimizer_settings,
    descent_matrix,
    get_rng_state,
    replaying_step_randomness,
    shared_task_gradients,
    task_updates,
)
from .training import masked_task_losses


def has_shared_step(optimizer):
    """Whether the optimizer moves the weights for a zero batch gradient."""
    if isinstance(optimizer, torch.optim.SGD):
        settings = _optimizer_settings(optimizer)
        return bool(settings["momentum"] or settings["weight_decay"])
    return True


def moved_weights(optimizer, params):
    """The weights after the optimizer's step for a zero batch gradient."""
    settings = _optimizer_settings(optimizer)
    values = [p.detach() for p in params]
    if isinstance(optimizer, torch.optim.SGD):
        # theta - lr (beta buf + wd theta), in two fused ops at most
        lr, decay = settings["lr"], settings["weight_decay"]
        moved = torch._foreach_mul(values, 1.0 - lr * decay) if decay else values
        bufs = [optimizer.state.get(p, {}).get("momentum_buffer") for p in params]
        if settings["momentum"] and bufs[0] is not None:
            return torch._foreach_add(moved, bufs, alpha=-lr * settings["momentum"])
        return moved if decay else [v.clone() for v in values]
    size = sum(v.numel() for v in values)
    zero = torch.zeros((1, size), dtype=values[0].dtype, device=values[0].device)
    step = task_updates(zero, optimizer, params)[0].split([v.numel() for v in values])
    return [v + s.view_as(v) for v, s in zip(values, step)]


@contextmanager
def swapped_weights(params, values):
    """Run with ``params`` holding ``values`` (no copy, no rounding), then restore."""
    for p, v in zip(params, values):
        p.data, v.data = v.data, p.data
    try:
        yield
    finally:
        for p, v in zip(params, values):
            p.data, v.data = v.data, p.data


def shared_step_score(data, buffers):
    """c[j] = 1 - L_j(theta + s) / L_j(theta) on the step's batch, for every task j.

    The forward pass replays the step's random state (the same dropout masks),
    the module's buffers (BatchNorm statistics) are restored after it, and so
    is torch's random state after the step's own forward pass: training is
    unchanged. ``buffers`` lists the module's buffers (looked up once per fit:
    walking the module costs as much as a small model's forward pass).
    """
    before = data.losses.detach()
    saved = [b.clone() for b in buffers]
    moved = moved_weights(data.optimizer, data.shared_params)
    # Not lookahead_losses (TAG's): its functional_call walks the module at
    # every call, which doubled this score's cost on a small model.
    try:
        with (
            torch.no_grad(),
            replaying_step_randomness(data) as replay,
            swapped_weights(data.shared_params, moved),
        ):
            replay()
            outputs, _ = data.module(data.batch.X)
            after, _ = masked_task_losses(
                outputs, data.batch.targets, data.batch.present, data.is_binary
            )
    finally:
        for buffer, value in zip(buffers, saved):
            buffer.copy_(value)
    return 1 - after / before


class _TargetScoreMean(_AffinityAccumulator):
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


class ControlVariateRecorder:
    """ETAP's affinity: a shared-step score at every step, the exact one on some.

    ``observe`` (every step that is not sampled) adds the cheap score c (one
    value per target task) to a plain mean; ``step`` (the sampled steps)
    computes the exact score z as :class:`~.recording.ETAPRecorder` does, and
    c, and adds c to the plain mean and z - c to a mean weighted by the
    step's block length. ``affinity`` is their sum.
    """

    observes_every_step = True
    replays_forward = True  # the training loop passes every step's random state
    get_rng_state = staticmethod(get_rng_state)

    def __init__(self, n_tasks, device, method="batched"):
        self.method = method
        self.cheap = _TargetScoreMean(n_tasks, device)
        self.correction = _AffinityAccumulator(n_tasks, device)
        self._buffers = None

    @property
    def n_recorded_steps(self):
        """Steps with the exact score (the cheap one is on every step)."""
        return self.correction.n_recorded_steps

    def _cheap_scores(self, data):
        if not has_shared_step(data.optimizer):  # c = 0: spare the forward pass
            return torch.zeros_like(data.losses.detach())
        if self._buffers is None:
            self._buffers = list(data.module.buffers())
        return shared_step_score(data, self._buffers)

    def observe(self, data):
        self.add_cheap(self._cheap_scores(data), data.losses.detach(), data.has_label)

    def step(self, data):
        G = shared_task_gradients(data, self.method)
        # after the backward pass: the cheap score's forward pass restores the
        # BatchNorm buffers in place, which the backward pass may still need
        cheap = self._cheap_scores(data)
        losses = data.losses.detach()
        exact = descent_matrix(G, data.optimizer, data.shared_params) / losses[None, :]
        self.add_exact(exact, cheap, losses, data.has_label, data.weight)

    def add_cheap(self, cheap, losses, has_label):
        """A step with the cheap score only: ``cheap[j]`` for every target j."""
        self.cheap.add(cheap, losses, has_label)

    def add_exact(self, exact, cheap, losses, has_label, weight):
        """A sampled step: both scores; ``weight`` steps stand behind it."""
        self.cheap.add(cheap, losses, has_label)
        self.correction.add(exact - cheap[None, :], losses, has_label, weight)

    def affinity(self):
        return self.cheap.affinity() + self.correction.affinity()
