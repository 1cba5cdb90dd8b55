"""The recording schedule's estimate of the every-step affinity, and TAG's lookahead.

- Every recorded step is weighted by the length of its block, so the estimate
  is unbiased for the every-step mean (a short last block used to count as
  much as a full one).
- TAG's lookahead passes replay the training step's random state (dropout
  masks) and leave the random stream as plain training leaves it.
"""

import itertools

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from small_extractor import small
from torch import nn

from sklearn_etap._affinity import recording
from sklearn_etap._affinity.recording import AffinityAccumulator, RecordingSchedule


@pytest.mark.parametrize("every, n_steps", [(20, 47), (3, 16), (5, 5), (4, 1)])
def test_schedule_weights_are_the_block_lengths(every, n_steps):
    schedule = RecordingSchedule(every, seed=1, n_steps=n_steps)
    weights = [schedule.weight for step in range(n_steps) if schedule.records(step)]
    full, rest = divmod(n_steps, every)
    assert weights == [every] * full + ([rest] if rest else [])
    assert sum(weights) == n_steps


def test_weighted_schedule_mean_is_unbiased_for_the_every_step_mean():
    """Exact expectation over every placement of the recorded steps.

    47 steps in blocks of 20, 20 and 7: each placement (c1, c2, c3) has
    probability 1 / (20 * 20 * 7). The weighted mean's expectation is the
    every-step mean; the unweighted mean (the old estimate) is biased toward
    the short last block, whose scores are made very different here.
    """
    rng = np.random.RandomState(0)
    n_steps, n_tasks = 47, 3
    Z = rng.normal(size=(n_steps, n_tasks, n_tasks))
    Z[40:] += 5.0  # the last, partial block scores high
    losses, has_label = torch.ones(n_tasks), torch.ones(n_tasks, dtype=torch.bool)
    blocks = [range(0, 20), range(20, 40), range(40, 47)]
    weighted = np.zeros((n_tasks, n_tasks))
    unweighted = np.zeros((n_tasks, n_tasks))
    placements = list(itertools.product(*blocks))
    for chosen in placements:
        acc, plain = (
            AffinityAccumulator(n_tasks, "cpu"),
            AffinityAccumulator(n_tasks, "cpu"),
        )
        for block, step in zip(blocks, chosen):
            z = torch.as_tensor(Z[step])
            acc.add(z, losses, has_label, weight=len(block))
            plain.add(z, losses, has_label)
        weighted += acc.affinity() / len(placements)
        unweighted += plain.affinity() / len(placements)
    assert_allclose(weighted, Z.mean(axis=0), rtol=1e-10, atol=1e-12)
    assert np.abs(unweighted - Z.mean(axis=0)).min() > 0.5


@pytest.mark.slow
def test_schedule_and_accumulator_average_to_the_every_step_mean():
    """The schedule's own random placements, over many seeds (Monte Carlo)."""
    rng = np.random.RandomState(1)
    n_steps, every, n_tasks = 23, 5, 2
    Z = rng.normal(size=(n_steps, n_tasks, n_tasks))
    Z[20:] += 3.0
    losses, has_label = torch.ones(n_tasks), torch.ones(n_tasks, dtype=torch.bool)
    estimates = []
    for seed in range(4000):
        schedule = RecordingSchedule(every, seed, n_steps=n_steps)
        acc = AffinityAccumulator(n_tasks, "cpu")
        for step in range(n_steps):
            if schedule.records(step):
                acc.add(torch.as_tensor(Z[step]), losses, has_label, schedule.weight)
        estimates.append(acc.affinity())
    estimates = np.array(estimates)
    standard_error = estimates.std(axis=0) / np.sqrt(len(estimates))
    assert (np.abs(estimates.mean(axis=0) - Z.mean(axis=0)) < 4 * standard_error).all()


def test_extractor_weights_each_recorded_step_by_its_block(monkeypatch, make_task_data):
    """16 steps in blocks of 3: the last block has one step and weight 1."""
    X, Y = make_task_data()
    scores = []
    add = AffinityAccumulator.add

    def keep(self, z, losses, has_label, weight=1.0):
        scores.append(z.detach().double().numpy().copy())
        add(self, z, losses, has_label, weight)

    monkeypatch.setattr(AffinityAccumulator, "add", keep)
    every_step = small(affinity_every=1).fit(X, Y)
    monkeypatch.setattr(AffinityAccumulator, "add", add)
    Z = np.array(scores)
    assert len(Z) == every_step.n_steps_ == 16
    sparse = small(affinity_every=3, affinity_control_variate=False).fit(X, Y)
    # the extractor's schedule: seeded by the first draw of its random_state
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    schedule = RecordingSchedule(3, seed, n_steps=16)
    steps, weights = [], []
    for step in range(16):
        if schedule.records(step):
            steps.append(step)
            weights.append(schedule.weight)
    assert weights == [3, 3, 3, 3, 3, 1] and sparse.n_recorded_steps_ == 6
    expected = np.tensordot(np.array(weights, float), Z[steps], axes=1) / 16
    assert_allclose(sparse.affinity_, expected, rtol=1e-4, atol=1e-7)
    unweighted = Z[steps].mean(axis=0)
    assert not np.allclose(sparse.affinity_, unweighted, rtol=1e-3)


def dropout_encoder(n_features):
    return nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Dropout(0.3))


def test_tag_recording_with_dropout_trains_the_plain_model(make_task_data):
    """The lookaheads take nothing from the random stream the training uses."""
    X, Y = make_task_data()
    tag = small(encoder=dropout_encoder, affinity="tag", affinity_every=1).fit(X, Y)
    plain = small(encoder=dropout_encoder, affinity=None).fit(X, Y)
    assert tag.n_recorded_steps_ == tag.n_steps_
    assert_allclose(tag.loss_curve_, plain.loss_curve_, rtol=1e-5)
    assert_allclose(tag.transform(X), plain.transform(X), rtol=1e-4, atol=1e-6)
    # and the process's own random stream continues as after plain training
    torch.manual_seed(3)
    small(encoder=dropout_encoder, affinity="tag", affinity_every=1).fit(X, Y)
    after_tag = torch.rand(4)
    torch.manual_seed(3)
    small(encoder=dropout_encoder, affinity=None).fit(X, Y)
    assert_array_equal(after_tag.numpy(), torch.rand(4).numpy())


def test_tag_lookahead_draws_the_training_steps_dropout_masks(make_task_data):
    """At a tiny learning rate TAG's score is ETAP's first-order score.

    With fresh dropout masks in the lookahead, the loss after the lookahead
    step would differ from the loss before it by the change of masks, not by
    the step (scores of +-0.1 where they should be ~1e-4).
    """
    X, Y = make_task_data()
    params = dict(
        encoder=dropout_encoder, learning_rate=1e-4, momentum=0.0, affinity_every=1
    )
    tag = small(affinity="tag", **params).fit(X, Y).affinity_
    etap = small(**params).fit(X, Y).affinity_
    assert np.abs(tag).max() < 1e-2
    assert_allclose(tag, etap, rtol=0.05, atol=2e-6)


def test_tag_restores_the_random_state_on_error(monkeypatch, make_task_data):
    X, Y = make_task_data()

    def fail(*args, **kwargs):
        torch.rand(100)  # consume the stream, then fail
        raise RuntimeError("lookahead failed")

    monkeypatch.setattr(recording, "lookahead_losses", fail)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="lookahead failed"):
        small(encoder=dropout_encoder, affinity="tag", affinity_every=1).fit(X, Y)
    # the fit forks the RNG, so the caller's stream is untouched either way
    assert torch.equal(torch.get_rng_state(), state)
