"""Streamed inputs are read a batch at a time, each row a bounded number of
times, and give the array answers (training, validation split, scoring)."""

import warnings

import numpy as np
import pytest
import torch
from small_extractor import small
from torch.utils.data import Dataset

from sklearn_etap import measure_gains
from sklearn_etap._affinity import data_sources, inputs
from sklearn_etap._affinity.data_sources import FileRows
from sklearn_etap.callbacks import TrainingCallback

N_ROWS, BATCH, EPOCHS = 150, 16, 2
# rows per check chunk and per scoring batch, made small so the test sees
# the bound (both are budgets in bytes)
CHUNK_ROWS = 24


class Reads:
    """Every read: the rows asked for, in order."""

    def __init__(self):
        self.calls = []

    def __call__(self, rows):
        self.calls.append(np.asarray(rows).ravel().copy())

    @property
    def n_rows(self):
        return sum(len(c) for c in self.calls)

    def per_row(self, n):
        return np.bincount(np.concatenate(self.calls), minlength=n)


READS = Reads()


class ReadsPerStep(TrainingCallback):
    """How many rows had been read when each step ended."""

    def __init__(self):
        self.at_step = []

    def on_train_begin(self, loop):
        self.before = READS.n_rows

    def on_step_end(self, loop, step):
        self.at_step.append(READS.n_rows)


class CountingDataset(Dataset):
    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        READS([i])
        return torch.as_tensor(self.X[i]), torch.as_tensor(self.Y[i])


def make_data(n=N_ROWS, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 0] > 0, X[:, 2] - X[:, 3]]
    Y[rng.rand(n) < 0.2, 2] = np.nan
    return X, Y


@pytest.fixture
def small_budgets(monkeypatch):
    READS.calls.clear()
    row_bytes = 6 * 4
    monkeypatch.setattr(inputs, "_CHECK_BYTES", CHUNK_ROWS * row_bytes)
    monkeypatch.setattr(data_sources, "SCORING_BATCH_BYTES", CHUNK_ROWS * row_bytes)


@pytest.fixture
def file_reads(monkeypatch):
    """Count every read through a memory map's file (:class:`FileRows`)."""
    original = FileRows.read

    def counted(self, rows):
        READS(rows)
        return original(self, rows)

    monkeypatch.setattr(FileRows, "read", counted)
    READS.calls.clear()
    return READS


@pytest.fixture
def memory_map(tmp_path, file_reads):
    X, Y = make_data()
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), X, Y


