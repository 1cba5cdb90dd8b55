"""Dataset and memory-mapped input train exactly as the arrays they hold."""

import warnings

import numpy as np
import pytest
import torch
from small_extractor import small
from torch import nn
from torch.utils.data import Dataset, IterableDataset

from sklearn_etap._affinity.data_sources import (
    DatasetSource,
    HostArrays,
    memory_map_of,
)


class PairDataset(Dataset):
    """Items (x, y) from two arrays, as a user's Dataset gives them."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return torch.as_tensor(self.X[i]), torch.as_tensor(self.Y[i])


def make_data(n=160, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 0] > 0, X[:, 2] - X[:, 3]]
    Y[rng.rand(n) < 0.25, 0] = np.nan
    return X, Y


def fitted(X, Y=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return small(**params).fit(X, Y)


def assert_same_fit(a, b):
    np.testing.assert_array_equal(a.affinity_, b.affinity_)
    assert a.loss_curve_ == b.loss_curve_
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_a_dataset_trains_bit_identically_to_its_arrays(early_stopping):
    X, Y = make_data()
    a = fitted(X, Y, early_stopping=early_stopping, affinity_every=3)
    b = fitted(PairDataset(X, Y), early_stopping=early_stopping, affinity_every=3)
    assert_same_fit(a, b)
    assert a.validation_scores_ == b.validation_scores_
    assert b.n_tasks_ == 3 and b.task_types_.tolist() == a.task_types_.tolist()
    assert not hasattr(b, "n_features_in_")


def test_a_memory_map_trains_bit_identically_and_is_streamed(tmp_path, monkeypatch):
    X, Y = make_data()
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    sources = []
    original = HostArrays.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sources.append(self)

    monkeypatch.setattr(HostArrays, "__init__", spy)
    streamed = fitted(X_map, Y, early_stopping=True)
    # the sources read the file's pages, never a copy of the array
    assert sources and all(np.shares_memory(s.X, X_map) for s in sources)
    assert all(memory_map_of(s.X) is not None for s in sources)
    assert_same_fit(fitted(X, Y, early_stopping=True), streamed)
    np.testing.assert_array_equal(streamed.predict(X_map), streamed.predict(X))
    np.testing.assert_array_equal(
        streamed.task_losses(X_map, Y), streamed.task_losses(X, Y)
    )


def test_scoring_a_dataset_equals_scoring_its_arrays():
    X, Y = make_data()
    ext = fitted(X, Y)
    data = PairDataset(X, Y)
    np.testing.assert_array_equal(ext.task_losses(data), ext.task_losses(X, Y))
    np.testing.assert_array_equal(ext.predict(data), ext.predict(X))
    np.testing.assert_array_equal(ext.transform(data), ext.transform(X))


def test_image_memory_map_trains_a_user_encoder_like_its_dataset(tmp_path):
    rng = np.random.RandomState(1)
    images = rng.normal(size=(64, 1, 4, 4)).astype(np.float32)
    Y = np.c_[images.mean(axis=(1, 2, 3)), images[:, 0, 0, 0] > 0]
    np.save(tmp_path / "images.npy", images)
    X_map = np.load(tmp_path / "images.npy", mmap_mode="r")
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten())
    a = fitted(X_map, Y, encoder=encoder)
    b = fitted(PairDataset(images, Y), encoder=encoder)
    assert_same_fit(a, b)
    assert a.transform(X_map).shape == (64, 8)


def test_dataset_input_errors_say_what_to_do():
    X, Y = make_data()
    with pytest.raises(ValueError, match="Y was given too"):
        small().fit(PairDataset(X, Y), Y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        small().fit(X)

    class Inputs(PairDataset):
        def __getitem__(self, i):
            return torch.as_tensor(self.X[i])

    with pytest.raises(ValueError, match=r"must be a pair \(x, y\)"):
        small().fit(Inputs(X, Y))

    ragged = PairDataset(X, [Y[i] if i != 7 else Y[i, :2] for i in range(len(Y))])
    with pytest.raises(ValueError, match="item 7 has 2"):
        small().fit(ragged)
    Y_empty = Y.copy()
    Y_empty[:, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"\[1\] of the Dataset's labels hold no label"
    ):
        small().fit(PairDataset(X, Y_empty))

    class Stream(IterableDataset):
        def __iter__(self):
            return iter([])

    with pytest.raises(TypeError, match="without __len__"):
        small().fit(Stream())
    with pytest.raises(ValueError, match="built-in MLP encoder takes inputs of one"):
        small().fit(PairDataset(X.reshape(-1, 5, 1), Y))


def test_dataset_batches_follow_the_loop_order():
    X, Y = make_data(n=10)
    source = DatasetSource(PairDataset(X, Y), Y, torch.device("cpu"))
    order = torch.tensor([3, 1, 4, 0, 9, 2, 6, 5, 8, 7])
    batches = list(source.batches(order, 4))
    assert [len(b) for b in batches] == [4, 4, 2]
    got = torch.cat([b.X for b in batches])
    np.testing.assert_array_equal(got.numpy(), X[order.numpy()].astype(np.float32))
    targets = torch.cat([b.targets for b in batches]).numpy()
    expected = np.nan_to_num(Y[order.numpy()]).astype(np.float32)
    np.testing.assert_array_equal(targets, expected)


@pytest.mark.slow
def test_loader_workers_give_the_same_fit():
    X, Y = make_data()
    data = PairDataset(X, Y)
    assert_same_fit(fitted(data), fitted(data, num_workers=1))
