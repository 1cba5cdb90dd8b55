"""`etap run` names a value too large for the models, wherever the split puts it."""

import numpy as np
import pandas as pd
import pytest

from sklearn_etap._cli import main


@pytest.mark.parametrize("column", ["f2", "t2"])
@pytest.mark.parametrize("row", range(6))  # in the training or the test split
def test_a_huge_value_is_named_in_one_line(tmp_path, capsys, column, row):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    frame = pd.DataFrame(
        np.c_[X, X @ rng.normal(size=(3, 3))],
        columns=["f1", "f2", "f3", "t1", "t2", "t3"],
    )
    frame.loc[row, column] = 1e200
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    args = ["run", "--data", str(path), "--target", "t1", "--target", "t2"]
    args += ["--target", "t3", "--groups", "3", "--budget", "2", "--quiet"]
    status = main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "too large" in err and "e+200" in err, err
    assert "NaN" not in err and "infinity" not in err
    assert len(err.strip().splitlines()) == 1
