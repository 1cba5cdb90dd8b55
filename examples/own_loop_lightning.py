"""ETAP in a PyTorch Lightning training, end to end.

1. A ``LightningModule`` following the recorder's protocol (a
   ``shared_parameters()`` method; ``training_step`` returns ``"loss"`` and
   ``"task_losses"``) trains on all tasks with an ``AffinityCallback``: ETAP's
   affinity.
2. A ``measure(groups)`` callable trains one module per group (and each task
   alone, once) with the same ``Trainer`` settings and returns every member's
   gain on the test split; six random groups are measured.
3. ``ETAPRegressor`` predicts the gain of every group from the affinity and
   those six, and ``GroupSelector`` chooses the groups to train.

Needs the ``lightning`` extra (``pip install "sklearn-etap[lightning]"``).

    python examples/own_loop_lightning.py
"""

import logging

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sklearn_etap import ETAPRegressor, GroupSelector, encode_groups, sample_groups
from sklearn_etap.datasets import load_digits_tasks
from sklearn_etap.lightning import AffinityCallback

EPOCHS, BATCH_SIZE = 10, 64


class MultiTaskModule(pl.LightningModule):
    """A shared MLP encoder, one linear head (logit) per task."""

    def __init__(self, n_features, n_tasks):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU()
        )
        self.heads = nn.Linear(16, n_tasks)

    def shared_parameters(self):
        return self.encoder.parameters()

    def task_losses(self, X, Y):
        logits = self.heads(self.encoder(X))
        return F.binary_cross_entropy_with_logits(logits, Y, reduction="none").mean(0)

    def training_step(self, batch, batch_idx):
        task_losses = self.task_losses(*batch)
        return {"loss": task_losses.sum(), "task_losses": task_losses}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


def fit(X, Y, callbacks=(), seed=0):
    """One Lightning training of a fresh module on the columns of ``Y``."""
    torch.manual_seed(seed)
    module = MultiTaskModule(X.shape[1], Y.shape[1])
    loader = DataLoader(TensorDataset(X, Y), batch_size=BATCH_SIZE, shuffle=True)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        callbacks=list(callbacks),
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(module, loader)
    return module


def make_measure(X_train, Y_train, X_test, Y_test):
    """``measure(groups)``: member gains, (L_alone - L_group) / L_alone, on test."""
    alone = {}

    def test_losses(columns):
        module = fit(X_train, Y_train[:, columns])
        with torch.no_grad():
            return module.task_losses(X_test, Y_test[:, columns]).tolist()

    def measure(groups):
        gains = {}
        for group in groups:
            for task in group:
                if task not in alone:
                    alone[task] = test_losses([task])[0]
            together = test_losses(list(group))
            gains[group] = [
                (alone[task] - loss) / alone[task]
                for task, loss in zip(group, together)
            ]
        return gains

    return measure


def main():
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banners
    data = load_digits_tasks(n_tasks=5, max_samples=600)
    X_train, Y_train, X_test, Y_test = (
        torch.as_tensor(data[key]) for key in ("X_train", "Y_train", "X_test", "Y_test")
    )
    n_tasks = Y_train.shape[1]
    callback = AffinityCallback(every=5, random_state=0)
    fit(X_train, Y_train, callbacks=[callback])
    affinity = callback.affinity_

    groups = sample_groups(n_tasks, 6, random_state=0)
    measured = make_measure(X_train, Y_train, X_test, Y_test)(groups)
    rows = encode_groups(groups, n_tasks)  # one row per (group, member task)
    gains = np.concatenate([measured[group] for group in groups])
    selector = GroupSelector(ETAPRegressor(affinity=affinity), n_groups=3)
    selector.fit(rows, gains)
    for index, group in enumerate(selector.groups_):
        # the tasks whose best predicted gain is in this group
        served = np.flatnonzero(selector.task_group_ == index)
        print(
            "train together:",
            ", ".join(data.task_names[t] for t in group),
            "| serves",
            ", ".join(
                f"{data.task_names[t]} ({selector.task_gain_[t]:+.3f})" for t in served
            ),
        )
    return callback, selector


if __name__ == "__main__":
    main()
