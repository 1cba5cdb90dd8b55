"""The Displays draw what they are given, on the Agg backend (no window)."""

import builtins

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sklearn_etap import (  # noqa: E402
    AffinityMatrixDisplay,
    ETAPRegressor,
    GainPredictionDisplay,
    TorchAffinityExtractor,
    encode_groups,
    group_affinity,
    sample_groups,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_affinity_heatmap_shows_the_matrix_and_names():
    A = np.array([[9.0, 0.2, -0.1], [0.1, 9.0, 0.3], [-0.2, np.nan, 9.0]])
    disp = AffinityMatrixDisplay(A, task_names=["a", "b", "c"]).plot()
    shown = disp.im_.get_array()
    # Off-diagonal values as given, the diagonal and the NaN pair masked.
    np.testing.assert_array_equal(shown[0, 1:], [0.2, -0.1])
    assert shown.mask[0, 0] and shown.mask[1, 1] and shown.mask[2, 1]
    # Colours centred on 0 and scaled by the off-diagonal values only.
    assert disp.im_.norm.vmin == -0.3 and disp.im_.norm.vmax == 0.3
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == ["a", "b", "c"]
    assert disp.text_[1, 2].get_text() == "0.3" and disp.text_[0, 0].get_text() == ""
    assert disp.figure_ is disp.ax_.figure and disp.colorbar_ is not None

    full = AffinityMatrixDisplay(A).plot(show_diagonal=True, include_values=False)
    assert full.im_.norm.vmax == 9.0 and full.text_ is None
    assert [t.get_text() for t in full.ax_.get_xticklabels()] == ["0", "1", "2"]
    # unnamed tasks are the integers every other stage uses, not strings
    assert full.task_names_ == [0, 1, 2]
    assert disp.task_names_ == ["a", "b", "c"]


def test_affinity_display_names_tasks_like_the_selector():
    # The same names as GroupSelector and measure_gains give: integers kept
    # as integers, duplicates refused.
    disp = AffinityMatrixDisplay(np.eye(3), task_names=[10, 20, 30]).plot()
    assert disp.task_names_ == [10, 20, 30]
    assert all(isinstance(name, int) for name in disp.task_names_)
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["10", "20", "30"]
    with pytest.raises(ValueError, match="duplicated names"):
        AffinityMatrixDisplay(np.eye(2), task_names=["a", "a"]).plot()


def test_affinity_display_draws_on_given_axes_and_checks_names():
    _, ax = plt.subplots()
    disp = AffinityMatrixDisplay(np.eye(2), task_names=["x", "y"]).plot(
        ax=ax, colorbar=False
    )
    assert disp.ax_ is ax and disp.colorbar_ is None
    with pytest.raises(ValueError, match="2 names but the affinity matrix has 3"):
        AffinityMatrixDisplay(np.eye(3), task_names=["x", "y"]).plot()
    with pytest.raises(ValueError, match="square"):
        AffinityMatrixDisplay(np.ones((2, 3))).plot()


def test_affinity_display_from_extractor_uses_its_task_names():
    import pandas as pd

    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    Y = pd.DataFrame({"up": X[:, 0], "down": -X[:, 0], "other": X[:, 1]})
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(4,), max_epochs=2, affinity_every=1, random_state=0
    ).fit(X, Y)
    disp = AffinityMatrixDisplay.from_estimator(ext)
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["up", "down", "other"]
    np.testing.assert_array_equal(disp.im_.get_array()[0, 1], ext.affinity_[0, 1])

    plain = ext.set_params(affinity=None).fit(X, Y.to_numpy())
    with pytest.raises(ValueError, match="affinity='etap'"):
        AffinityMatrixDisplay.from_estimator(plain)


def test_gain_prediction_display_from_estimator_matches_predictions():
    A = np.random.RandomState(0).normal(size=(5, 5))
    P = encode_groups(sample_groups(5, 10, random_state=0), 5)
    y = np.tanh(group_affinity(A, P))
    etap = ETAPRegressor(affinity=A).fit(P, y)
    disp = GainPredictionDisplay.from_estimator(etap, P, y)
    offsets = disp.scatter_.get_offsets()
    np.testing.assert_allclose(offsets[:, 0], etap.predict(P))  # x: predicted
    np.testing.assert_allclose(offsets[:, 1], y)  # y: measured
    assert disp.pearson_r_ == pytest.approx(np.corrcoef(y, etap.predict(P))[0, 1])
    x, y_line = disp.line_.get_data()
    np.testing.assert_array_equal(x, y_line)  # the diagonal
    assert disp.ax_.get_ylabel() == "measured gain" and disp.figure_ is not None


def test_gain_prediction_display_handles_undefined_r_and_nan():
    disp = GainPredictionDisplay.from_predictions([0.1, 0.2, np.nan], [0.3, 0.3, 0.1])
    assert np.isnan(disp.pearson_r_)  # constant predictions on the finite rows
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GainPredictionDisplay.from_predictions([0.1, 0.2], [0.1])


def test_displays_name_the_extra_when_matplotlib_is_missing(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r'pip install "sklearn-etap\[plot\]"'):
        AffinityMatrixDisplay(np.eye(2)).plot()
    with pytest.raises(ImportError, match="GainPredictionDisplay.from_predictions"):
        GainPredictionDisplay.from_predictions([0.0, 1.0], [0.0, 1.0])
