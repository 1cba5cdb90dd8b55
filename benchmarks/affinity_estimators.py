"""Estimators of the every-step ETAP affinity, evaluated on recorded per-step scores.

Helper of ``bench_affinity_overhead.py`` (not a script). One every-step fit
keeps, at every step k and for every shared parameter tensor p, the two parts
of the score that the tensor contributes (SGD with momentum):

    gram_k[p][i, j]  = lr g_i^p . g_j^p / L_j
    drift_k[p][i, j] = lr g_j^p . (beta buf^p + wd theta^p) / L_j

so that z_k = sum_p (gram_k[p] + drift_k[p]). From these arrays, without
retraining, it evaluates estimators of ``A = mean_k z_k``:

- ``sampled``: one random step per block of k steps, weighted by block length
  (what the extractor does with ``affinity_every=k``);
- ``control variate``: a cheap score c_k at every step plus, on the sampled
  steps, the block-weighted mean of (z_k - c_k). Unbiased for A whatever c
  is; precise when z_k - c_k varies little. Two c are tried: the exact score
  of the last shared layer only (weight and bias), and the exact momentum
  (drift) term of all layers, which is what a cheap c would have to capture.

It also times, per step, what each cheap score would cost on top of a plain
step: the per-task gradients of the last shared layer (batched backward), and
the momentum term of all layers by one forward-mode product (``torch.func.jvp``).
"""

import time

import numpy as np
import torch

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap._affinity.scores import scored_pairs
from sklearn_etap._affinity.task_gradients import per_task_gradients
from sklearn_etap._affinity.training import masked_task_losses
from sklearn_etap.callbacks import TrainingCallback

SEEDS = 20


def off_diagonal(A):
    return A[~np.eye(len(A), dtype=bool)]


def pearson(a, b):
    return float(np.corrcoef(off_diagonal(a), off_diagonal(b))[0, 1])


class DecomposingRecorder(TrainingCallback):
    """Every step's score, split by shared parameter tensor into Gram and drift."""

    def __init__(self):
        self.parts = []
        self.valid = []
        self.losses = []

    def needs_task_gradients(self, step_index):
        return True

    def on_grads_computed(self, loop, step):
        G = step.task_gradients
        settings = step.optimizer.param_groups[0]
        lr, beta, wd = settings["lr"], settings["momentum"], settings["weight_decay"]
        losses = step.losses.detach()
        parts, offset = [], 0
        for p in step.shared_params:
            Gp = G[:, offset : offset + p.numel()]
            offset += p.numel()
            buf = step.optimizer.state.get(p, {}).get("momentum_buffer")
            drift = wd * p.detach().reshape(-1)
            if buf is not None:
                drift = drift + beta * buf.reshape(-1)
            gram = lr * (Gp @ Gp.T) / losses[None, :]
            shift = (lr * (Gp @ drift) / losses)[None, :].expand_as(gram)
            parts.append(torch.stack([gram, shift]))
        parts = torch.stack(parts)  # (n_params, 2, n, n)
        valid = scored_pairs(losses, step.has_label)
        self.parts.append(torch.where(valid, parts, 0.0).double().numpy())
        self.valid.append(valid.numpy())
        self.losses.append(losses.double().numpy())


def fit_with_recorder(recorder, X, Y, params):
    """A plain fit notifying ``recorder``; returns the fit's copy of it.

    (The extractor trains with a copy of each callback, kept in ``callbacks_``.)
    """
    ext = TorchAffinityExtractor(
        affinity=None, device="cpu", callbacks=[recorder], **params
    ).fit(X, Y)
    return ext.callbacks_[0]


def record_parts(X, Y, params):
    """Per-step parts of one every-step fit, and the per-step task losses.

    ``parts``: (n_steps, n_params, 2, n, n); ``losses``: (n_steps, n). Steps
    where a pair has no score (a task without labels in the batch, or a zero
    loss) are dropped, so every kept step scores every pair.
    """
    recorder = fit_with_recorder(DecomposingRecorder(), X, Y, params)
    if not recorder.parts:
        raise RuntimeError("the extractor did not record through the given recorder")
    keep = np.array([valid.all() for valid in recorder.valid])
    return np.array(recorder.parts)[keep], np.array(recorder.losses)[keep]


def sampled_steps(n_steps, k, seed):
    """One uniform step per block of k, and the blocks' lengths."""
    rng = np.random.RandomState(seed)
    starts = np.arange(0, n_steps, k)
    lengths = np.minimum(k, n_steps - starts)
    return starts + (rng.random_sample(len(starts)) * lengths).astype(int), lengths


def control_variate(z, c, k, seed):
    """mean_k c_k + block-weighted mean over sampled steps of (z_k - c_k)."""
    steps, weights = sampled_steps(len(z), k, seed)
    correction = np.tensordot(weights, (z - c)[steps], axes=1) / weights.sum()
    return c.mean(axis=0) + correction


def summary(values):
    return {"median": float(np.median(values)), "min": float(np.min(values))}


