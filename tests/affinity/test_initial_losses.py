"""The loss before training is measured on a bounded sample of rows, and the
blow-up warning that compares it with the last epoch still catches what it
should."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from small_extractor import small
from torch.utils.data import Dataset

from sklearn_etap._affinity.training import (
    INITIAL_LOSS_MIN_LABELS,
    INITIAL_LOSS_ROWS,
    initial_loss_rows,
)
from sklearn_etap.callbacks import TrainingCallback


def mask(Y):
    return torch.as_tensor(~np.isnan(Y), dtype=torch.float32)


def test_small_data_are_measured_whole():
    assert initial_loss_rows(mask(np.ones((INITIAL_LOSS_ROWS, 3)))) is None


def test_rows_spread_from_the_first_to_the_last():
    rows = initial_loss_rows(mask(np.ones((10_000, 2))))
    assert len(rows) == INITIAL_LOSS_ROWS
    assert rows[0] == 0 and rows[-1] == 9_999
    gaps = np.diff(rows)
    assert gaps.min() >= 19 and gaps.max() <= 20  # 9,999 / 511 = 19.6


def test_a_task_with_few_labels_gets_them_all_and_a_clustered_one_enough():
    Y = np.ones((10_000, 3))
    Y[:, 1] = np.nan
    Y[[101, 4_003, 7_777], 1] = 0.0  # 3 labels, none on the spread rows
    Y[:, 2] = np.nan
    Y[5_000:5_400, 2] = 1.0  # 400 labels, about 20 of them on the spread rows
    rows = initial_loss_rows(mask(Y))
    labelled = ~np.isnan(Y[rows])
    assert set(rows[labelled[:, 1]]) == {101, 4_003, 7_777}
    assert labelled[:, 2].sum() >= INITIAL_LOSS_MIN_LABELS
    assert len(rows) <= INITIAL_LOSS_ROWS + 2 * INITIAL_LOSS_MIN_LABELS


class InitialLosses(TrainingCallback):
    """Keeps the loop's initial losses and the initial model's outputs on ``X``."""

    def __init__(self, X):
        self.X = X

    def on_train_begin(self, loop):
        self.losses = loop.history.initial_task_losses
        with torch.no_grad():
            X = torch.as_tensor(self.X, dtype=torch.float32)
            self.outputs = loop.module(X)[0].double().numpy()


def sorted_blowing_up_data(n=2_000, seed=0):
    """Task 0 a regression labelled in its last 20 rows only (sorted data);
    tasks 1 and 2 binary, all labelled."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 2] > 0, X[:, 3] > 0].astype(float)
    Y[: n - 20, 0] = np.nan
    return X, Y


def test_initial_losses_are_the_losses_on_the_spread_rows_and_the_sparse_labels():
    X, Y = sorted_blowing_up_data()
    ext = small(max_epochs=1, affinity=None, callbacks=[InitialLosses(X)]).fit(X, Y)
    probe = ext.callbacks_[0]
    spread = np.linspace(0, len(X) - 1, INITIAL_LOSS_ROWS).round().astype(int)
    # task 0 has 1 label among them (the last row): its 20 rows join them
    rows = np.union1d(spread, np.arange(len(X) - 20, len(X)))
    out = probe.outputs
    expected = [np.mean((out[-20:, 0] - Y[-20:, 0]) ** 2)]
    for task in (1, 2):  # binary cross-entropy with logits
        z, y = out[rows, task], Y[rows, task]
        expected.append(np.mean(np.logaddexp(0, z) - y * z))
    np.testing.assert_allclose(probe.losses, expected, rtol=1e-5)


def test_a_blown_up_task_labelled_only_at_the_end_is_still_named():
    X, Y = sorted_blowing_up_data()
    with pytest.warns(ConvergenceWarning, match=r"training loss of task 0 .* blew up"):
        small(optimizer="adam", learning_rate=1e3, affinity=None).fit(X, Y)


def test_a_sound_training_on_many_rows_does_not_warn():
    X, Y = sorted_blowing_up_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(max_epochs=3, affinity=None).fit(X, Y)


class CountingDataset(Dataset):
    """(x, y) items that count how many were read (in a class attribute:
    ``fit`` trains with deep copies of the callbacks and what they hold)."""

    reads = 0

    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        CountingDataset.reads += 1
        return torch.as_tensor(self.X[i]), torch.as_tensor(self.Y[i])


class ReadsBeforeTraining(TrainingCallback):
    def on_train_begin(self, loop):
        self.reads = CountingDataset.reads


def test_a_dataset_is_read_whole_for_its_labels_then_only_for_the_sample():
    rng = np.random.RandomState(0)
    n = 3_000
    X = rng.normal(size=(n, 4)).astype(np.float32)
    CountingDataset.reads = 0
    dataset = CountingDataset(X, np.c_[X[:, 0], X[:, 1] > 0])
    callbacks = [ReadsBeforeTraining()]
    ext = small(max_epochs=1, affinity=None, callbacks=callbacks).fit(dataset)
    # the labels: the first item (checked alone), then every item; the
    # model's probe: 8 items; the loss before training: one item (to size
    # its batches), then the sample
    expected = 1 + n + 8 + 1 + INITIAL_LOSS_ROWS
    assert ext.callbacks_[0].reads == expected
    assert CountingDataset.reads == expected + n  # and one epoch


def test_arrays_memory_maps_and_datasets_measure_the_same_rows(tmp_path):
    X, Y = sorted_blowing_up_data(n=1_500)
    X = X.astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    losses = []
    for inputs in ((X, Y), (mapped, Y), (CountingDataset(X, Y),)):
        # early stopping: the sample is taken from the training split's rows
        ext = small(
            max_epochs=1, affinity=None, early_stopping=True,
            callbacks=[InitialLosses(X[:1])],
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_epochs reached
            ext.fit(*inputs)
        losses.append(ext.callbacks_[0].losses)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)
    np.testing.assert_allclose(losses[2], losses[0], rtol=1e-6)
