"""measure_gains: gains from STL and MTL test losses, parallel and resumable."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning

from sklearn_etap import (
    MeasuredGains,
    TorchAffinityExtractor,
    encode_groups,
    group_row_ids,
    measure_gains,
)
from sklearn_etap._gains import runner as _gains


def make_extractor(**params):
    settings = {
        "hidden_layer_sizes": (8,),
        "max_epochs": 5,
        "batch_size": 16,
        "device": "cpu",
    }
    settings.update(params)
    return TorchAffinityExtractor(**settings)


def reference_losses(extractor, X, Y, X_test, Y_test, cols, seed):
    """Test losses of one model trained by hand as the docstring says."""
    Y, Y_test = Y[:, cols], Y_test[:, cols]
    rows = ~np.all(np.isnan(Y), axis=1)
    test_rows = ~np.all(np.isnan(Y_test), axis=1)
    model = clone(extractor).set_params(
        affinity=None, random_state=int(seed), verbose=False
    )
    model.fit(X[rows], Y[rows])
    return model.task_losses(X_test[test_rows], Y_test[test_rows])


TRAIN_ONE_MODEL = _gains._fit_and_score


class SimulatedCrash(Exception):
    pass


class CountingTraining:
    """Stands in for ``_gains._fit_and_score``: counts, optionally fails."""

    def __init__(self, fail_after=None):
        self.calls = 0
        self.fail_after = fail_after

    def __call__(self, *args):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise SimulatedCrash("simulated interruption")
        self.calls += 1
        return TRAIN_ONE_MODEL(*args)


def assert_same_gains(a, b):
    assert a.groups == b.groups
    np.testing.assert_array_equal(a.seeds, b.seeds)
    np.testing.assert_array_equal(a.stl_loss_per_seed, b.stl_loss_per_seed)
    np.testing.assert_array_equal(a.mtl_loss_per_seed, b.mtl_loss_per_seed)


def test_copies_of_one_task_gain_from_training_together():
    # Three copies of one task, each labelled on different samples: the group
    # model learns the shared function from three times the data its STL
    # models see, so the gains are positive in expectation.
    rng = np.random.RandomState(0)
    n_train, n_test = 60, 60
    X = rng.normal(size=(n_train + n_test, 8))
    y = 2 * np.tanh(X @ rng.normal(size=8)) + 0.2 * rng.normal(size=len(X))
    Y = np.full((n_train, 3), np.nan)
    for copy in range(3):
        part = slice(20 * copy, 20 * (copy + 1))
        Y[part, copy] = y[part]
    Y_test = np.repeat(y[n_train:, None], 3, axis=1)
    ext = make_extractor(hidden_layer_sizes=(16,), max_epochs=30)

    gains = measure_gains(
        ext,
        X[:n_train],
        Y,
        [(0, 1, 2)],
        X[n_train:],
        Y_test,
        n_seeds=3,
        random_state=0,
        progress=False,
    )

    assert gains.y_per_seed.shape == (3, 3)
    assert gains.y.mean() > 0
    assert (gains.y_per_seed > 0).mean() > 0.5


def test_losses_are_those_of_independently_trained_models(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    ext = make_extractor()
    groups = [(0, 2), (0, 1, 2)]

    gains = measure_gains(
        ext,
        X,
        Y,
        groups,
        X_test,
        Y_test,
        n_seeds=2,
        random_state=0,
        progress=False,
    )

    for s, seed in enumerate(gains.seeds):
        for t in (0, 1, 2):
            expected = reference_losses(ext, X, Y, X_test, Y_test, [t], seed)
            assert gains.stl_loss_per_seed[t, s] == expected[0]
        rows = np.flatnonzero(gains.row_group == 1)
        expected = reference_losses(ext, X, Y, X_test, Y_test, [0, 1, 2], seed)
        np.testing.assert_array_equal(gains.mtl_loss_per_seed[rows, s], expected)
    # Task 3 is in no group: no STL model, NaN loss.
    assert np.all(np.isnan(gains.stl_loss_per_seed[3]))
    assert np.isnan(gains.stl_loss[3])


def test_gain_of_every_row_is_the_relative_loss_reduction(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    groups = [(1, 3), (0, 1, 2, 3), (0, 2)]

    gains = measure_gains(
        make_extractor(),
        X,
        Y,
        groups,
        X_test,
        Y_test,
        n_seeds=2,
        random_state=1,
        progress=False,
    )

    np.testing.assert_array_equal(gains.X, encode_groups(groups, 4))
    np.testing.assert_array_equal(gains.row_group, group_row_ids(groups))
    row = 0
    for group in groups:
        for task in group:
            assert gains.row_task[row] == task
            for s in range(2):
                stl = gains.stl_loss_per_seed[task, s]
                mtl = gains.mtl_loss_per_seed[row, s]
                assert gains.y_per_seed[row, s] == pytest.approx((stl - mtl) / stl)
            assert gains.y[row] == pytest.approx(gains.y_per_seed[row].mean())
            assert gains.y_std[row] == pytest.approx(
                np.std(gains.y_per_seed[row], ddof=1)
            )
            row += 1
    assert row == len(gains.y) == len(gains.mtl_loss)
    np.testing.assert_allclose(gains.stl_loss, gains.stl_loss_per_seed.mean(axis=1))
    np.testing.assert_allclose(gains.mtl_loss, gains.mtl_loss_per_seed.mean(axis=1))


def test_one_seed_gain_equals_formula_on_returned_losses(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data(seed=3)
    gains = measure_gains(
        make_extractor(),
        X,
        Y,
        [(0, 1), (2, 3)],
        X_test,
        Y_test,
        random_state=0,
        progress=False,
    )
    stl = gains.stl_loss[gains.row_task]
    np.testing.assert_allclose(gains.y, (stl - gains.mtl_loss) / stl)
    assert np.all(np.isnan(gains.y_std))


def test_same_random_state_same_gains_and_other_seed_other_gains(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    args = (make_extractor(), X, Y, [(0, 1)], X_test, Y_test)
    first = measure_gains(*args, random_state=5, progress=False)
    again = measure_gains(*args, random_state=5, progress=False)
    other = measure_gains(*args, random_state=6, progress=False)
    assert_same_gains(first, again)
    assert not np.array_equal(first.mtl_loss_per_seed, other.mtl_loss_per_seed)


@pytest.mark.slow
def test_parallel_processes_match_serial_exactly(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    args = (make_extractor(), X, Y, [(0, 1), (1, 2, 3)], X_test, Y_test)
    serial = measure_gains(*args, random_state=0, progress=False)
    parallel = measure_gains(*args, n_jobs=2, random_state=0, progress=False)
    assert_same_gains(serial, parallel)


def test_interrupted_run_resumes_from_cache(tmp_path, monkeypatch, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    groups = [(0, 1), (1, 2), (0, 1, 2, 3)]
    args = (make_extractor(), X, Y, groups, X_test, Y_test)
    n_trainings = 2 * (4 + len(groups))  # 2 seeds x (4 STL + 3 groups)
    uncached = measure_gains(*args, n_seeds=2, random_state=0, progress=False)

    interrupted = CountingTraining(fail_after=5)
    monkeypatch.setattr(_gains, "_fit_and_score", interrupted)
    with pytest.raises(SimulatedCrash):
        measure_gains(
            *args, n_seeds=2, random_state=0, cache_dir=tmp_path, progress=False
        )
    assert interrupted.calls == 5

    resumed = CountingTraining()
    monkeypatch.setattr(_gains, "_fit_and_score", resumed)
    result = measure_gains(
        *args, n_seeds=2, random_state=0, cache_dir=tmp_path, progress=False
    )
    assert resumed.calls == n_trainings - 5
    assert_same_gains(result, uncached)

    finished = CountingTraining()
    monkeypatch.setattr(_gains, "_fit_and_score", finished)
    again = measure_gains(
        *args, n_seeds=2, random_state=0, cache_dir=tmp_path, progress=False
    )
    assert finished.calls == 0
    assert_same_gains(again, uncached)


def test_cache_reuses_only_matching_trainings(tmp_path, monkeypatch, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    ext = make_extractor()

    def measure(extractor, Y, groups):
        return measure_gains(
            extractor,
            X,
            Y,
            groups,
            X_test,
            Y_test,
            random_state=0,
            cache_dir=tmp_path,
            progress=False,
        )

    measure(ext, Y, [(0, 1), (1, 2)])

    counter = CountingTraining()
    monkeypatch.setattr(_gains, "_fit_and_score", counter)
    # Same settings, one group already measured and one new: STL models of
    # tasks 0..2 and group (0, 1) come from the cache, task 3 and (0, 3) not.
    measure(ext, Y, [(0, 1), (0, 3)])
    assert counter.calls == 2

    counter.calls = 0
    measure(clone(ext).set_params(max_epochs=4), Y, [(0, 1)])
    assert counter.calls == 3

    counter.calls = 0
    Y_changed = Y.copy()
    Y_changed[1, 1] = 7.0
    measure(ext, Y_changed, [(0, 1)])
    assert counter.calls == 2  # STL of task 1 and the group; task 0 is cached


def test_per_task_parameters_follow_the_group_columns(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    Y[:, 2] = (Y[:, 2] > 0).astype(float)
    Y_test[:, 2] = (Y_test[:, 2] > 0).astype(float)
    Y[0] = np.nan
    types = ["regression", "regression", "binary", "regression"]
    ext = make_extractor(task_types=types)

    gains = measure_gains(
        ext, X, Y, [(1, 2)], X_test, Y_test, random_state=0, progress=False
    )

    seed = gains.seeds[0]
    stl = reference_losses(
        make_extractor(task_types=["binary"]), X, Y, X_test, Y_test, [2], seed
    )
    assert gains.stl_loss[2] == stl[0]
    mtl = reference_losses(
        make_extractor(task_types=["regression", "binary"]),
        X,
        Y,
        X_test,
        Y_test,
        [1, 2],
        seed,
    )
    np.testing.assert_array_equal(gains.mtl_loss, mtl)


def test_zero_stl_loss_gives_nan_gain_and_warns(monkeypatch, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()

    def perfect_single_task_models(extractor, X, Y, X_test, Y_test, seed, pid):
        return np.zeros(Y.shape[1]) if Y.shape[1] == 1 else np.ones(Y.shape[1])

    monkeypatch.setattr(_gains, "_fit_and_score", perfect_single_task_models)
    with pytest.warns(RuntimeWarning, match=r"STL test loss is 0 or NaN"):
        gains = measure_gains(
            make_extractor(),
            X,
            Y,
            [(0, 1)],
            X_test,
            Y_test,
            random_state=0,
            progress=False,
        )
    assert np.all(np.isnan(gains.y))


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"groups": [(0,), (1, 2)]}, ValueError, "single task.*at least 2 tasks"),
        ({"groups": []}, ValueError, "groups is empty"),
        ({"groups": [(0, 9)]}, ValueError, "out of range"),
        ({"groups": [(0, 1), (1, 0)]}, ValueError, "duplicates"),
        (
            {"groups": np.array([[True, True, False, False]])},
            TypeError,
            "not a boolean membership matrix",
        ),
        ({"Y": np.zeros(40)}, ValueError, "must be 2-D"),
        ({"Y_test": np.zeros((30, 3))}, ValueError, "Y_test has 3 task columns"),
        ({"X_test": np.zeros((30, 2))}, ValueError, "X_test has 2 features"),
        ({"Y": np.zeros((39, 4))}, ValueError, "inconsistent numbers of samples"),
        ({"n_seeds": 0}, ValueError, "'n_seeds' parameter.*range \\[1, inf\\)"),
        ({"groups": None}, ValueError, "'groups' parameter.*Got None"),
        ({"Y": np.zeros((40, 0))}, ValueError, r"Y has shape \(40, 0\): no task"),
        (
            {"Y_test": np.zeros((30, 0))},
            ValueError,
            r"Y_test has shape \(30, 0\): no task",
        ),
        ({"extractor": object()}, TypeError, "has no get_params"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(
    change, error, match, make_gain_data
):
    X, Y, X_test, Y_test = make_gain_data()
    kwargs = {
        "extractor": make_extractor(),
        "X": X,
        "Y": Y,
        "groups": [(0, 1)],
        "X_test": X_test,
        "Y_test": Y_test,
        "progress": False,
    }
    kwargs.update(change)
    with pytest.raises(error, match=match):
        measure_gains(**kwargs)


def test_task_without_test_labels_is_rejected(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    Y_test[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"task\(s\) \[1\] have no label in Y_test"):
        measure_gains(make_extractor(), X, Y, [(0, 1)], X_test, Y_test, progress=False)


def test_save_load_round_trip_and_frame(tmp_path, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    gains = measure_gains(
        make_extractor(),
        X,
        Y,
        [(0, 3), (1, 2, 3)],
        X_test,
        Y_test,
        n_seeds=2,
        random_state=0,
        progress=False,
    )

    path = tmp_path / "gains.csv"
    gains.save(path)
    loaded = MeasuredGains.load(path)

    assert_same_gains(loaded, gains)
    np.testing.assert_array_equal(loaded.y, gains.y)
    assert loaded.n_tasks == 4
    assert loaded.metadata == gains.metadata
    assert loaded.metadata["extractor"] == "TorchAffinityExtractor"
    frame = gains.to_frame()
    assert frame["group"].tolist() == ["0-3", "0-3", "1-2-3", "1-2-3", "1-2-3"]
    np.testing.assert_array_equal(frame["gain"], gains.y)
    np.testing.assert_array_equal(frame["gain_seed1"], gains.y_per_seed[:, 1])
    assert (tmp_path / "gains.json").exists()


def test_progress_bar_over_trainings_unless_quiet(capsys, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    args = (make_extractor(max_epochs=1), X, Y, [(0, 1)], X_test, Y_test)
    measure_gains(*args, random_state=0, progress=False)
    assert capsys.readouterr().err == ""
    measure_gains(*args, random_state=0, progress=True)
    err = capsys.readouterr().err
    assert "trainings" in err and "3/3" in err


def test_failed_training_raises_or_gives_error_score(monkeypatch, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()

    def groups_diverge(extractor, X, Y, *rest):
        if Y.shape[1] > 1:
            raise ValueError("the training loss became non-finite")
        return TRAIN_ONE_MODEL(extractor, X, Y, *rest)

    monkeypatch.setattr(_gains, "_fit_and_score", groups_diverge)
    args = (make_extractor(), X, Y, [(0, 1), (2, 3)], X_test, Y_test)
    with pytest.raises(ValueError, match="non-finite"):
        measure_gains(*args, random_state=0, progress=False)

    with (
        pytest.warns(FitFailedWarning, match=r"2 of 6 trainings failed"),
        pytest.warns(RuntimeWarning, match="NaN"),
    ):
        gains = measure_gains(*args, random_state=0, error_score=np.nan, progress=False)
    assert np.all(np.isnan(gains.mtl_loss))
    assert np.all(np.isfinite(gains.stl_loss))
    assert gains.metadata["n_failed_trainings"] == 2

    with pytest.raises(ValueError, match="'error_score' parameter"):
        measure_gains(*args, error_score="ignore", progress=False)


def test_cache_tells_apart_tasks_with_equal_labels_but_other_settings(
    tmp_path, make_gain_data
):
    # Tasks 0 and 1 have the same labels but other task types: their STL
    # models are different trainings and must not share a cache entry.
    X, Y, X_test, Y_test = make_gain_data()
    for targets in (Y, Y_test):
        targets[:, 0] = (np.nan_to_num(targets[:, 2]) > 0).astype(float)
        targets[:, 1] = targets[:, 0]
    Y[0] = np.nan
    ext = make_extractor(
        task_types=["regression", "binary", "regression", "regression"]
    )
    args = (ext, X, Y, [(0, 2), (1, 2)], X_test, Y_test)
    uncached = measure_gains(*args, random_state=0, progress=False)
    assert uncached.stl_loss[0] != uncached.stl_loss[1]

    measure_gains(*args, random_state=0, cache_dir=tmp_path, progress=False)
    resumed = measure_gains(*args, random_state=0, cache_dir=tmp_path, progress=False)
    assert_same_gains(resumed, uncached)
