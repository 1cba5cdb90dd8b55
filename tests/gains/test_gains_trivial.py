"""Every model against the trivial predictor: its losses, the flags, the warning."""

import json
import warnings

import numpy as np
import pytest

from sklearn_etap import (
    MeasuredGains,
    TorchAffinityExtractor,
    TrivialPredictorWarning,
    measure_gains,
    trivial_losses,
)
from sklearn_etap._gains import runner as _runner


def test_trivial_losses_match_a_hand_computation():
    Y = np.array([[1.0, 0.0, 5.0], [3.0, 1.0, np.nan], [np.nan, 1.0, 7.0]])
    Y_test = np.array([[0.0, 1.0, np.nan], [5.0, 0.0, 8.0], [2.0, np.nan, 4.0]])
    losses = trivial_losses(Y, Y_test)
    # task 0: training mean 2 over the labels present
    assert losses[0] == pytest.approx(((0 - 2) ** 2 + (5 - 2) ** 2 + 0) / 3)
    # task 1 (0/1 labels, binary): base rate 2/3, cross-entropy on labels 1, 0
    rate = 2 / 3
    assert losses[1] == pytest.approx(-(np.log(rate) + np.log(1 - rate)) / 2)
    # task 2: mean 6, test labels 8 and 4
    assert losses[2] == pytest.approx((4 + 4) / 2)


def test_trivial_losses_follow_the_declared_task_types():
    Y = np.array([[0.0], [1.0], [1.0], [1.0]])
    Y_test = np.array([[1.0], [0.0]])
    as_regression = trivial_losses(Y, Y_test, ["regression"])
    assert as_regression[0] == pytest.approx((0.25**2 + 0.75**2) / 2)
    # a class absent from the training labels: large but finite
    assert np.isfinite(trivial_losses(np.ones((3, 1)), np.zeros((2, 1)), "binary"))


def test_measured_gains_carry_the_trivial_losses_of_the_test_split(make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(16,), max_epochs=30, device="cpu", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrivialPredictorWarning)
        gains = measure_gains(ext, X, Y, [(0, 1)], X_test, Y_test, progress=False)
    expected = trivial_losses(Y, Y_test)
    np.testing.assert_allclose(gains.trivial_loss[:2], expected[:2])
    assert np.isnan(gains.trivial_loss[2:]).all()  # tasks in no group
    # Linear targets, 30 epochs: every model learned, nothing flagged.
    assert (gains.stl_loss[:2] < gains.trivial_loss[:2]).all()
    assert not gains.stl_no_better_than_trivial.any()
    assert not gains.mtl_no_better_than_trivial.any()


def fake_losses(Y_all, stl, mtl):
    """A stand-in training returning chosen losses: STL by task, MTL per group."""

    def train(extractor, X, Y, X_test, Y_test, seed, caller_pid):
        # The label columns a training sees tell which tasks it trains.
        cols = tuple(
            next(
                t
                for t, column in enumerate(Y_all.T)
                if np.array_equal(column, seen, equal_nan=True)
            )
            for seen in Y.T
        )
        return np.array(stl[cols] if len(cols) == 1 else mtl[cols], dtype=float)

    return train


def test_a_single_task_model_worse_than_trivial_is_flagged_with_a_warning(
    make_gain_data, monkeypatch
):
    X, Y, X_test, Y_test = make_gain_data()
    trivial = trivial_losses(Y, Y_test)
    stl = {(0,): [trivial[0] * 2], (1,): [trivial[1] / 2], (2,): [trivial[2] / 2]}
    mtl = {(0, 1): [trivial[0] / 2, trivial[1] * 3], (1, 2): [0.1, 0.1]}
    monkeypatch.setattr(_runner, "_fit_and_score", fake_losses(Y, stl, mtl))
    ext = TorchAffinityExtractor(device="cpu", random_state=0)
    with pytest.warns(TrivialPredictorWarning, match="1 of 3 task.*max_epochs"):
        gains = measure_gains(
            ext, X, Y, [(0, 1), (1, 2)], X_test, Y_test, progress=False, n_jobs=1
        )
    assert gains.stl_no_better_than_trivial[:3].tolist() == [True, False, False]
    # rows: (0,1)->0, (0,1)->1, (1,2)->1, (1,2)->2
    assert gains.mtl_no_better_than_trivial.tolist() == [False, True, False, False]
    frame = gains.to_frame()
    assert frame["stl_no_better_than_trivial"].tolist() == [True, False, False, False]
    np.testing.assert_allclose(frame["trivial_loss"], trivial[[0, 1, 1, 2]])


def test_trivial_losses_and_flags_survive_save_and_load(tmp_path):
    gains = MeasuredGains(
        groups=[(0, 1)],
        n_tasks=3,
        seeds=np.array([1]),
        stl_loss_per_seed=np.array([[2.0], [0.5], [np.nan]]),
        mtl_loss_per_seed=np.array([[1.0], [0.7]]),
        trivial_loss=np.array([1.5, 0.6, np.nan]),
    )
    assert gains.stl_no_better_than_trivial.tolist() == [True, False, False]
    assert gains.mtl_no_better_than_trivial.tolist() == [False, True]
    gains.save(tmp_path / "g.csv")
    back = MeasuredGains.load(tmp_path / "g.csv")
    np.testing.assert_array_equal(back.trivial_loss, gains.trivial_loss)
    assert back.stl_no_better_than_trivial.tolist() == [True, False, False]

    # A file saved before trivial losses existed loads with none, unflagged.
    sidecar = json.loads((tmp_path / "g.json").read_text())
    del sidecar["trivial_loss"]
    (tmp_path / "g.json").write_text(json.dumps(sidecar))
    old = MeasuredGains.load(tmp_path / "g.csv")
    assert np.isnan(old.trivial_loss).all()
    assert not old.stl_no_better_than_trivial.any()


def test_a_trivial_loss_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="trivial_loss has shape"):
        MeasuredGains(
            groups=[(0, 1)],
            n_tasks=2,
            seeds=np.array([1]),
            stl_loss_per_seed=np.ones((2, 1)),
            mtl_loss_per_seed=np.ones((2, 1)),
            trivial_loss=np.ones(3),
        )