def evaluate(parts, sweep, cv_sweep):
    """Agreement (Pearson r, off-diagonal) of each estimator with every-step A."""
    z = parts.sum(axis=(1, 2))
    A = z.mean(axis=0)
    gram = parts[:, :, 0].sum(axis=1).mean(axis=0)
    drift = parts[:, :, 1].sum(axis=1).mean(axis=0)
    # the encoder's last parameter tensors: the last layer's weight and bias
    cheap = {
        "last_layer": parts[:, -2:].sum(axis=(1, 2)),
        "momentum_term_all_layers": parts[:, :, 1].sum(axis=1),
    }
    zero = np.zeros_like(z)
    out = {
        "n_steps": len(z),
        "split_half_even_vs_odd": pearson(z[0::2].mean(0), z[1::2].mean(0)),
        "r_A_with_its_gram_part": pearson(A, gram),
        "r_A_with_its_momentum_part": pearson(A, drift),
        "sampled": {
            k: summary(
                [pearson(control_variate(z, zero, k, s), A) for s in range(SEEDS)]
            )
            for k in sweep
        },
    }
    for name, c in cheap.items():
        residual = off_diagonal((z - c).var(axis=0).T).mean()
        out[f"control_variate_{name}"] = {
            "r_mean_c_with_A": pearson(c.mean(axis=0), A),
            "residual_variance_share": float(
                residual / off_diagonal(z.var(axis=0).T).mean()
            ),
            **{
                k: summary(
                    [pearson(control_variate(z, c, k, s), A) for s in range(SEEDS)]
                )
                for k in cv_sweep
            },
        }
    return out


def last_linear(module):
    layers = [m for m in module.encoder.modules() if isinstance(m, torch.nn.Linear)]
    return layers[-1]


def per_step_costs(X, Y, params, n_calls=30, rounds=7):
    """CPU ms per step: plain, exact score, and the cheap scores' extra cost."""
    ext = TorchAffinityExtractor(
        affinity=None, max_epochs=2, device="cpu", random_state=0, **params
    ).fit(X, Y)
    module = ext.module_.train()
    batch_size = params.get("batch_size", 64)
    x = torch.as_tensor(X[:batch_size], dtype=torch.float32)
    targets = torch.as_tensor(Y[:batch_size], dtype=torch.float32)
    present = torch.ones_like(targets)
    is_binary = torch.ones(Y.shape[1], dtype=torch.bool)
    shared = [p for p in module.encoder.parameters()]
    heads = list(module.heads.parameters())
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-4, momentum=0.9)
    last = list(last_linear(module).parameters())
    names = [name for name, _ in module.encoder.named_parameters()]

    def losses():
        return masked_task_losses(module(x)[0], targets, present, is_binary)[0]

    def plain():
        optimizer.zero_grad()
        losses().sum().backward()
        optimizer.step()

    def exact():
        optimizer.zero_grad()
        G = torch.cat(
            [
                g.reshape(Y.shape[1], -1)
                for g in per_task_gradients(losses(), shared + heads)[: len(shared)]
            ],
            dim=1,
        )
        (G @ G.T).sum()
        optimizer.step()

    def last_layer():
        optimizer.zero_grad()
        L = losses()
        eye = torch.eye(Y.shape[1])
        grads = torch.autograd.grad(
            L, last, grad_outputs=eye, is_grads_batched=True, retain_graph=True
        )
        G = torch.cat([g.reshape(Y.shape[1], -1) for g in grads], dim=1)
        (G @ G.T).sum()
        L.sum().backward()
        optimizer.step()

    def momentum_jvp():
        optimizer.zero_grad()
        L = losses()
        tangents = tuple(optimizer.state[p]["momentum_buffer"].detach() for p in shared)

        def task_losses(*values):
            out, _ = (
                torch.func.functional_call(
                    module.encoder, dict(zip(names, values)), (x,)
                ),
                None,
            )
            return masked_task_losses(module.heads(out), targets, present, is_binary)[0]

        torch.func.jvp(task_losses, tuple(p.detach() for p in shared), tangents)
        L.sum().backward()
        optimizer.step()

    def momentum_forward():
        # the cheapest exact per-task quantity: every task's loss after a shift
        # along the momentum buffer (a forward difference), one extra forward
        optimizer.zero_grad()
        L = losses()
        L.sum().backward()  # before the shift: it needs the weights unchanged
        with torch.no_grad():
            bufs = [optimizer.state[p]["momentum_buffer"] for p in shared]
            for p, b in zip(shared, bufs):
                p.add_(b, alpha=-1e-3)
            ((losses() - L.detach()) / L.detach()).sum()
            for p, b in zip(shared, bufs):
                p.add_(b, alpha=1e-3)
        optimizer.step()

    for _ in range(3):
        plain()  # momentum buffers exist from here on
    steps = {
        "plain_step": plain,
        "exact_score_step": exact,
        "last_layer_score_step": last_layer,
        "momentum_term_jvp_step": momentum_jvp,
        "momentum_term_forward_step": momentum_forward,
    }
    for fn in steps.values():
        for _ in range(5):
            fn()
    # interleaved rounds, median per kind: a shared machine's load drifts
    samples = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.process_time()
            for _ in range(n_calls):
                fn()
            samples[name].append((time.process_time() - start) / n_calls * 1e3)
    out = {name + "_ms": float(np.median(ms)) for name, ms in samples.items()}
    for name in (
        "exact_score_step",
        "last_layer_score_step",
        "momentum_term_jvp_step",
        "momentum_term_forward_step",
    ):
        out[name.replace("_step", "_extra_in_plain_steps")] = (
            out[name + "_ms"] / out["plain_step_ms"] - 1
        )
    return out
