"""Mixed precision (bf16 autocast) and torch.compile options of the extractor."""

import warnings

import numpy as np
import pytest
import torch
from small_extractor import small
from torch import nn

from sklearn_etap import measure_gains
from sklearn_etap.callbacks import TrainingCallback


def data(n=256, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = np.c_[
        X[:, 0] + X[:, 1],
        X[:, 0] - 0.5 * X[:, 2],
        (X[:, 1] > 0).astype(float),
        (X[:, 3] + X[:, 0] > 0).astype(float),
    ]
    return X, Y


def fitted(X, Y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return small(hidden_layer_sizes=(32, 16), **params).fit(X, Y)


class ForwardDtypes(TrainingCallback):
    """The dtype of the encoder's first layer's output at every training step,
    and of what the step hands the callbacks."""

    def on_train_begin(self, loop):
        self.inside, self.losses = [], []
        loop.module.encoder[0].register_forward_hook(
            lambda module, args, out: self.inside.append(out.dtype)
        )

    def on_grads_computed(self, loop, step):
        self.losses.append((step.losses.dtype, step.representation.dtype))


def test_bf16_autocast_trains_in_bfloat16_and_hands_out_float32():
    X, Y = data()
    ext = fitted(X, Y, precision="bf16-mixed", callbacks=[ForwardDtypes()])
    probe = ext.callbacks_[0]
    assert set(probe.inside) == {torch.bfloat16}
    assert set(probe.losses) == {(torch.float32, torch.float32)}
    assert all(p.dtype == torch.float32 for p in ext.module_.parameters())
    # after fit, the hooks are gone: inference runs in float32
    assert not ext.module_._forward_hooks and not ext.module_._forward_pre_hooks
    with torch.no_grad():
        outputs, _ = ext.module_(torch.as_tensor(X))
    np.testing.assert_allclose(ext.predict(X)[:, :2], outputs[:, :2].numpy(), 1e-6)


# one sampled step (in a block of 100) and every step; the auto interval's few
# sampled steps of this short training are noisier than either
@pytest.mark.parametrize("params", [{"affinity_every": 100}, {"affinity_every": 1}])
def test_bf16_affinity_is_finite_and_close_to_the_float32_one(params):
    X, Y = data()
    full = fitted(X, Y, max_epochs=6, **params)
    mixed = fitted(X, Y, max_epochs=6, precision="bf16-mixed", **params)
    assert np.isfinite(mixed.affinity_).all()
    assert mixed.loss_curve_[-1] < 0.5 * mixed.loss_curve_[0]  # it trained
    # bfloat16 keeps 8 bits of mantissa: the trainings drift apart a little
    scale = np.abs(full.affinity_).max()
    np.testing.assert_allclose(mixed.affinity_, full.affinity_, atol=0.06 * scale)
    np.testing.assert_allclose(mixed.loss_curve_, full.loss_curve_, rtol=0.01)


def test_bf16_records_tag_and_the_control_variate():
    X, Y = data()
    for params in ({"affinity": "tag"}, {"affinity_control_variate": True}):
        full = fitted(X, Y, affinity_every=5, **params)
        mixed = fitted(X, Y, affinity_every=5, precision="bf16-mixed", **params)
        assert np.isfinite(mixed.affinity_).all()
        scale = np.abs(full.affinity_).max()
        np.testing.assert_allclose(mixed.affinity_, full.affinity_, atol=0.08 * scale)


def test_precision_32_trains_exactly_as_before():
    X, Y = data()
    a, b = fitted(X, Y), fitted(X, Y, precision="32", compile=False)
    np.testing.assert_array_equal(a.affinity_, b.affinity_)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize(
    "params, message",
    [
        ({"precision": "16-mixed"}, r"'precision' parameter .* must be a str among"),
        ({"precision": 32}, r"'precision' parameter"),
        ({"compile": "yes"}, r"'compile' parameter"),
    ],
)
def test_bad_precision_or_compile_is_refused(params, message):
    X, Y = data(n=32)
    with pytest.raises(ValueError, match=message):
        small(**params).fit(X, Y)


class DtypeEncoder(nn.Module):
    """Records the dtype of its linear layer's output in training mode."""

    seen = []

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 16)

    def forward(self, x):
        h = self.linear(x)
        if self.training:
            DtypeEncoder.seen.append(h.dtype)
        return torch.relu(h)


def test_measure_gains_trains_its_models_in_the_extractors_precision():
    X, Y = data(n=160)
    ext = small(
        encoder=DtypeEncoder, precision="bf16-mixed", max_epochs=3, affinity=None
    )
    DtypeEncoder.seen = []
    train = measure_gains(
        ext, X[:120], Y[:120], [(0, 1)], X[120:], Y[120:], random_state=0,
        progress=False,
    )  # fmt: skip
    assert np.isfinite(train.y).all()
    # 3 models (2 single-task, 1 pair) of 3 epochs of 4 steps, all in bf16
    assert DtypeEncoder.seen == [torch.bfloat16] * 3 * 3 * 4


class CountForwards(TrainingCallback):
    """How many times the uncompiled module's forward runs during training."""

    def on_train_begin(self, loop):
        self.calls = 0

        def count(module, args, out):
            self.calls += 1

        self.handle = loop.module.register_forward_hook(count)

    def on_train_end(self, loop):
        self.handle.remove()
        self.handle = None


@pytest.mark.slow
def test_compiled_training_predicts_as_the_uncompiled_one_and_records():
    X, Y = data()
    plain = fitted(X, Y, affinity_every=4)
    compiled = fitted(X, Y, affinity_every=4, compile=True, callbacks=[CountForwards()])
    np.testing.assert_allclose(compiled.predict(X), plain.predict(X), atol=1e-3)
    np.testing.assert_allclose(compiled.affinity_, plain.affinity_, atol=1e-3)
    # only the recorded steps ran the uncompiled module
    assert compiled.callbacks_[0].calls == compiled.n_recorded_steps_ > 0
    assert type(compiled.module_).__name__ == "MultiTaskModule"


@pytest.mark.slow
def test_compiled_training_in_bf16_trains():
    X, Y = data()
    ext = fitted(X, Y, compile=True, precision="bf16-mixed", affinity=None)
    assert ext.loss_curve_[-1] < 0.5 * ext.loss_curve_[0]


class Dropout(nn.Module):
    """An encoder with dropout: a replayed forward pass must redraw its masks."""

    def __init__(self, n_features):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 16), nn.ReLU(), nn.Dropout(0.2))

    def forward(self, x):
        return self.net(x)


def test_compile_with_a_replaying_recorder_trains_uncompiled():
    X, Y = data()
    a = fitted(X, Y, encoder=Dropout, affinity_control_variate=True, affinity_every=4)
    b = fitted(
        X, Y, encoder=Dropout, affinity_control_variate=True, affinity_every=4,
        compile=True,
    )  # fmt: skip
    np.testing.assert_array_equal(a.affinity_, b.affinity_)
    assert a.loss_curve_ == b.loss_curve_


def test_bf16_on_a_cuda_device_without_bfloat16_is_refused(monkeypatch):
    from sklearn_etap._affinity.checks import check_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ValueError, match="does not support bfloat16"):
        check_precision("bf16-mixed", torch.device("cuda"))
    check_precision("32", torch.device("cuda"))  # float32 needs nothing
    check_precision("bf16-mixed", torch.device("cpu"))
