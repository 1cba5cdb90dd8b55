"""make_measure: search_groups end to end on real (tiny) trainings."""

import gc
from pathlib import Path

import numpy as np
import pytest

from sklearn_etap import (
    TorchAffinityExtractor,
    make_measure,
    measure_gains,
    search_groups,
)
from sklearn_etap._gains import runner as _gains


def tiny_problem(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 4))
    Y = X[:, [0, 0, 1, 2]] + 0.2 * rng.normal(size=(60, 4))
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(4,), max_epochs=2, batch_size=16, device="cpu"
    )
    return ext, X[:40], Y[:40], X[40:], Y[40:]


class CountingFits:
    """Wraps ``_gains._fit_and_score``: counts the trainings really run."""

    def __init__(self):
        self.real = _gains._fit_and_score
        self.n_tasks_trained = []

    def __call__(self, extractor, X, Y, *args):
        self.n_tasks_trained.append(Y.shape[1])
        return self.real(extractor, X, Y, *args)


def test_search_on_real_trainings_matches_measure_gains(monkeypatch, tmp_path):
    ext, X, Y, X_test, Y_test = tiny_problem()
    counting = CountingFits()
    monkeypatch.setattr(_gains, "_fit_and_score", counting)
    measure = make_measure(
        ext, X, Y, X_test, Y_test, cache_dir=tmp_path, random_state=0
    )
    assert measure.cache_dir == tmp_path
    result = search_groups(
        measure,
        4,
        n_groups=2,
        n_measured=4,
        n_initial=2,
        batch_size=1,
        random_state=0,
    )
    assert len(result.measured) == 4
    # Four calls, but each single-task model is trained once: later calls
    # read it from the cache.
    assert counting.n_tasks_trained.count(1) == 4
    assert sum(n > 1 for n in counting.n_tasks_trained) == 4

    # The gains are those measure_gains gives for the same groups and seeds.
    direct = measure_gains(
        ext,
        X,
        Y,
        list(result.measured),
        X_test,
        Y_test,
        random_state=measure.seed,
        progress=False,
    )
    for i, group in enumerate(direct.groups):
        np.testing.assert_allclose(
            result.measured[group], direct.y[direct.row_group == i], rtol=1e-6
        )


def test_default_cache_is_private_and_removed_with_the_measurer():
    ext, X, Y, X_test, Y_test = tiny_problem()
    measure = make_measure(ext, X, Y, X_test, Y_test)
    cache = Path(measure.cache_dir)
    measure([(0, 1)])
    assert any(cache.iterdir())
    del measure
    gc.collect()
    assert not cache.exists()


def test_make_measure_validates_its_arguments():
    ext, X, Y, X_test, Y_test = tiny_problem()
    with pytest.raises(ValueError, match="n_seeds"):
        make_measure(ext, X, Y, X_test, Y_test, n_seeds=0)


def test_the_former_name_gains_measurer_warns_and_makes_the_same_measure():
    from sklearn_etap import gains_measurer

    ext, X, Y, X_test, Y_test = tiny_problem()
    with pytest.warns(FutureWarning, match="renamed make_measure"):
        measure = gains_measurer(ext, X, Y, X_test, Y_test, random_state=3)
    expected = make_measure(ext, X, Y, X_test, Y_test, random_state=3)
    assert measure.seed == expected.seed and measure.data is not None
