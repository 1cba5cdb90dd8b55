"""The control-variate estimate of the every-step affinity.

- Unbiased: its expectation over every placement of the sampled steps is the
  every-step mean of the exact score, whatever the cheap score is.
- The cheap score is the shared step's first-order effect on every task's
  loss (hand-computed with autograd at a tiny learning rate).
- Scoring it leaves training as it is (dropout masks, BatchNorm statistics,
  the random stream), and the extractor's estimate is the formula applied to
  the scores of its own steps.
"""

import itertools

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from small_extractor import small
from torch import nn

from sklearn_etap._affinity import control_variate
from sklearn_etap._affinity.control_variate import (
    ControlVariateRecorder,
    TargetScoreMean,
)
from sklearn_etap._affinity.fit_callbacks import make_recorder
from sklearn_etap._affinity.randomness import get_rng_state
from sklearn_etap._affinity.recording import AffinityAccumulator, ETAPRecorder
from sklearn_etap._affinity.training import TaskData, masked_task_losses
from sklearn_etap.callbacks import TrainingStep


@pytest.mark.slow
def test_control_variate_is_unbiased_for_the_every_step_mean():
    """Exact expectation over every placement: 23 steps in blocks of 5 (+3).

    The cheap score (one value per target task, like the real one) tracks the
    exact score's column means closely but is biased on its own by 2.0;
    the estimate's expectation is still the every-step mean of the exact
    score, and a single placement is far closer to it than sampling alone.
    """
    rng = np.random.RandomState(0)
    n_steps, n_tasks, every = 23, 3, 5
    exact = 0.05 * rng.normal(size=(n_steps, n_tasks, n_tasks))
    exact += 4 * np.sin(np.arange(n_steps))[:, None, None] * rng.uniform(size=n_tasks)
    # the cheap score depends on the target only: close to the column means
    cheap = exact.mean(axis=1) - 0.02 * rng.normal(size=(n_steps, n_tasks)) + 2.0
    losses, has_label = torch.ones(n_tasks), torch.ones(n_tasks, dtype=torch.bool)
    blocks = [range(s, min(s + every, n_steps)) for s in range(0, n_steps, every)]
    target = exact.mean(axis=0)
    mean = np.zeros((n_tasks, n_tasks))
    worst_cv = worst_sampled = 0.0
    placements = list(itertools.product(*blocks))
    for chosen in placements:
        recorder = ControlVariateRecorder(n_tasks, "cpu")
        sampled = AffinityAccumulator(n_tasks, "cpu")
        for step in range(n_steps):
            c = torch.as_tensor(cheap[step])
            if step in chosen:
                weight = len(blocks[step // every])
                z = torch.as_tensor(exact[step])
                recorder.add_exact(z, c, losses, has_label, weight)
                sampled.add(z, losses, has_label, weight)
            else:
                recorder.add_cheap(c, losses, has_label)
        estimate = recorder.affinity()
        mean += estimate / len(placements)
        worst_cv = max(worst_cv, np.abs(estimate - target).max())
        worst_sampled = max(worst_sampled, np.abs(sampled.affinity() - target).max())
    assert_allclose(mean, target, rtol=1e-10, atol=1e-12)
    assert recorder.n_recorded_steps == len(blocks)
    assert worst_cv < worst_sampled / 10


def test_cheap_score_is_the_shared_steps_first_order_effect(make_task_data):
    """c[j] = 1 - L_j(theta - lr beta buf) / L_j = lr beta g_j . buf / L_j + O(lr^2)."""
    X, Y = make_task_data()
    ext = small(max_epochs=1, affinity=None, learning_rate=1e-4).fit(X, Y)
    module = ext.module_.train().double()  # float64: 1 - after / before is ~1e-4
    params = list(module.encoder.parameters())
    optimizer = torch.optim.SGD(module.parameters(), lr=1e-4, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    for p in optimizer.param_groups[0]["params"]:  # a momentum buffer of scale 1
        buffer = torch.randn(p.shape, generator=generator, dtype=torch.float64)
        optimizer.state[p]["momentum_buffer"] = buffer
    x = torch.as_tensor(X[:32], dtype=torch.float64)
    targets = torch.as_tensor(np.nan_to_num(Y[:32]), dtype=torch.float64)
    present = torch.as_tensor(~np.isnan(Y[:32]), dtype=torch.float64)
    is_binary = torch.as_tensor(ext.task_types_ == "binary")
    rng_state = get_rng_state(x.device)
    losses, has_label = masked_task_losses(module(x)[0], targets, present, is_binary)
    step = TrainingStep(
        index=0,
        batch=TaskData(x, targets, present),
        losses=losses,
        has_label=has_label,
        representation=None,
        task_gradients=None,
        module=module,
        optimizer=optimizer,
        shared_params=params,
        shared_names=[],
        head_params=[],
        is_binary=is_binary,
        rng_state=rng_state,
    )
    expected = []
    for j in range(len(losses)):
        grads = torch.autograd.grad(losses[j], params, retain_graph=True)
        dot = sum(
            (g * optimizer.state[p]["momentum_buffer"]).sum()
            for g, p in zip(grads, params)
        )
        expected.append(float(1e-4 * 0.9 * dot / losses[j].detach()))
    # after the gradients, as in the loop: the score moves the weights in place
    score = control_variate.shared_step_score(step, list(module.buffers()))
    assert np.abs(expected).max() > 1e-5  # not a trivial zero
    assert_allclose(score.numpy(), expected, rtol=2e-3)


def bn_dropout_encoder(n_features):
    return nn.Sequential(
        nn.Linear(n_features, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3)
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_cheap_score_leaves_training_unchanged(make_task_data, optimizer):
    """Same sampled steps with and without the cheap score: the same model,
    the same BatchNorm statistics, the same random stream afterwards."""
    X, Y = make_task_data()
    params = dict(encoder=bn_dropout_encoder, optimizer=optimizer, affinity_every=3)
    torch.manual_seed(5)
    with_cv = small(affinity_control_variate=True, **params).fit(X, Y)
    after_cv = torch.rand(3)
    torch.manual_seed(5)
    without = small(affinity_control_variate=False, **params).fit(X, Y)
    assert_array_equal(after_cv.numpy(), torch.rand(3).numpy())
    assert with_cv.n_recorded_steps_ == without.n_recorded_steps_ == 6
    for a, b in zip(
        with_cv.module_.state_dict().values(), without.module_.state_dict().values()
    ):
        assert torch.equal(a, b)
    assert not np.allclose(with_cv.affinity_, without.affinity_)


def test_extractor_estimate_is_the_formula_on_its_own_steps(
    monkeypatch, make_task_data
):
    """affinity_ = mean over all steps of c + block-weighted mean of (z - c)."""
    X, Y = make_task_data()
    cheap_scores, exact_scores = [], []
    add_cheap, add_exact = (
        ControlVariateRecorder.add_cheap,
        ControlVariateRecorder.add_exact,
    )

    def keep_cheap(self, cheap, losses, has_label):
        cheap_scores.append((cheap.double().numpy().copy(), None))
        add_cheap(self, cheap, losses, has_label)

    def keep_exact(self, exact, cheap, losses, has_label, weight):
        cheap_scores.append((cheap.double().numpy().copy(), weight))
        exact_scores.append(exact.double().numpy().copy())
        add_exact(self, exact, cheap, losses, has_label, weight)

    monkeypatch.setattr(ControlVariateRecorder, "add_cheap", keep_cheap)
    monkeypatch.setattr(ControlVariateRecorder, "add_exact", keep_exact)
    ext = small(affinity_every=3, affinity_control_variate=True).fit(X, Y)
    assert len(cheap_scores) == ext.n_steps_ == 16
    C = np.array([c for c, _ in cheap_scores])
    sampled = [k for k, (_, w) in enumerate(cheap_scores) if w is not None]
    weights = np.array([cheap_scores[k][1] for k in sampled], float)
    assert weights.tolist() == [3, 3, 3, 3, 3, 1]
    correction = np.tensordot(
        weights, np.array(exact_scores) - C[sampled][:, None, :], axes=1
    )
    assert_allclose(
        ext.affinity_, C.mean(axis=0)[None, :] + correction / 16, rtol=1e-6, atol=1e-9
    )


def test_which_recorder():
    kwargs = dict(seed=0)
    assert isinstance(
        make_recorder("etap", 3, "cpu", control_variate=True, every=20, **kwargs),
        ControlVariateRecorder,
    )
    for every, control in [(1, True), (20, False)]:
        recorder = make_recorder(
            "etap", 3, "cpu", control_variate=control, every=every, **kwargs
        )
        assert type(recorder) is ETAPRecorder


def test_without_a_shared_step_the_estimate_is_the_sampled_one(make_task_data):
    """SGD without momentum or weight decay: c = 0, no extra forward pass."""
    X, Y = make_task_data()
    params = dict(momentum=0.0, affinity_every=3)
    with_cv = small(affinity_control_variate=True, **params).fit(X, Y)
    without = small(affinity_control_variate=False, **params).fit(X, Y)
    assert_allclose(with_cv.affinity_, without.affinity_, rtol=1e-12)


@pytest.mark.slow
def test_control_variate_agrees_with_every_step_recording(make_task_data):
    """On a small fit, closer to every-step recording than sampling alone."""
    X, Y = make_task_data(400, seed=1)
    params = dict(max_epochs=20, batch_size=16)
    every_step = small(affinity_every=1, **params).fit(X, Y).affinity_
    off = ~np.eye(len(every_step), dtype=bool)

    def r(A):
        return np.corrcoef(A[off], every_step[off])[0, 1]

    rs_cv = [
        r(
            small(
                affinity_every=10,
                affinity_control_variate=True,
                random_state=s,
                **params,
            )
            .fit(X, Y)
            .affinity_
        )
        for s in range(3)
    ]
    rs_sampled = [
        r(
            small(
                affinity_every=10,
                affinity_control_variate=False,
                random_state=s,
                **params,
            )
            .fit(X, Y)
            .affinity_
        )
        for s in range(3)
    ]
    assert min(rs_cv) > 0.9
    assert np.mean(rs_cv) > np.mean(rs_sampled)


@pytest.mark.parametrize("flush_every", [1, 3, 1024])
def test_target_score_mean_counts_pairs_as_the_accumulator_does(flush_every):
    """Missing labels and zero losses: the same pairwise means as the general
    accumulator given the score expanded to a matrix, however often it flushes;
    an infinite score of a zero loss (a pair not scored) does not leak in."""
    rng = np.random.RandomState(0)
    n_tasks = 4
    fast = TargetScoreMean(n_tasks, "cpu", flush_every=flush_every)
    reference = AffinityAccumulator(n_tasks, "cpu")
    for _ in range(10):
        score = torch.as_tensor(rng.normal(size=n_tasks))
        losses = torch.as_tensor(rng.uniform(size=n_tasks) * (rng.rand(n_tasks) > 0.2))
        score[losses == 0] = float("inf")  # 1 - after / before with before = 0
        has_label = torch.as_tensor(rng.rand(n_tasks) > 0.3)
        fast.add(score, losses, has_label)
        reference.add(score[None, :].expand(n_tasks, n_tasks), losses, has_label)
    expected = reference.affinity()
    assert np.isfinite(expected).sum() > 8
    assert_allclose(fast.affinity(), expected, rtol=1e-12, equal_nan=True)
