"""The recorded affinity against an independent, task-by-task computation by hand.

The reference below trains the same tiny model full-batch with its own update
rules (the paper's velocity form of SGD with momentum, a hand-written Adam),
takes every task's gradient with its own backward pass and loss function
(``F.mse_loss`` / ``F.binary_cross_entropy_with_logits`` on the labels
present), and computes the scores from the formulas, without any code of the
package.
"""

import copy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose
from torch import nn

from sklearn_etap import TorchAffinityExtractor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from research_recorders import RepresentationScoreRecorder  # noqa: E402

N_STEPS = 6


def make_problem():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    Y = np.c_[X[:, 0] + 0.5 * X[:, 1], X[:, 1] - X[:, 2], X[:, 3] > 0].astype(float)
    Y[::5, 0] = np.nan  # missing labels: those rows only train the other tasks
    Y[1::7, 2] = np.nan
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3), nn.Tanh())
    heads = [nn.Linear(3, 1) for _ in range(Y.shape[1])]
    return X, Y, encoder, heads


def hand_losses(encoder, heads, x, Y):
    representation = encoder(x)
    losses = []
    for task, head in enumerate(heads):
        rows = torch.from_numpy(~np.isnan(Y[:, task]))
        target = torch.tensor(Y[~np.isnan(Y[:, task]), task], dtype=torch.float32)
        out = head(representation[rows]).squeeze(1)
        if task == 2:
            losses.append(F.binary_cross_entropy_with_logits(out, target))
        else:
            losses.append(F.mse_loss(out, target))
    return losses, representation


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def hand_run(X, Y, encoder, heads, *, rule, lr, beta=0.0, wd=0.0, score="etap"):
    """Train full-batch by hand and return the mean score matrix."""
    encoder, heads = copy.deepcopy(encoder), copy.deepcopy(heads)
    shared = list(encoder.parameters())
    params = shared + [p for h in heads for p in h.parameters()]
    n_shared = sum(p.numel() for p in shared)
    x = torch.from_numpy(X)
    n_tasks = Y.shape[1]
    velocity = [torch.zeros_like(p) for p in params]
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    total = np.zeros((n_tasks, n_tasks))
    for k in range(1, N_STEPS + 1):
        losses, representation = hand_losses(encoder, heads, x, Y)
        if score == "representation":
            grads = [
                torch.autograd.grad(L, representation, retain_graph=True)[0].reshape(-1)
                for L in losses
            ]
        else:
            grads = [
                flat(torch.autograd.grad(L, shared, retain_graph=True)) for L in losses
            ]
        theta = flat([p.detach() for p in shared])
        for i in range(n_tasks):
            if score == "representation":
                step_i = -lr * grads[i]
            elif rule == "sgd":  # the paper: eta g_i - beta v_{k-1}, v = -(change)
                step_i = beta * flat(velocity)[:n_shared] - lr * (grads[i] + wd * theta)
            else:  # Adam's L2 decay enters the gradient, AdamW's the step
                g = grads[i] + (0.0 if rule == "adamw" else wd) * theta
                m = b1 * flat(first)[:n_shared] + (1 - b1) * g
                s = b2 * flat(second)[:n_shared] + (1 - b2) * g**2
                step_i = -lr / (1 - b1**k) * m / ((s / (1 - b2**k)).sqrt() + eps)
                if rule == "adamw":
                    step_i = step_i - lr * wd * theta
            if score == "tag":
                lookahead = copy.deepcopy(encoder)
                with torch.no_grad():
                    offset = 0
                    for p in lookahead.parameters():
                        p += step_i[offset : offset + p.numel()].view_as(p)
                        offset += p.numel()
                    after, _ = hand_losses(lookahead, heads, x, Y)
            for j in range(n_tasks):
                if score == "tag":
                    total[i, j] += float(1 - after[j] / losses[j].detach())
                else:
                    total[i, j] += float(
                        -(grads[j] @ step_i).detach() / losses[j].detach()
                    )
        full = torch.autograd.grad(sum(losses), params)
        with torch.no_grad():
            for p, g, v, m, s in zip(params, full, velocity, first, second):
                if rule == "adamw":
                    p.mul_(1 - lr * wd)
                else:
                    g = g + wd * p
                if rule == "sgd":
                    v.mul_(beta).sub_(lr * g)
                    p += v
                else:
                    m.mul_(b1).add_((1 - b1) * g)
                    s.mul_(b2).add_((1 - b2) * g**2)
                    p -= lr / (1 - b1**k) * m / ((s / (1 - b2**k)).sqrt() + eps)
    return total / N_STEPS, encoder


