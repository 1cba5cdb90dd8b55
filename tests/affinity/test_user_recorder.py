"""AffinityRecorder in a hand-written loop: the extractor's affinity on the same
training, the training itself unchanged, and clear errors for misuse."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from own_loop import build_model, train_by_hand
from sklearn.exceptions import NotFittedError
from small_extractor import small

from sklearn_etap import AffinityRecorder
from sklearn_etap._affinity.task_gradients import backward_with_task_gradients


def with_missing_labels(Y, seed=0):
    Y = Y.copy()
    Y[np.random.RandomState(seed).uniform(size=Y.shape) < 0.3] = np.nan
    Y[:40, 3] = np.nan  # task 3 has no label in some whole batches
    return Y


def as_extractor_trains(losses, recorded, encoder, heads):
    """The extractor's backward: on a recorded step, the training gradient is
    the sum of the batched per-task gradients (same value, other rounding)."""
    if recorded:
        backward_with_task_gradients(
            losses, list(encoder.parameters()), list(heads.parameters())
        )
    else:
        losses.sum().backward()


SETTINGS = [
    dict(optimizer="sgd", momentum=0.9, every=3),
    dict(optimizer="sgd", momentum=0.0, weight_decay=0.01, every=1),
    dict(optimizer="adam", learning_rate=0.005, every=4),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s["optimizer"])
def test_recorder_in_the_extractors_training_is_bit_identical(make_task_data, settings):
    """The hand loop trains exactly as the extractor does (its backward on the
    recorded steps included): the recorder then gives the extractor's
    affinity bit for bit, NaN-masked labels, momentum, weight decay and Adam
    included, and the last partial block sampled alike."""
    X, Y = make_task_data(150)  # 5 batches per epoch: blocks of 3 and 4 straddle
    Y = with_missing_labels(Y)
    settings = dict(settings)
    every = settings.pop("every")
    ext = small(affinity_every=every, **settings).fit(X, Y)
    encoder, heads, rec, _ = train_by_hand(
        X, Y, every=every, backward=as_extractor_trains, **settings
    )
    assert rec.n_steps_ == ext.n_steps_
    assert rec.n_recorded_steps_ == ext.n_recorded_steps_
    assert_array_equal(
        heads.weight.detach().numpy(), ext.module_.heads.weight.detach().numpy()
    )
    assert_array_equal(rec.affinity_, ext.affinity_)


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s["optimizer"])
def test_recorder_in_a_plain_loop_matches_the_extractor(make_task_data, settings):
    """The user's own loop (one backward of the summed loss at every step)
    trains as the extractor up to float rounding on the recorded steps: the
    affinities agree to float tolerance."""
    X, Y = make_task_data(150)
    Y = with_missing_labels(Y)
    settings = dict(settings)
    every = settings.pop("every")
    ext = small(affinity_every=every, **settings).fit(X, Y)
    _, _, rec, _ = train_by_hand(X, Y, every=every, **settings)
    assert np.isfinite(ext.affinity_).all()
    assert_allclose(rec.affinity_, ext.affinity_, rtol=1e-4, atol=1e-7)


def test_the_training_is_unchanged_by_the_recorder(make_task_data):
    """Same weights and the same random stream (dropout draws from it) with
    and without recording, every step recorded."""
    X, Y = make_task_data(150)
    Y = with_missing_labels(Y)
    enc_a, heads_a, rec, rng_a = train_by_hand(X, Y, every=1, dropout=0.2)
    enc_b, heads_b, none, rng_b = train_by_hand(X, Y, dropout=0.2, record=False)
    assert none is None and rec.n_recorded_steps_ == rec.n_steps_ == 20
    for a, b in zip(
        [*enc_a.parameters(), *heads_a.parameters()],
        [*enc_b.parameters(), *heads_b.parameters()],
    ):
        assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert torch.equal(rng_a, rng_b)


def test_same_seed_samples_the_same_steps_and_weights_by_block():
    """every=4 over 10 steps: one step per block of 4, 4 and (with n_steps) 2."""
    torch.manual_seed(0)
    encoder, heads = build_model(3, 2, hidden=(4,))
    opt = torch.optim.SGD([*encoder.parameters(), *heads.parameters()], lr=0.01)
    X, Y = torch.randn(8, 3), torch.randn(8, 2)

    def run(n_steps):
        rec = AffinityRecorder(
            encoder.parameters(), 2, every=4, n_steps=n_steps, random_state=3
        )
        steps = []
        for k in range(10):
            losses = ((heads(encoder(X)) - Y) ** 2).mean(0)
            if rec.record(losses, opt):
                steps.append(k)
        return rec, steps

    rec, steps = run(10)
    again, same = run(10)
    assert steps == same and len(steps) == 3
    assert [k // 4 for k in steps] == [0, 1, 2]
    assert_array_equal(rec.affinity_, again.affinity_)
    # without n_steps, the last block of 2 is drawn within 4 places
    _, open_ended = run(None)
    assert open_ended[:2] == steps[:2]


def test_misuse_gets_clear_errors():
    torch.manual_seed(0)
    encoder, heads = build_model(3, 2, hidden=(4,))
    params = [*encoder.parameters(), *heads.parameters()]
    X, Y = torch.randn(8, 3), torch.randn(8, 2)
    with pytest.raises(ValueError, match="requires a gradient"):
        AffinityRecorder([torch.zeros(3)], 2)
    with pytest.raises(ValueError, match="every"):
        AffinityRecorder(encoder.parameters(), 2, every=0)
    rec = AffinityRecorder(encoder.parameters(), 2, every=1)
    with pytest.raises(NotFittedError, match="no step recorded"):
        _ = rec.affinity_
    assert not hasattr(rec, "affinity_")
    losses = ((heads(encoder(X)) - Y) ** 2).mean(0)
    with pytest.raises(ValueError, match="one loss per task"):
        rec.record(losses[:1], torch.optim.SGD(params, lr=0.1))
    with pytest.raises(ValueError, match="before backward"):
        rec.record(losses.detach(), torch.optim.SGD(params, lr=0.1))
    with pytest.raises(ValueError, match="group 1 has maximize=True"):
        groups = [{"params": params[:2]}, {"params": params[2:], "maximize": True}]
        rec.record(losses, torch.optim.Adam(groups, lr=0.1))
    with pytest.raises(TypeError, match="torch.optim.Adam and torch.optim.AdamW"):
        rec.record(losses, torch.optim.RMSprop(params, lr=0.1))
    # the optimizer must hold every shared parameter, named when names are known
    without_bias = [p for p in params if p is not encoder[0].bias]
    with pytest.raises(ValueError, match=r"number 1 \(shape \(4,\)\) is not among"):
        rec.record(losses, torch.optim.SGD(without_bias, lr=0.1))
    named = AffinityRecorder(encoder.named_parameters(), 2, every=1)
    with pytest.raises(ValueError, match="'0.bias' is not among"):
        named.record(losses, torch.optim.SGD(without_bias, lr=0.1))
    losses.sum().backward()
    with pytest.raises(RuntimeError, match="before backward"):
        rec.record(losses, torch.optim.SGD(params, lr=0.1))


def test_a_task_without_labels_is_left_out_by_default():
    """has_label=None: a task whose loss is 0 (no label in the batch) is not
    scored, as with has_label given."""
    torch.manual_seed(0)
    encoder, heads = build_model(3, 3, hidden=(4,))
    opt = torch.optim.SGD([*encoder.parameters(), *heads.parameters()], lr=0.01)
    X, Y = torch.randn(8, 3), torch.randn(8, 3)
    inferred = AffinityRecorder(encoder.parameters(), 3, every=1)
    given = AffinityRecorder(encoder.parameters(), 3, every=1)
    losses = ((heads(encoder(X)) - Y) ** 2).mean(0) * torch.tensor([1.0, 1.0, 0.0])
    inferred.record(losses, opt)
    given.record(losses, opt, has_label=[True, True, False])
    assert_array_equal(inferred.affinity_, given.affinity_)
    assert (
        np.isnan(inferred.affinity_[2]).all()
        and np.isnan(inferred.affinity_[:, 2]).all()
    )
    assert np.isfinite(inferred.affinity_[0, 1])
