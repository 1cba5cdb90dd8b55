"""`etap run --dataset shapes`: make_shapes' 40 attribute tasks on the command line."""

import json

import numpy as np
import pytest

from sklearn_etap._cli import main
from sklearn_etap._cli.data import (
    SHAPES_SAMPLES,
    SHAPES_SIDE,
    UsageError,
    builtin_datasets,
    load_builtin,
    load_shapes,
)
from sklearn_etap._cli.main import build_parser
from sklearn_etap.datasets import make_shapes
from sklearn_etap.datasets._shapes import TASKS


def test_shapes_is_a_builtin_dataset():
    assert builtin_datasets()["shapes"] is load_shapes
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    dataset = next(a for a in run._actions if a.dest == "dataset")
    assert "shapes" in dataset.choices


def test_help_lists_shapes(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--help"])
    assert exit_.value.code == 0
    assert "shapes" in capsys.readouterr().out


def test_shapes_loads_40_named_tasks_deterministically():
    data = load_builtin("shapes", max_samples=300, seed=3)
    assert data.task_names == list(TASKS) and len(data.task_names) == 40
    assert data.task_types == ["binary"] * 40
    features = 3 * SHAPES_SIDE**2
    assert data.X_train.shape == (240, features) and data.X_test.shape == (60, features)
    assert data.Y_train.shape == (240, 40) and data.Y_test.shape == (60, 40)
    # The labels are make_shapes' for the same seed and size.
    reference = make_shapes(300, image_size=SHAPES_SIDE, random_state=3)
    np.testing.assert_array_equal(data.Y_train, reference.Y_train)
    np.testing.assert_array_equal(data.Y_test, reference.Y_test)
    # Pixels standardized with the training images' statistics only.
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)
    expected = (reference.X_test - reference.X_train.mean(axis=0)) / data.X_scale
    np.testing.assert_allclose(data.X_test, expected, rtol=1e-4, atol=1e-4)
    # The same seed gives the same data; another seed other images.
    again = load_builtin("shapes", max_samples=300, seed=3)
    np.testing.assert_array_equal(data.X_train, again.X_train)
    other = load_builtin("shapes", max_samples=300, seed=4)
    assert not np.array_equal(data.Y_train, other.Y_train)


def test_shapes_default_size_without_max_samples(monkeypatch):
    seen = {}

    def spy(n_samples, **kwargs):
        seen["n_samples"] = n_samples
        return make_shapes(200, **kwargs)

    monkeypatch.setattr("sklearn_etap.datasets.make_shapes", spy)
    load_builtin("shapes", max_samples=None, seed=0)
    assert seen["n_samples"] == SHAPES_SAMPLES
    load_builtin("shapes", max_samples=400, seed=0)
    assert seen["n_samples"] == 400


def test_too_few_shapes_name_the_option():
    with pytest.raises(UsageError, match="--dataset shapes: .*--max-samples"):
        load_builtin("shapes", max_samples=10, seed=0)


@pytest.mark.slow
def test_run_on_shapes_records_a_40_by_40_affinity(tmp_path):
    out = tmp_path / "report"
    status = main(
        [
            "run",
            "--dataset",
            "shapes",
            "--max-samples",
            "200",
            "--epochs",
            "1",
            "--groups",
            "2",
            "--jobs",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"] == "shapes"
    assert summary["task_names"] == list(TASKS)
    assert np.shape(summary["affinity"]) == (40, 40)
    assert summary["n_features"] == 3 * SHAPES_SIDE**2
    assert (out / "affinity.png").stat().st_size > 0


def test_report_of_40_tasks_stays_readable(tmp_path):
    import matplotlib.image as image

    from sklearn_etap._cli.report import (
        AFFINITY_PNG,
        MOST_FEATURES_LISTED,
        _features_html,
        _write_figures,
    )

    names = list(TASKS)
    affinity = np.random.RandomState(0).normal(size=(40, 40))
    plots = {"affinity": affinity, "task_names": names, "y_true": None, "y_pred": None}
    assert _write_figures(tmp_path, plots) == [AFFINITY_PNG]
    # About the page's width (60em), not 0.45 inch a task (over 2,000 pixels).
    height, width, _ = image.imread(tmp_path / AFFINITY_PNG).shape
    assert width <= 1200 and height <= 1100

    pixels = [f"r_{k}" for k in range(768)]
    page = _features_html({"names": pixels, "source": "built-in dataset"})
    assert "Features (768," in page and "r_0, r_1" in page and "r_767." in page
    assert "r_100," not in page and "every name is in summary.json" in page
    few = [f"f{k}" for k in range(MOST_FEATURES_LISTED)]
    assert ", ".join(few) in _features_html({"names": few, "source": "--feature"})
