"""The Lightning callback records what the plain recorder records in the same
training, leaves Lightning's training unchanged, and names what a module lacks."""

import lightning.pytorch as pl  # the `lightning` extra, part of `tests`
import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from own_loop import build_model, extractor_seed, task_losses, train_by_hand
from test_user_recorder import with_missing_labels
from torch.utils.data import DataLoader, Sampler, TensorDataset

from sklearn_etap.lightning import AffinityCallback

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


class MultiTask(pl.LightningModule):
    """train_by_hand's model and loss as a LightningModule of the protocol."""

    def __init__(self, encoder, heads, is_binary, lr=0.01, momentum=0.9):
        super().__init__()
        self.encoder, self.heads = encoder, heads
        self.is_binary, self.lr, self.momentum = is_binary, lr, momentum

    def shared_parameters(self):
        return self.encoder.parameters()

    def training_step(self, batch, batch_idx):
        x, targets, present = batch
        losses, has_label = task_losses(
            self.heads(self.encoder(x)), targets, present, self.is_binary
        )
        return {"loss": losses.sum(), "task_losses": losses, "has_label": has_label}

    def configure_optimizers(self):
        params = [*self.encoder.parameters(), *self.heads.parameters()]
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum)


class HandOrder(Sampler):
    """train_by_hand's order: torch.randperm from a seeded generator, every
    epoch (a DataLoader's own shuffling also draws its workers' seed there)."""

    def __init__(self, n_samples, seed):
        self.n_samples = n_samples
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        return iter(torch.randperm(self.n_samples, generator=self.generator).tolist())

    def __len__(self):
        return self.n_samples


def fit_with_lightning(X, Y, *, random_state=0, every=20, callback=True, **module):
    """Lightning's fit of what train_by_hand trains (same seed, weights, batches)."""
    seed = extractor_seed(random_state)
    present = torch.as_tensor(~np.isnan(Y), dtype=torch.float32)
    data = TensorDataset(
        torch.tensor(X, dtype=torch.float32),
        torch.as_tensor(np.nan_to_num(Y), dtype=torch.float32),
        present,
    )
    is_binary = torch.as_tensor(
        [set(np.unique(c[~np.isnan(c)])) <= {0.0, 1.0} for c in Y.T]
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder, heads = build_model(X.shape[1], Y.shape[1])
        model = MultiTask(encoder, heads, is_binary, **module)
        loader = DataLoader(data, batch_size=32, sampler=HandOrder(len(X), seed))
        cb = AffinityCallback(every=every, random_state=random_state)
        trainer = pl.Trainer(
            max_epochs=4,
            accelerator="cpu",
            callbacks=[cb] if callback else [],
            logger=False,
            enable_progress_bar=False,
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        trainer.fit(model, loader)
    return model, cb


def weights(*modules):
    return [p.detach().numpy().copy() for m in modules for p in m.parameters()]


def test_callback_agrees_with_the_plain_recorder_and_leaves_training_as_is(
    make_task_data,
):
    X, Y = make_task_data(150)
    Y = with_missing_labels(Y)
    model, cb = fit_with_lightning(X, Y, every=3)
    encoder, heads, rec, _ = train_by_hand(X, Y, every=3)
    # Lightning trained exactly what the hand loop trained ...
    for a, b in zip(weights(model.encoder, model.heads), weights(encoder, heads)):
        assert_array_equal(a, b)
    # ... and recorded the same steps and scores
    assert cb.recorder_.n_steps_ == rec.n_steps_ == 20
    assert cb.recorder_.n_recorded_steps_ == rec.n_recorded_steps_ == 7
    assert np.isfinite(rec.affinity_).all()
    assert_array_equal(cb.affinity_, rec.affinity_)
    # without the callback Lightning trains the same weights
    plain, _ = fit_with_lightning(X, Y, callback=False)
    for a, b in zip(weights(plain), weights(model)):
        assert_array_equal(a, b)
    # the module has its own training_step back
    assert "training_step" not in vars(model)


def test_a_module_outside_the_protocol_is_named(make_task_data):
    X, Y = make_task_data(64)

    class NoSharedParameters(MultiTask):
        shared_parameters = None

    class LossOnly(MultiTask):
        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx)["loss"]

    for cls, error, match in [
        (NoSharedParameters, TypeError, "shared_parameters"),
        (LossOnly, ValueError, "task_losses"),
    ]:
        encoder, heads = build_model(5, 4, hidden=(4,))
        model = cls(encoder, heads, torch.tensor([False, False, True, True]))
        loader = DataLoader(
            TensorDataset(
                torch.tensor(X, dtype=torch.float32),
                torch.tensor(Y, dtype=torch.float32),
                torch.ones(Y.shape),
            ),
            batch_size=32,
        )
        trainer = pl.Trainer(
            max_steps=1,
            accelerator="cpu",
            callbacks=[AffinityCallback()],
            logger=False,
            enable_progress_bar=False,
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        with pytest.raises(error, match=match):
            trainer.fit(model, loader)


class GroupedAdamW(MultiTask):
    """AdamW with weight decay on the weights only and another learning rate
    for the biases: the common grouping, recorded as the recorder scores it."""

    leave_out = None

    def configure_optimizers(self):
        named = [
            (n, p)
            for n, p in self.named_parameters()
            if self.leave_out is None or n != self.leave_out
        ]
        decayed = [p for n, p in named if n.endswith("weight")]
        other = [p for n, p in named if not n.endswith("weight")]
        return torch.optim.AdamW(
            [{"params": decayed}, {"params": other, "lr": 0.02, "weight_decay": 0.0}],
            lr=0.01,
            weight_decay=0.1,
        )


def test_adamw_with_parameter_groups_and_a_missing_shared_parameter(make_task_data):
    X, Y = make_task_data(64)
    loader = DataLoader(
        TensorDataset(
            torch.tensor(X, dtype=torch.float32),
            torch.tensor(Y, dtype=torch.float32),
            torch.ones(Y.shape),
        ),
        batch_size=32,
    )

    def fit(leave_out):
        torch.manual_seed(0)
        encoder, heads = build_model(5, 4, hidden=(4,))
        model = GroupedAdamW(encoder, heads, torch.tensor([False, False, True, True]))
        model.leave_out = leave_out
        callback = AffinityCallback(every=1, random_state=0)
        trainer = pl.Trainer(
            max_epochs=2,
            accelerator="cpu",
            callbacks=[callback],
            logger=False,
            enable_progress_bar=False,
            enable_checkpointing=False,
            enable_model_summary=False,
        )
        trainer.fit(model, loader)
        return callback

    callback = fit(None)
    assert callback.recorder_.n_recorded_steps_ == 4
    assert np.isfinite(callback.affinity_).all()
    with pytest.raises(ValueError, match="'encoder.0.bias' is not among"):
        fit("encoder.0.bias")