def fit(X, Y=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return small(
            max_epochs=EPOCHS,
            batch_size=BATCH,
            early_stopping=True,
            n_iter_no_change=EPOCHS,
            callbacks=[ReadsPerStep()],
            **params,
        ).fit(X, Y)


def assert_same_weights(a, b):
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(p, q)


def assert_streamed(ext, first_read):
    """Reads within a batch, each row at most ``first_read`` (labels, the
    check) + 1 (the loss before training) + one per epoch (training or
    validation) times, and a few rows up to 3 times more (the first rows of
    a source, probed for the input's shape and size); training reads as it
    goes: by the end of step k no more than k + 1 batches past its start."""
    assert max(len(c) for c in READS.calls) <= max(BATCH, CHUNK_ROWS)
    per_row = READS.per_row(N_ROWS)
    assert per_row.min() >= EPOCHS  # every row trained on or validated on
    excess = per_row - (first_read + 1 + EPOCHS)
    assert (excess > 0).sum() <= 2 * 8 and excess.max() <= 3
    assert len(ext.loss_curve_) == EPOCHS
    record = ext.callbacks_[0]
    steps_per_epoch = len(record.at_step) // EPOCHS
    for k, n_read in enumerate(record.at_step[:steps_per_epoch]):
        assert n_read - record.before <= (k + 1) * BATCH


def test_a_memory_map_is_read_a_batch_at_a_time(memory_map, small_budgets):
    X_map, X, Y = memory_map
    streamed = fit(X_map, Y, affinity_every=2)
    assert_streamed(streamed, first_read=1)  # the NaN check
    in_memory = fit(X, Y, affinity_every=2)
    np.testing.assert_array_equal(streamed.affinity_, in_memory.affinity_)
    assert streamed.validation_scores_ == in_memory.validation_scores_
    assert_same_weights(streamed, in_memory)
    # scoring reads in batches too, and gives the array answers
    READS.calls.clear()
    np.testing.assert_array_equal(
        streamed.task_losses(X_map, Y), streamed.task_losses(X, Y)
    )
    np.testing.assert_array_equal(streamed.predict(X_map), streamed.predict(X))
    assert max(len(c) for c in READS.calls) <= CHUNK_ROWS


def test_a_dataset_is_read_a_batch_at_a_time(small_budgets):
    X, Y = make_data()
    streamed = fit(CountingDataset(X, Y), affinity_every=2)
    assert_streamed(streamed, first_read=1)  # the labels
    in_memory = fit(X, Y, affinity_every=2)
    np.testing.assert_array_equal(streamed.affinity_, in_memory.affinity_)
    assert streamed.validation_scores_ == in_memory.validation_scores_
    READS.calls.clear()
    np.testing.assert_array_equal(
        streamed.task_losses(CountingDataset(X, Y)), streamed.task_losses(X, Y)
    )
    # the labels, then the inputs (the first item is probed too)
    per_row = READS.per_row(N_ROWS)
    assert per_row[1:].tolist() == [2] * (N_ROWS - 1) and per_row[0] <= 4


def test_gains_scored_on_memory_maps_equal_the_array_gains(
    tmp_path, small_budgets, file_reads
):
    X, Y = make_data(seed=1)
    X_test, Y_test = make_data(n=90, seed=2)
    # slices of one file, as make_shapes' X_train and X_test
    np.save(tmp_path / "X.npy", np.vstack([X, X_test]))
    whole = np.load(tmp_path / "X.npy", mmap_mode="r")
    maps = [whole[: len(X)], whole[len(X) :]]
    ext = small(max_epochs=2, affinity=None)
    groups = [(0, 1), (0, 1, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrays = measure_gains(ext, X, Y, groups, X_test, Y_test, random_state=0)
        mapped = measure_gains(ext, maps[0], Y, groups, maps[1], Y_test, random_state=0)
    np.testing.assert_array_equal(mapped.y, arrays.y)
    np.testing.assert_array_equal(mapped.stl_loss, arrays.stl_loss)
    # 5 trainings, each reading its 150 rows for 2 epochs and scoring the 90
    # test rows, all through the file (not the mapping), a batch at a time
    assert file_reads.n_rows >= 5 * (2 * 150 + 90)
    assert max(len(c) for c in file_reads.calls) <= max(32, CHUNK_ROWS)


def test_gains_check_a_memory_map_a_chunk_at_a_time(tmp_path, small_budgets):
    X, Y = make_data()
    X_test = X.copy()
    X_test[100, 3] = np.nan
    np.save(tmp_path / "X_test.npy", X_test)
    X_map = np.load(tmp_path / "X_test.npy", mmap_mode="r")
    # the message of the chunked check (check_array's would name no rows)
    with pytest.raises(ValueError, match=r"X_test holds NaN or infinity \(in rows 96 "):
        measure_gains(small(), X, Y, [(0, 1)], X_map, Y)


def test_a_slice_of_a_memory_map_is_read_through_its_file(memory_map):
    # make_shapes' X_train and X[:n] are np.memmap slices of a larger map
    X_map, X, Y = memory_map
    READS.calls.clear()
    streamed = fit(X_map[30:], Y[30:])
    assert READS.per_row(N_ROWS - 30).min() >= EPOCHS
    assert_same_weights(streamed, fit(X[30:], Y[30:]))
    READS.calls.clear()
    np.testing.assert_array_equal(
        streamed.predict(X_map[30:]), streamed.predict(X[30:])
    )
    assert READS.per_row(N_ROWS - 30).min() >= 1
