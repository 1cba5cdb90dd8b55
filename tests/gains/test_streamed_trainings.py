"""measure_gains generates its trainings as they run: nothing is built up
front for every seed, so a huge n_seeds starts at once and stops cleanly."""

import time
import tracemalloc

import numpy as np
import pytest

from sklearn_etap import TorchAffinityExtractor, measure_gains
from sklearn_etap._gains import runner as _runner


def make_extractor():
    return TorchAffinityExtractor(
        hidden_layer_sizes=(8,), max_epochs=2, batch_size=16, device="cpu"
    )


def test_a_billion_seeds_start_without_building_every_training(
    make_gain_data, monkeypatch
):
    calls = []

    def stop_at_the_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("stopped after two trainings")
        return np.ones(args[2].shape[1])

    monkeypatch.setattr(_runner, "_fit_and_score", stop_at_the_third)
    X, Y, X_test, Y_test = make_gain_data()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(RuntimeError, match="stopped after two trainings"):
            measure_gains(
                make_extractor(), X, Y, [(0, 1), (1, 2)], X_test, Y_test,
                n_seeds=10**9, random_state=0, progress=False,
            )  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Listing 5 * 10**9 trainings (and drawing 10**9 seeds) took 23 GB.
    assert peak < 50e6
    assert time.perf_counter() - start < 30
    assert len(calls) == 3


def test_streamed_seeds_are_those_drawn_at_once(make_gain_data, monkeypatch):
    monkeypatch.setattr(
        _runner, "_fit_and_score", lambda *args: np.ones(args[2].shape[1])
    )
    X, Y, X_test, Y_test = make_gain_data()
    gains = measure_gains(
        make_extractor(), X, Y, [(0, 1)], X_test, Y_test,
        n_seeds=300, random_state=5, progress=False,
    )  # fmt: skip
    expected = np.random.RandomState(5).randint(np.iinfo(np.int32).max, size=300)
    np.testing.assert_array_equal(gains.seeds, expected)
    assert gains.stl_loss_per_seed.shape == (4, 300)
    assert np.isnan(gains.stl_loss_per_seed[2:]).all()  # tasks in no group
    assert (gains.mtl_loss_per_seed == 1).all()
