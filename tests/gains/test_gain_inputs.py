"""measure_gains and MeasuredGains.load name the real problem of bad inputs."""

import numpy as np
import pandas as pd
import pytest

from sklearn_etap import MeasuredGains, TorchAffinityExtractor, measure_gains


def make_extractor():
    return TorchAffinityExtractor(
        hidden_layer_sizes=(8,), max_epochs=2, batch_size=16, device="cpu"
    )


def frames(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data(n_tasks=3)
    features = [f"x{i}" for i in range(X.shape[1])]
    tasks = ["a", "b", "c"]
    return (
        pd.DataFrame(X, columns=features),
        pd.DataFrame(Y, columns=tasks),
        pd.DataFrame(X_test, columns=features),
        pd.DataFrame(Y_test, columns=tasks),
    )


def run(X, Y, X_test, Y_test, **kwargs):
    return measure_gains(
        make_extractor(), X, Y, [(0, 1)], X_test, Y_test, random_state=0,
        progress=False, **kwargs,
    )  # fmt: skip


def test_reordered_test_columns_are_refused(make_gain_data):
    X, Y, X_test, Y_test = frames(make_gain_data)
    with pytest.raises(ValueError, match=r"Y_test has the same columns in another"):
        run(X, Y, X_test, Y_test[["c", "b", "a"]])
    with pytest.raises(ValueError, match=r"X_test has the same columns in another"):
        run(X, Y, X_test[X_test.columns[::-1]], Y_test)
    renamed = Y_test.rename(columns={"c": "z"})
    with pytest.raises(ValueError, match=r"Y_test has other columns.*\['c'\]"):
        run(X, Y, X_test, renamed)


def test_columns_in_the_same_order_or_arrays_are_accepted(make_gain_data):
    X, Y, X_test, Y_test = frames(make_gain_data)
    by_frame = run(X, Y, X_test, Y_test[["a", "b", "c"]])
    by_array = run(X.to_numpy(), Y.to_numpy(), X_test.to_numpy(), Y_test.to_numpy())
    np.testing.assert_array_equal(
        by_frame.mtl_loss_per_seed, by_array.mtl_loss_per_seed
    )


@pytest.mark.parametrize("name", ["X", "X_test", "Y", "Y_test"])
def test_values_too_large_for_float32_are_named(make_gain_data, name):
    data = dict(zip(["X", "Y", "X_test", "Y_test"], make_gain_data(n_tasks=3)))
    data[name] = data[name].copy()
    data[name][3, 1] = 1e200
    with pytest.raises(ValueError, match=rf"^{name} holds 1e\+200 \(column 1\), too large for float32"):  # fmt: skip # noqa: E501
        run(data["X"], data["Y"], data["X_test"], data["Y_test"])


@pytest.fixture
def saved(tmp_path):
    gains = MeasuredGains(
        groups=[(0, 1)],
        n_tasks=2,
        seeds=np.array([7]),
        stl_loss_per_seed=np.array([[1.0], [2.0]]),
        mtl_loss_per_seed=np.array([[0.5], [3.0]]),
    )
    path = tmp_path / "gains.csv"
    gains.save(path)
    return gains, path


def test_load_names_a_broken_sidecar(saved):
    gains, path = saved
    np.testing.assert_array_equal(MeasuredGains.load(path).y, gains.y)
    sidecar = path.with_suffix(".json")
    sidecar.write_text('{"n_tasks": 2, "seeds": [7')
    with pytest.raises(ValueError, match=rf"{sidecar} is not the JSON sidecar"):
        MeasuredGains.load(path)
    sidecar.write_text("[1, 2]")
    with pytest.raises(ValueError, match=rf"{sidecar} is JSON but not the sidecar"):
        MeasuredGains.load(path)


def test_load_of_a_directory_says_it_is_one(saved):
    _, path = saved
    with pytest.raises(ValueError, match=rf"{path.parent} is a directory"):
        MeasuredGains.load(path.parent)


def test_load_without_sidecar_names_it(saved):
    _, path = saved
    path.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match=r"gains\.json not found"):
        MeasuredGains.load(path)
