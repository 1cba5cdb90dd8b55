"""measure_gains: seeds from the extractor; failing trainings named by dataset task."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_etap import TorchAffinityExtractor, TrivialPredictorWarning, measure_gains
from sklearn_etap._affinity.safeguards import NonFiniteLossError
from sklearn_etap._gains import runner as _runner

TRAIN_ONE_MODEL = _runner._fit_and_score


def make_extractor(**params):
    settings = {"hidden_layer_sizes": (8,), "max_epochs": 3, "batch_size": 16}
    return TorchAffinityExtractor(device="cpu", **{**settings, **params})


def test_gains_are_seeded_by_the_extractor(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    args = (X, Y, [(0, 1)], X_test, Y_test)
    first = measure_gains(make_extractor(random_state=0), *args, progress=False)
    again = measure_gains(make_extractor(random_state=0), *args, progress=False)
    explicit = measure_gains(
        make_extractor(random_state=None), *args, random_state=0, progress=False
    )
    other = measure_gains(make_extractor(random_state=1), *args, progress=False)

    np.testing.assert_array_equal(first.seeds, again.seeds)
    np.testing.assert_array_equal(first.y, again.y)
    np.testing.assert_array_equal(first.mtl_loss_per_seed, again.mtl_loss_per_seed)
    # the extractor's seed acts as measure_gains' own random_state would
    np.testing.assert_array_equal(first.seeds, explicit.seeds)
    np.testing.assert_array_equal(first.y, explicit.y)
    assert not np.array_equal(first.seeds, other.seeds)
    assert first.metadata["random_state"] == 0


def test_measure_gains_random_state_wins_over_the_extractors(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    args = (X, Y, [(0, 1)], X_test, Y_test)
    a = measure_gains(
        make_extractor(random_state=0), *args, random_state=3, progress=False
    )
    b = measure_gains(
        make_extractor(random_state=1), *args, random_state=3, progress=False
    )
    np.testing.assert_array_equal(a.y, b.y)


def test_n_jobs_is_keyword_only(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    with pytest.raises(TypeError, match="positional"):
        measure_gains(make_extractor(), X, Y, [(0, 1)], X_test, Y_test, 1)


def diverging_labels(make_gain_data, task):
    X, Y, X_test, Y_test = make_gain_data()
    Y = Y.copy()
    Y[:, task] *= 1e30  # inf in float32: the loss is NaN from the first step
    return X, Y, X_test, Y_test


def test_a_diverging_single_task_training_names_the_dataset_task(make_gain_data):
    X, Y, X_test, Y_test = diverging_labels(make_gain_data, 3)
    frame = pd.DataFrame(Y, columns=["a", "b", "c", "d"])
    with pytest.raises(
        ValueError,
        match=r"single-task training of task 3, seed \d+: the training loss of "
        r"task 3 \('d'\) \(nan\) became non-finite in epoch 1",
    ):
        measure_gains(
            make_extractor(),
            X,
            frame,
            [(0, 3)],
            X_test,
            Y_test,
            random_state=0,
            progress=False,
        )


def test_a_diverging_group_training_names_task_group_and_seed(
    make_gain_data, monkeypatch
):
    # Only the group model of (0, 3) diverges, in its second column (task 3);
    # the training itself reported "task 1" (its column).
    X, Y, X_test, Y_test = make_gain_data()

    def group_diverges(extractor, X, Y, X_test, Y_test, seed, pid):
        if Y.shape[1] == 2:
            raise NonFiniteLossError([1], [float("inf")], 4)
        return TRAIN_ONE_MODEL(extractor, X, Y, X_test, Y_test, seed, pid)

    monkeypatch.setattr(_runner, "_fit_and_score", group_diverges)
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    with pytest.raises(
        ValueError,
        match=rf"training of group \(0, 3\), seed {seed}: the training loss of "
        r"task 3 \(inf\) became non-finite in epoch 5",
    ):
        measure_gains(
            make_extractor(),
            X,
            Y,
            [(0, 3)],
            X_test,
            Y_test,
            random_state=0,
            progress=False,
        )


def test_a_blown_up_training_warns_naming_task_group_and_seed(tmp_path, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    ext = make_extractor(optimizer="adam", learning_rate=1e3, random_state=0)
    args = (ext, X, Y, [(0, 3)], X_test, Y_test)
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    pattern = (
        rf"3 of 3 trainings blew up .* training of group \(0, 3\), seed {seed}: "
        r"task 0 [\d.e+]+ -> [\d.e+]+, task 3 [\d.e+]+ -> [\d.e+]+"
    )
    with pytest.warns(ConvergenceWarning, match=pattern):
        measure_gains(*args, cache_dir=tmp_path, progress=False)
    # a cached blown-up training is reported again, and read without complaint
    with pytest.warns(ConvergenceWarning, match=pattern) as record:
        measure_gains(*args, cache_dir=tmp_path, progress=False)
    # (the blown-up single-task models are also worse than the trivial predictor)
    categories = [w.category for w in record]
    assert categories == [ConvergenceWarning, TrivialPredictorWarning]


def test_a_sound_training_does_not_warn(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        measure_gains(
            make_extractor(max_epochs=10, random_state=0),
            X,
            Y,
            [(0, 3), (1, 2)],
            X_test,
            Y_test,
            progress=False,
        )
