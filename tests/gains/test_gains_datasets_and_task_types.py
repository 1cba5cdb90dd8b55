"""measure_gains on torch Datasets, on multiclass and custom tasks, and
without the extractor's callbacks."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch.utils.data import Dataset

from sklearn_etap import TorchAffinityExtractor, measure_gains
from sklearn_etap._affinity.data_sources import HostArrays
from sklearn_etap._gains.cache import estimator_key
from sklearn_etap.callbacks import TrainingCallback


class PairDataset(Dataset):
    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.Y[i]


def absolute_error(output, target):
    return (output - target).abs()


def make_data(n=120, seed=0):
    """A regression, a 3-class and a custom-loss task with missing labels."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    classes = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    Y = np.c_[X[:, 0] - X[:, 2], classes, X[:, 0] + X[:, 3]]
    Y[rng.rand(n) < 0.2, 1] = np.nan
    Y[rng.rand(n) < 0.2, 2] = np.nan
    return X[:80], Y[:80], X[80:], Y[80:]


def extractor(**params):
    return TorchAffinityExtractor(
        hidden_layer_sizes=(8,),
        max_epochs=4,
        batch_size=16,
        device="cpu",
        task_types=["regression", ("multiclass", 3), absolute_error],
        random_state=0,
        **params,
    )


GROUPS = [(0, 1), (1, 2), (0, 1, 2)]


def measure(ext, *data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure_gains(ext, *data, progress=False, **kwargs)


def test_multiclass_and_custom_gains_follow_their_definition():
    X, Y, X_test, Y_test = make_data()
    ext = extractor()
    gains = measure(ext, X, Y, GROUPS, X_test, Y_test)
    seed = int(gains.seeds[0])
    # every loss by hand: a clone trained as documented, scored on its tasks
    expected = []
    for g in GROUPS:
        cols = list(g)
        labelled = ~np.isnan(Y[:, cols]).all(axis=1)
        scored = ~np.isnan(Y_test[:, cols]).all(axis=1)
        model = clone(ext).set_params(
            affinity=None,
            random_state=seed,
            task_types=[ext.task_types[c] for c in cols],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X[labelled], Y[labelled][:, cols])
        expected += list(model.task_losses(X_test[scored], Y_test[scored][:, cols]))
    np.testing.assert_allclose(gains.mtl_loss, expected, rtol=1e-12)
    stl = gains.stl_loss[[t for g in GROUPS for t in g]]
    np.testing.assert_allclose(gains.y, (stl - gains.mtl_loss) / stl)
    # the trivial predictor of the multiclass task is its class prior
    train = Y[:, 1][~np.isnan(Y[:, 1])].astype(int)
    test = Y_test[:, 1][~np.isnan(Y_test[:, 1])].astype(int)
    prior = np.bincount(train, minlength=3) / train.size
    assert gains.trivial_loss[1] == pytest.approx(-np.log(prior[test]).mean())
    assert np.isnan(gains.trivial_loss[2])  # a custom loss has none


def test_datasets_give_the_gains_of_their_arrays(tmp_path):
    X, Y, X_test, Y_test = make_data()
    ext = extractor()
    arrays = measure(ext, X, Y, GROUPS, X_test, Y_test)
    data = (PairDataset(X, Y), None, GROUPS, PairDataset(X_test, Y_test), None)
    streamed = measure(ext, *data, cache_dir=tmp_path)
    np.testing.assert_array_equal(streamed.y, arrays.y)
    np.testing.assert_array_equal(streamed.stl_loss, arrays.stl_loss)
    # cached trainings of a Dataset are found again
    again = measure(ext, *data, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.y, arrays.y)


def test_dataset_inputs_are_checked():
    X, Y, X_test, Y_test = make_data()
    ext = extractor()
    with pytest.raises(ValueError, match="Y was given too"):
        measure(ext, PairDataset(X, Y), Y, GROUPS, PairDataset(X_test, Y_test), None)
    with pytest.raises(ValueError, match="both as Datasets or both as arrays"):
        measure(ext, PairDataset(X, Y), None, GROUPS, X_test, Y_test)
    with pytest.raises(ValueError, match="X_test have 2 labels but those of X"):
        measure(
            ext, PairDataset(X, Y), None, GROUPS,
            PairDataset(X_test, Y_test[:, :2]), None,
        )  # fmt: skip
    Y_empty = Y.copy()
    Y_empty[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"task\(s\) \[2\] have no label in Y"):
        measure(
            ext, PairDataset(X, Y_empty), None, GROUPS,
            PairDataset(X_test, Y_test), None,
        )  # fmt: skip


class Refuses(TrainingCallback):
    """A user's recorder: any training notifying it fails."""

    def on_train_begin(self, loop):
        raise AssertionError("a gain training ran the user's callback")


def test_gain_trainings_run_without_the_users_callbacks():
    X, Y, X_test, Y_test = make_data()
    with_callback = extractor(callbacks=[Refuses()])
    gains = measure(with_callback, X, Y, [(0, 1)], X_test, Y_test)
    plain = measure(extractor(), X, Y, [(0, 1)], X_test, Y_test)
    np.testing.assert_array_equal(gains.y, plain.y)
    assert estimator_key(with_callback) == estimator_key(extractor())
    with pytest.raises(AssertionError, match="ran the user's callback"):
        with_callback.fit(X, Y)  # the extractor's own run does notify it


def test_a_memory_mapped_training_set_is_streamed(tmp_path, monkeypatch):
    X, Y, X_test, Y_test = make_data()
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    ext = extractor()
    arrays = measure(ext, X, Y, GROUPS, X_test, Y_test)
    sources = []
    original = HostArrays.__init__

    def spy(self, X, *args, **kwargs):
        original(self, X, *args, **kwargs)
        sources.append(X)

    monkeypatch.setattr(HostArrays, "__init__", spy)
    np.testing.assert_array_equal(
        measure(ext, X_map, Y, GROUPS, X_test, Y_test).y, arrays.y
    )
    # every training read the rows it trains on from the file (X has rows
    # without any label of a group, so a copy would have been a subset)
    trained = [X for X in sources if len(X) == len(X_map)]
    assert len(trained) >= 6 and all(np.shares_memory(X, X_map) for X in trained)


def test_torch_tensors_in_items():
    X, Y, X_test, Y_test = make_data()
    tensors = PairDataset(torch.as_tensor(X), torch.as_tensor(Y))
    gains = measure(
        extractor(), tensors, None, [(0, 1)], PairDataset(X_test, Y_test), None
    )
    assert gains.y.shape == (2,)
