"""`etap run`'s own-data reader: NPZ and Parquet layouts, names, task types."""

import numpy as np
import pandas as pd
import pytest

from sklearn_etap._cli.data import UsageError, load_table, read_table


def test_npz_with_X_and_Y_names_tasks_and_features(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    Y = np.c_[X[:, 0], X[:, 1] > 0]
    path = tmp_path / "data.npz"
    np.savez(path, X=X, Y=Y, task_names=np.array(["level", "above"]))
    data = load_table(path, None, None, max_samples=None, seed=0)
    assert data.task_names == ["level", "above"]
    assert data.task_types == ["regression", "binary"]
    assert data.feature_names == ["x0", "x1", "x2"]
    assert len(data.X_train) + len(data.X_test) == 100
    # Standardized with the training rows' statistics.
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-6)
    # --target picks among Y's columns by name.
    picked = load_table(path, ["above", "level"], None, max_samples=None, seed=0)
    assert picked.task_names == ["above", "level"]


def test_npz_of_columns_reads_like_a_csv(tmp_path):
    rng = np.random.RandomState(1)
    path = tmp_path / "cols.npz"
    np.savez(path, a=rng.normal(size=50), b=rng.normal(size=50), f=rng.normal(size=50))
    data = load_table(path, ["a", "b"], None, max_samples=None, seed=0)
    assert data.feature_names == ["f"] and data.task_names == ["a", "b"]
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros(3), b=np.zeros((3, 2)))
    with pytest.raises(UsageError, match="1-D arrays of one length"):
        read_table(bad)


def test_parquet_goes_through_pandas_and_a_missing_engine_is_one_line(
    tmp_path, monkeypatch
):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [0.0, 1.0]})
    monkeypatch.setattr(pd, "read_parquet", lambda p: frame if p == path else None)
    assert read_table(path) is frame

    def no_engine(p):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow'.")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(UsageError, match="usable engine"):
        read_table(path)


def test_a_real_parquet_file_reads_like_the_same_csv(tmp_path):
    rng = np.random.RandomState(3)
    frame = pd.DataFrame({"f": rng.normal(size=60), "g": rng.normal(size=60)})
    frame["up"] = (frame["f"] > 0).astype(float)
    frame["level"] = frame["f"] - frame["g"]
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    from_parquet = load_table(
        tmp_path / "d.parquet", ["up", "level"], None, max_samples=None, seed=0
    )
    from_csv = load_table(
        tmp_path / "d.csv", ["up", "level"], None, max_samples=None, seed=0
    )
    assert from_parquet.task_names == ["up", "level"]
    assert from_parquet.task_types == ["binary", "regression"]
    assert from_parquet.feature_names == ["f", "g"]
    np.testing.assert_allclose(from_parquet.X_train, from_csv.X_train)
    np.testing.assert_allclose(from_parquet.Y_test, from_csv.Y_test)


def test_missing_labels_are_nan_and_rows_without_any_are_dropped(tmp_path):
    rng = np.random.RandomState(2)
    frame = pd.DataFrame({"f": rng.normal(size=80)})
    frame["a"] = frame["f"] + rng.normal(size=80)
    frame["b"] = -frame["f"]
    frame.loc[:9, ["a", "b"]] = np.nan  # 10 rows with no label at all
    frame.loc[10:19, "a"] = np.nan  # 10 rows missing a only
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    data = load_table(path, ["a", "b"], None, max_samples=None, seed=0)
    Y = np.vstack([data.Y_train, data.Y_test])
    assert len(Y) == 70 and np.isnan(Y[:, 0]).sum() == 10
