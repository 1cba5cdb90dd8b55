"""Task names from a DataFrame reach every stage; arrays keep integer names."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils._testing import ignore_warnings

from sklearn_etap import (
    ETAPRegressor,
    GroupSelector,
    MeasuredGains,
    ResidualRidge,
    SplineAffinityRegressor,
    TorchAffinityExtractor,
    encode_groups,
    group_affinity,
    group_row_ids,
    make_etap_search,
    measure_gains,
    sample_groups,
)

NAMES = ["north", "south", "east"]


def make_frame(n=90, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    Y = np.c_[X[:, 0] + X[:, 1], X[:, 0] - X[:, 1], X[:, 2]]
    return X, pd.DataFrame(Y + 0.1 * rng.normal(size=Y.shape), columns=NAMES)


def small_extractor():
    return TorchAffinityExtractor(
        hidden_layer_sizes=(4,), max_epochs=2, affinity_every=1, random_state=0
    )


def test_extractor_task_names_from_frame_else_integers():
    X, Y = make_frame()
    ext = small_extractor().fit(X, Y)
    assert ext.task_names_.tolist() == NAMES
    # Same numbers either way: names are labels, not data.
    plain = small_extractor().fit(X, Y.to_numpy())
    assert plain.task_names_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(plain.affinity_, ext.affinity_)
    # A frame with integer column labels keeps integer names too.
    assert small_extractor().fit(
        X, Y.set_axis([5, 6, 7], axis=1)
    ).task_names_.tolist() == [
        0,
        1,
        2,
    ]


def test_measure_gains_carries_names_to_frame_and_csv(tmp_path):
    X, Y = make_frame()
    gains = measure_gains(
        small_extractor(),
        X[:60],
        Y.iloc[:60],
        [(0, 2), (0, 1, 2)],
        X[60:],
        Y.iloc[60:],
        random_state=0,
        progress=False,
    )
    assert gains.task_names == NAMES
    assert gains.group_names == [("north", "east"), ("north", "south", "east")]
    frame = gains.to_frame()
    assert frame["task_name"].tolist() == ["north", "east", "north", "south", "east"]
    assert frame["group_name"].iloc[0] == "north + east"
    path = tmp_path / "gains.csv"
    gains.save(path)
    loaded = MeasuredGains.load(path)
    assert loaded.task_names == NAMES
    np.testing.assert_array_equal(loaded.y, gains.y)

    plain = measure_gains(
        small_extractor(),
        X[:60],
        Y.to_numpy()[:60],
        [(0, 2)],
        X[60:],
        Y.to_numpy()[60:],
        random_state=0,
        progress=False,
    )
    assert plain.task_names is None and plain.names == [0, 1, 2]
    assert plain.group_names == [(0, 2)]
    assert "task_name" not in plain.to_frame()
    np.testing.assert_array_equal(plain.y, gains.y[:2])  # same trainings, same seed


def test_measure_gains_rejects_wrong_number_of_names():
    X, Y = make_frame()
    with pytest.raises(ValueError, match="task_names has 2 names but there are 3"):
        measure_gains(
            small_extractor(),
            X,
            Y.to_numpy(),
            [(0, 1)],
            X,
            Y.to_numpy(),
            task_names=["a", "b"],
            progress=False,
        )


def test_group_selector_names_its_groups():
    groups = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    P = encode_groups(groups, n_tasks=3)
    y = [0.4, 0.3, -0.2, -0.1, -0.3, -0.2, 0.1, 0.0, -0.3]
    from sklearn.linear_model import LinearRegression

    sel = GroupSelector(LinearRegression(), n_groups=2, task_names=NAMES).fit(P, y)
    assert sel.groups_ == [(2,), (0, 1)]
    assert sel.group_names_ == [("east",), ("north", "south")]
    plain = GroupSelector(LinearRegression(), n_groups=2).fit(P, y)
    assert plain.group_names_ == plain.groups_
    with pytest.raises(ValueError, match="duplicated names"):
        GroupSelector(LinearRegression(), 2, task_names=["a", "a", "b"]).fit(P, y)


def test_nested_parameter_of_a_default_sub_estimator_says_what_to_do():
    A = np.random.RandomState(0).normal(size=(5, 5))
    groups = sample_groups(5, 8, random_state=0)
    P = encode_groups(groups, 5)
    y = np.tanh(group_affinity(A, P))
    grid = {"affinity_estimator__degree": [2, 3]}
    search = GridSearchCV(ETAPRegressor(affinity=A), grid, cv=GroupKFold(3))
    with pytest.raises(ValueError, match=r"affinity_estimator=SplineAffinityRegressor"):
        search.fit(P, y, groups=group_row_ids(groups))
    with pytest.raises(ValueError, match=r"residual_estimator=ResidualRidge\(\)"):
        ETAPRegressor().set_params(residual_estimator__alpha=1.0)
    # Passed explicitly (as the docs show), the same search works, and a
    # sub-estimator set in the same call is set first.
    explicit = ETAPRegressor(
        affinity=A,
        affinity_estimator=SplineAffinityRegressor(),
        residual_estimator=ResidualRidge(),
    )
    best = GridSearchCV(explicit, grid, cv=GroupKFold(3)).fit(
        P, y, groups=group_row_ids(groups)
    )
    assert best.best_params_["affinity_estimator__degree"] in (2, 3)
    etap = ETAPRegressor().set_params(
        affinity_estimator=SplineAffinityRegressor(), affinity_estimator__degree=4
    )
    assert etap.affinity_estimator.degree == 4


@ignore_warnings(category=UserWarning)
def test_make_etap_search_verbose_reports_progress(capsys):
    A = np.random.RandomState(0).normal(size=(5, 5))
    groups = sample_groups(5, 6, random_state=0)
    P = encode_groups(groups, 5)
    y = np.tanh(group_affinity(A, P))
    quiet = make_etap_search(A, len(groups), n_splits=3)
    assert quiet.verbose == 0
    quiet.fit(P, y, groups=group_row_ids(groups))
    assert capsys.readouterr().out == ""
    loud = make_etap_search(A, len(groups), n_splits=3, verbose=1)
    loud.fit(P, y, groups=group_row_ids(groups))
    n_candidates = len(loud.cv_results_["params"])
    assert f"Fitting 3 folds for each of {n_candidates} candidates" in (
        capsys.readouterr().out
    )
