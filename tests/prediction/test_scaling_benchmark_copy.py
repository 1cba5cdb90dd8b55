"""The benchmarks' copy of the deprecated ``affinity_scaling`` is faithful.

One draw of 10 training groups of a real benchmark table (ridership, the
committed affinity and gains), as ``bench_within_task.py`` draws them: the
copy predicts every row of the table as the library's deprecated switch does,
for both scalings, through the default stages and through the degree-1 spline
the ``col_linear_spline`` rows use, and on a precomputed feature column.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from sklearn_etap import (
    ETAPRegressor,
    MeasuredGains,
    SplineAffinityRegressor,
    group_affinity,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from affinity_scaling import ScaledAffinityETAP  # noqa: E402

TABLE = "ridership_8tasks"


@pytest.fixture(scope="module")
def draw():
    measured = MeasuredGains.load(BENCHMARKS / "data" / f"gains_{TABLE}.csv")
    A = np.load(BENCHMARKS / "data" / f"affinity_{TABLE}.npz")["etap"]
    rng = np.random.RandomState(500_000 + 1000 * 10)  # tuning draw 0 at 10 groups
    chosen = rng.choice(len(measured.groups), 10, replace=False)
    train = np.isin(measured.row_group, chosen)
    return A, measured.X, measured.y, train


@pytest.mark.parametrize("scaling", ["column", "within_task"])
@pytest.mark.parametrize(
    "stage1",
    [None, SplineAffinityRegressor(degree=1, n_knots=2)],
    ids=["default", "linear"],
)
def test_copy_predicts_what_the_deprecated_switch_predicts(draw, scaling, stage1):
    A, X, y, train = draw
    with pytest.warns(FutureWarning, match="affinity_scaling"):
        library = ETAPRegressor(
            affinity=A, affinity_scaling=scaling, affinity_estimator=stage1
        ).fit(X[train], y[train])
    copy = ScaledAffinityETAP(A, scaling, affinity_estimator=stage1)
    copy.fit(X[train], y[train])
    np.testing.assert_allclose(copy.center_, library.affinity_center_)
    np.testing.assert_allclose(copy.scale_, library.affinity_scale_)
    # The copy really scales: its predictions differ from the raw feature's.
    raw = ETAPRegressor(affinity=A, affinity_estimator=stage1).fit(X[train], y[train])
    assert not np.allclose(copy.predict(X), raw.predict(X), atol=1e-6)
    np.testing.assert_allclose(copy.predict(X), library.predict(X), atol=1e-8)


def test_copy_on_a_feature_column_predicts_what_the_library_predicts(draw):
    A, X, y, train = draw
    Z = np.hstack([group_affinity(A, X)[:, None], X])
    with pytest.warns(FutureWarning, match="affinity_scaling"):
        library = ETAPRegressor(affinity_scaling="within_task").fit(Z[train], y[train])
    copy = ScaledAffinityETAP(None, "within_task").fit(Z[train], y[train])
    np.testing.assert_allclose(copy.predict(Z), library.predict(Z), atol=1e-8)


def test_the_default_does_not_warn(draw):
    A, X, y, train = draw
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        ETAPRegressor(affinity=A).fit(X[train], y[train])
