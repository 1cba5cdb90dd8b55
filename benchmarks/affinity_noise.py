"""Where the every-step affinity's noise comes from, and what that costs an estimator.

Helper of ``bench_affinity_overhead.py`` (not a script). The every-step ETAP
affinity is a mean over every step's score; a cheap estimator of it either
sees fewer steps (and keeps their noise), or computes a cheap score at every
step that tracks the exact one step by step. Four measurements say which of
these can reach r >= 0.95 with every-step recording, and at what cost:

- ``half_batch_agreement``: the momentum part of the score (``beta g_j . buf
  / L_j``, which dominates the affinity) computed on each half of every batch.
  Per task, Pearson r across steps between the two halves. Variation that
  belongs to the step (its weights, its momentum buffer) is shared by both
  halves; variation that belongs to the samples is not. Where the halves
  disagree, the every-step mean's noise is the samples', and an estimator
  must look at most samples to reproduce it: spreading the same number of
  samples over more steps does not help.
- ``free_signal_share``: the share of the per-step variance of every entry
  that the quantities a plain training step already holds explain (a linear
  fit per entry on ``lr beta g . buf / L_j``, ``lr |g|^2 / L_j``, ``1 / L_j``
  and a constant, with ``g`` the summed gradient and ``L_j`` the batch losses).
  This bounds what a control variate made of free quantities can remove.
- ``oracle_importance``: sampling steps with probability proportional to the
  size of their score (known only to an oracle), weighted by the inverse
  probability. If the noise came from a few large steps this would find them.
- ``per_step_costs`` (in ``affinity_estimators.py``) times the cheapest exact
  per-task quantity: the task losses after a shift along the momentum buffer,
  one extra forward pass on the step's batch.
"""

import numpy as np
import torch
from affinity_estimators import fit_with_recorder, off_diagonal, pearson

from sklearn_etap._affinity.task_gradients import flatten_tasks, per_task_gradients
from sklearn_etap._affinity.training import masked_task_losses
from sklearn_etap.callbacks import TrainingCallback

SEEDS = 20


class HalfBatchRecorder(TrainingCallback):
    """Every step: the momentum part of the score on each half of the batch."""

    def __init__(self):
        self.halves = []

    def on_grads_computed(self, loop, data):
        optimizer = data.optimizer
        beta = optimizer.param_groups[0]["momentum"]
        bufs = [
            optimizer.state.get(p, {}).get("momentum_buffer")
            for p in data.shared_params
        ]
        if bufs[0] is not None:
            buf = torch.cat([b.reshape(-1) for b in bufs])
            batch, n = data.batch, data.batch.X.shape[0]
            parts = []
            for half in (slice(0, n, 2), slice(1, n, 2)):
                outputs, _ = data.module(batch.X[half])
                losses, _ = masked_task_losses(
                    outputs, batch.targets[half], batch.present[half], data.is_binary
                )
                G = flatten_tasks(per_task_gradients(losses, data.shared_params))
                parts.append(beta * (G @ buf) / losses.detach())
            self.halves.append(torch.stack(parts).detach().double().numpy())


def half_batch_agreement(X, Y, params):
    """Per task, r across steps of the momentum part on the two batch halves."""
    recorder = fit_with_recorder(HalfBatchRecorder(), X, Y, params)
    halves = np.array(recorder.halves)  # (n_steps, 2, n_tasks)
    halves = halves[np.isfinite(halves).all(axis=(1, 2))]
    per_task = [
        float(np.corrcoef(halves[:, 0, j], halves[:, 1, j])[0, 1])
        for j in range(halves.shape[2])
    ]
    return {
        "n_steps": len(halves),
        "per_task_r": per_task,
        "median_r": float(np.median(per_task)),
        "max_r": float(np.max(per_task)),
    }


def free_signal_share(parts, losses):
    """Share of every entry's per-step variance explained by free quantities."""
    z = parts.sum(axis=(1, 2))  # (n_steps, n, n)
    gram = parts[:, :, 0].sum(axis=1)
    drift = parts[:, :, 1].sum(axis=1)
    n = z.shape[1]
    # sum_j L_j drift[., j] = lr beta g . buf; sum_ij L_j gram[i, j] = lr |g|^2
    momentum_dot = (drift[:, 0, :] * losses).sum(axis=1)
    gradient_norm = (gram * losses[:, None, :]).sum(axis=(1, 2))
    residual = total = 0.0
    for j in range(n):
        features = np.column_stack(
            [
                momentum_dot / losses[:, j],
                gradient_norm / losses[:, j],
                1 / losses[:, j],
                np.ones(len(z)),
            ]
        )
        for i in range(n):
            if i == j:
                continue
            y = z[:, i, j]
            coef, *_ = np.linalg.lstsq(features, y, rcond=None)
            residual += float(((y - features @ coef) ** 2).sum())
            total += float(((y - y.mean()) ** 2).sum())
    return 1 - residual / total


def oracle_importance(z, k, seed):
    """Poisson sampling of about 1 step in k, probability proportional to |z_k|."""
    rng = np.random.RandomState(seed)
    size = np.sqrt((z**2).sum(axis=(1, 2)))
    probability = np.minimum(1.0, size / size.sum() * len(z) / k)
    kept = rng.random_sample(len(z)) < probability
    return (z[kept] / probability[kept, None, None]).sum(axis=0) / len(z)


def evaluate_noise(parts, losses, sweep):
    z = parts.sum(axis=(1, 2))
    A = z.mean(axis=0)
    return {
        "free_signal_share": free_signal_share(parts, losses),
        "oracle_importance": {
            k: float(
                np.median(
                    [pearson(oracle_importance(z, k, s), A) for s in range(SEEDS)]
                )
            )
            for k in sweep
        },
        "score_variance_share_of_top_10pct_steps": top_share(z, A),
    }


def top_share(z, A):
    deviation = np.array([((off_diagonal(zk - A)) ** 2).sum() for zk in z])
    ordered = np.sort(deviation)[::-1]
    return float(ordered[: max(1, len(z) // 10)].sum() / ordered.sum())