def fit_extractor(X, Y, encoder, heads, **params):
    return TorchAffinityExtractor(
        encoder=encoder,
        heads=heads,
        batch_size=len(X),
        max_epochs=N_STEPS,
        affinity_every=1,
        device="cpu",
        random_state=0,
        **params,
    ).fit(X, Y)


@pytest.mark.parametrize(
    "rule, beta, wd",
    [
        ("sgd", 0.0, 0.0),
        ("sgd", 0.9, 0.0),
        ("sgd", 0.9, 0.01),
        ("adam", 0.0, 0.0),
        ("adam", 0.0, 0.01),
        ("adamw", 0.0, 0.1),
    ],
)
def test_etap_affinity_matches_hand_computation(rule, beta, wd):
    X, Y, encoder, heads = make_problem()
    lr = 0.05 if rule == "sgd" else 0.01
    expected, trained_encoder = hand_run(
        X, Y, encoder, heads, rule=rule, lr=lr, beta=beta, wd=wd
    )
    ext = fit_extractor(
        X,
        Y,
        encoder,
        heads,
        optimizer=rule,
        learning_rate=lr,
        momentum=beta,
        weight_decay=wd,
    )
    assert ext.n_recorded_steps_ == N_STEPS
    assert_allclose(ext.affinity_, expected, rtol=2e-4, atol=1e-6)
    # and the training itself is the same
    x = torch.from_numpy(X)
    with torch.no_grad():
        assert_allclose(
            ext.transform(X), trained_encoder(x).numpy(), rtol=1e-4, atol=1e-6
        )
    # the user's modules are copied, never trained in place
    assert not torch.equal(
        next(encoder.parameters()), next(ext.module_.encoder.parameters())
    )


def test_momentum_term_changes_the_affinity():
    """Guard against a reference that ignores the velocity: the term matters here."""
    X, Y, encoder, heads = make_problem()
    plain, _ = hand_run(X, Y, encoder, heads, rule="sgd", lr=0.05, beta=0.0)
    with_momentum, _ = hand_run(X, Y, encoder, heads, rule="sgd", lr=0.05, beta=0.9)
    assert np.abs(plain - with_momentum).max() > 0.1 * np.abs(plain).max()


@pytest.mark.parametrize(
    "rule, beta, wd", [("sgd", 0.9, 0.0), ("sgd", 0.9, 0.01), ("adam", 0.0, 0.01)]
)
def test_tag_affinity_matches_hand_lookahead(rule, beta, wd):
    X, Y, encoder, heads = make_problem()
    lr = 0.05 if rule == "sgd" else 0.01
    expected, _ = hand_run(
        X, Y, encoder, heads, rule=rule, lr=lr, beta=beta, wd=wd, score="tag"
    )
    ext = fit_extractor(
        X,
        Y,
        encoder,
        heads,
        optimizer=rule,
        learning_rate=lr,
        momentum=beta,
        weight_decay=wd,
        affinity="tag",
    )
    assert_allclose(ext.affinity_, expected, rtol=1e-3, atol=1e-6)


def test_benchmarks_representation_score_matches_hand_computation():
    """The benchmarks' representation-gradient recorder (a callback since the
    extractor's ``affinity_gradient`` switch left the package)."""
    X, Y, encoder, heads = make_problem()
    expected, _ = hand_run(
        X, Y, encoder, heads, rule="sgd", lr=0.05, beta=0.9, score="representation"
    )
    ext = fit_extractor(
        X,
        Y,
        encoder,
        heads,
        learning_rate=0.05,
        momentum=0.9,
        affinity=None,
        callbacks=[RepresentationScoreRecorder()],
    )
    assert ext.affinity_ is None
    assert_allclose(ext.callbacks_[0].affinity(), expected, rtol=2e-4, atol=1e-9)


def test_etap_is_first_order_tag():
    """With a small step, TAG's lookahead score approaches ETAP's linearization."""
    X, Y, encoder, heads = make_problem()
    params = dict(learning_rate=1e-3, momentum=0.9)
    etap = fit_extractor(X, Y, encoder, heads, **params).affinity_
    tag = fit_extractor(X, Y, encoder, heads, affinity="tag", **params).affinity_
    assert_allclose(tag, etap, rtol=0.02, atol=1e-6)
