"""search_groups: the measure, predict, select loop on simulated gain tables."""

import re

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_etap import (
    ETAPRegressor,
    GroupMeasurementError,
    MeasuredGains,
    ResidualRidge,
    all_groups,
    encode_groups,
    search_groups,
    select_groups,
)
from sklearn_etap._adaptive import predictor as _predictor

CLUSTERS = [(0, 1, 2, 3), (4, 5, 6, 7)]


def planted_table(n_tasks=8):
    """Two clusters of tasks: a same-cluster partner adds 0.1 to a task's
    gain, a member of the other cluster takes 0.15 off. The best two groups
    are the clusters (total 2.4); nothing else comes close."""
    cluster = {t: i for i, c in enumerate(CLUSTERS) for t in c}
    return {
        g: np.array(
            [
                0.1 * sum(cluster[s] == cluster[t] for s in g if s != t)
                - 0.15 * sum(cluster[s] != cluster[t] for s in g)
                for t in g
            ]
        )
        for g in all_groups(n_tasks)
    }


class Lookup:
    """``measure`` by table lookup; logs every call, can fail on a group."""

    def __init__(self, table, fail_on=None, returns="list"):
        self.table = table
        self.fail_on = fail_on
        self.returns = returns
        self.calls = []

    def __call__(self, groups):
        self.calls.append(list(groups))
        if self.fail_on in groups:
            raise RuntimeError(f"training of {self.fail_on} diverged")
        if self.returns == "mapping":
            return {g: self.table[g] for g in groups}
        return [self.table[g] for g in groups]

    @property
    def measured(self):
        return [g for call in self.calls for g in call]


def random_table(n_tasks=6, seed=0):
    rng = np.random.RandomState(seed)
    return {g: rng.normal(size=len(g)) for g in all_groups(n_tasks)}


# Each seed costs 137 refits of the interaction ridge (the optimistic
# strategy's bootstrap spread): seed 0 runs by default, the others with
# `pytest -m slow`, so CI still checks all five.
@pytest.mark.parametrize(
    "seed", [0] + [pytest.param(seed, marks=pytest.mark.slow) for seed in range(1, 5)]
)
def test_planted_clusters_are_found_within_the_budget(seed):
    # Clusters are a per-pair effect (a task helps its own cluster and hurts
    # the other), so the predictor needs membership-by-target terms; the
    # additive default cannot represent them (docs/adaptive_search.md).
    table = planted_table()
    assert select_groups(table, 2).groups == CLUSTERS  # the planted optimum
    result = search_groups(
        Lookup(table),
        8,
        n_groups=2,
        n_measured=15,
        estimator=ResidualRidge(encoding="interaction"),
        strategy="optimistic",
        random_state=seed,
    )
    assert result.groups == CLUSTERS
    assert result.is_measured == [True, True]
    assert result.total_gain == pytest.approx(2.4)
    for group, gains in zip(result.groups, result.gains):
        np.testing.assert_allclose(gains, table[group])


def test_measured_gains_are_kept_and_used_in_the_final_selection():
    table = random_table()
    measure = Lookup(table)
    result = search_groups(measure, 6, n_groups=3, n_measured=9, random_state=0)
    assert list(result.measured) == measure.measured
    assert len(result.measured) == 9 == len(set(result.measured))
    for group, gains in result.measured.items():
        np.testing.assert_array_equal(gains, table[group])
    # The final selection is exact on measured gains where known and the
    # fitted predictor's gains elsewhere.
    rows_table = {}
    for group in all_groups(6):
        if group in result.measured:
            rows_table[group] = result.measured[group]
        else:
            from sklearn_etap import encode_groups

            rows_table[group] = result.estimator.predict(encode_groups([group], 6))
    reference = select_groups(rows_table, 3)
    assert result.total_gain == pytest.approx(reference.total_gain)
    for group, gains, known in zip(result.groups, result.gains, result.is_measured):
        assert known == (group in result.measured)
        if len(group) > 1:
            np.testing.assert_allclose(gains, rows_table[group])
        else:
            np.testing.assert_array_equal(gains, [0.0])


def test_failing_measure_names_the_group_and_loses_nothing():
    table = random_table()
    reference = search_groups(
        Lookup(table), 6, n_groups=3, n_measured=10, random_state=3
    )
    order = list(reference.measured)
    bad = order[6]  # fails after 6 groups are measured (5 initial + 1)

    failing = Lookup(table, fail_on=bad)
    with pytest.raises(GroupMeasurementError, match=re.escape(str(bad))) as info:
        search_groups(failing, 6, n_groups=3, n_measured=10, random_state=3)
    error = info.value
    assert error.groups == [bad]
    assert isinstance(error.__cause__, RuntimeError)
    partial = error.partial
    assert list(partial.measured) == order[:6]
    assert partial.n_measured == 6
    for group, gains in partial.measured.items():
        np.testing.assert_array_equal(gains, table[group])
    assert [g for h in partial.history for g in h["groups"]] == order[:6]

    # Resuming measures only what is missing and ends where the
    # uninterrupted search ended.
    resumed_measure = Lookup(table)
    resumed = search_groups(
        resumed_measure,
        6,
        n_groups=3,
        n_measured=10,
        measured=partial.measured,
        random_state=3,
    )
    assert resumed_measure.measured == order[6:]
    assert list(resumed.measured) == order
    assert resumed.groups == reference.groups
    assert resumed.total_gain == pytest.approx(reference.total_gain)


@pytest.mark.parametrize(
    "bad_gains, match",
    [
        (lambda g: np.full(len(g), np.nan), "non-finite gain for group"),
        (lambda g: np.zeros(7), "7 gain\\(s\\) for group"),
    ],
)
def test_invalid_gains_name_their_group(bad_gains, match):
    table = random_table()
    victim = all_groups(6)[0]

    def measure(groups):
        return [bad_gains(g) if g == victim else table[g] for g in groups]

    # Every candidate is measured, so the victim is reached.
    with pytest.raises(GroupMeasurementError, match=match) as info:
        search_groups(measure, 6, n_groups=2, n_measured=57, batch_size=8)
    assert info.value.groups == [victim]
    assert victim not in info.value.partial.measured


def test_batch_size_bounds_every_call_and_the_budget_holds():
    table = random_table()
    measure = Lookup(table)
    result = search_groups(
        measure,
        6,
        n_groups=3,
        n_measured=11,
        n_initial=4,
        batch_size=3,
        random_state=0,
    )
    sizes = [len(call) for call in measure.calls]
    # 4 initial groups in batches of 3, then 7 more in batches of 3.
    assert sizes == [3, 1, 3, 3, 1]
    assert len(result.measured) == 11
    assert [h["strategy"] for h in result.history] == ["initial"] * 2 + ["exploit"] * 3


def test_history_records_every_round():
    table = random_table()
    measure = Lookup(table)
    result = search_groups(
        measure, 6, n_groups=3, n_measured=8, n_initial=3, random_state=1
    )
    history = result.history
    assert [h["round"] for h in history] == list(range(len(history)))
    assert [g for h in history for g in h["groups"]] == list(result.measured)
    assert [h["n_measured"] for h in history] == list(range(1, 9))
    for h in history[:3]:
        assert h["strategy"] == "initial"
        assert np.isnan(h["predicted_total"]) and h["selection"] is None
    for h in history[3:]:
        assert h["strategy"] == "exploit"
        assert np.isfinite(h["predicted_total"])
        # Exploitation measures a group of the selection it was made from
        # whenever that selection holds an unmeasured multi-task group.
        measured_before = {g for r in history[: h["round"]] for g in r["groups"]}
        unmeasured = [
            g for g in h["selection"] if len(g) > 1 and g not in measured_before
        ]
        if unmeasured:
            assert h["groups"] == unmeasured[:1]


def test_same_random_state_same_search_other_seed_other_search():
    table = random_table()
    runs = [
        search_groups(Lookup(table), 6, n_groups=2, n_measured=8, random_state=s)
        for s in (7, 7, 8)
    ]
    assert list(runs[0].measured) == list(runs[1].measured)
    assert runs[0].groups == runs[1].groups
    assert runs[0].history == runs[1].history or all(
        a["groups"] == b["groups"] for a, b in zip(runs[0].history, runs[1].history)
    )
    assert list(runs[0].measured) != list(runs[2].measured)


@pytest.mark.parametrize("strategy", ["exploit", "explore", "optimistic", "pairs"])
def test_every_strategy_spends_the_budget_on_distinct_groups(strategy):
    table = random_table()
    measure = Lookup(table)
    result = search_groups(
        measure, 6, n_groups=3, n_measured=9, strategy=strategy, random_state=0
    )
    assert len(measure.measured) == 9 == len(set(measure.measured))
    assert [h["strategy"] for h in result.history[4:]] == [strategy] * 5
    if strategy == "pairs":
        initial = [g for h in result.history[:4] for g in h["groups"]]
        assert all(len(g) == 2 for g in initial)
        assert {t for g in initial for t in g} == set(range(6))  # cover every task


def test_pairs_measures_every_pair_first_when_the_budget_allows():
    table = random_table(n_tasks=5)
    measure = Lookup(table)
    search_groups(measure, 5, n_groups=2, n_measured=15, strategy="pairs")
    assert sorted(measure.measured[:10]) == [g for g in all_groups(5) if len(g) == 2]


def test_explore_measures_the_group_the_bootstrap_refits_disagree_on(monkeypatch):
    table = random_table()
    spreads = []
    real = _predictor.bootstrap_spread

    def spy(*args):
        spread = real(*args)
        spreads.append(spread)
        return spread

    monkeypatch.setattr("sklearn_etap._adaptive.loop.bootstrap_spread", spy)
    result = search_groups(
        Lookup(table),
        6,
        n_groups=2,
        n_measured=6,
        n_initial=5,
        strategy="explore",
        random_state=0,
    )
    picked = result.history[-1]["groups"][0]
    measured_before = list(result.measured)[:5]
    candidates = all_groups(6)
    sizes = np.cumsum([len(g) for g in candidates])[:-1]
    by_group = dict(zip(candidates, np.split(spreads[0], sizes)))
    best = max(
        (g for g in candidates if g not in measured_before),
        key=lambda g: by_group[g].mean(),
    )
    assert picked == best


def test_partition_mode_returns_disjoint_groups():
    result = search_groups(
        Lookup(random_table()),
        6,
        n_groups=3,
        n_measured=8,
        mode="partition",
        random_state=0,
    )
    members = [t for g in result.groups for t in g]
    assert sorted(members) == list(range(6))


def test_measure_may_return_a_mapping_or_measured_gains():
    table = random_table()
    by_list = search_groups(Lookup(table), 6, n_groups=2, n_measured=6, random_state=0)
    by_mapping = search_groups(
        Lookup(table, returns="mapping"), 6, n_groups=2, n_measured=6, random_state=0
    )

    def as_measured_gains(groups):
        stl = np.ones((6, 1))
        mtl = np.concatenate([1 - table[g] for g in groups])[:, None]
        return MeasuredGains(
            groups=list(groups),
            n_tasks=6,
            seeds=np.array([0]),
            stl_loss_per_seed=stl,
            mtl_loss_per_seed=mtl,
        )

    by_object = search_groups(
        as_measured_gains, 6, n_groups=2, n_measured=6, random_state=0
    )
    for other in (by_mapping, by_object):
        assert list(other.measured) == list(by_list.measured)
        assert other.groups == by_list.groups


def test_an_estimator_fit_taking_groups_receives_them():
    # GroupKFold raises without groups=, so this search only fits if the
    # loop passes each row's group.
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=GroupKFold(2))
    result = search_groups(
        Lookup(random_table()),
        6,
        n_groups=2,
        n_measured=5,
        estimator=search,
        random_state=0,
    )
    assert result.estimator.best_params_["alpha"] in (0.1, 1.0)
    assert search.__dict__.get("best_params_") is None  # the user's stays unfitted


def test_affinity_uses_the_library_default_etap():
    A = np.random.RandomState(0).normal(size=(6, 6))
    table = random_table()
    result = search_groups(
        Lookup(table),
        6,
        n_groups=2,
        n_measured=6,
        n_initial=4,
        affinity=A,
        random_state=0,
    )
    assert isinstance(result.estimator, ETAPRegressor)
    np.testing.assert_array_equal(result.estimator.affinity, A)
    # The returned predictor is the library's default ETAP fitted on what was
    # measured, so it predicts what a fresh default ETAP fitted there does.
    P, y, _ = _predictor.rows_of(result.measured, 6)
    reference = ETAPRegressor(affinity=A).fit(P, y)
    candidates = encode_groups(all_groups(6), 6)
    np.testing.assert_allclose(
        result.estimator.predict(candidates), reference.predict(candidates)
    )


def test_given_measurements_count_and_are_not_measured_again():
    table = random_table()
    given = {g: table[g] for g in all_groups(6)[:3]}
    measure = Lookup(table)
    result = search_groups(
        measure, 6, n_groups=2, n_measured=7, measured=given, random_state=0
    )
    assert len(measure.measured) == 4
    assert not set(measure.measured) & set(given)
    assert list(result.measured)[:3] == list(given)
    assert result.history[0]["strategy"] == "given"


def test_verbose_prints_one_line_per_round(capsys):
    search_groups(
        Lookup(random_table()),
        6,
        n_groups=2,
        n_measured=5,
        n_initial=3,
        random_state=0,
        verbose=1,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("[search_groups]") for line in lines)
    search_groups(Lookup(random_table()), 6, n_groups=2, n_measured=5, random_state=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_initial": 9}, ValueError, "n_initial=9 exceeds n_measured=8"),
        ({"n_measured": 58}, ValueError, "exceeds the 57 candidate groups"),
        ({"n_measured": 1}, ValueError, "n_initial=2 exceeds n_measured=1"),
        ({"strategy": "greedy"}, InvalidParameterError, "strategy"),
        ({"n_groups": 0}, InvalidParameterError, "n_groups"),
        ({"batch_size": 0}, InvalidParameterError, "batch_size"),
        ({"affinity": np.eye(5)}, ValueError, "affinity has shape \\(5, 5\\)"),
        (
            {"affinity": np.eye(6), "estimator": Ridge()},
            ValueError,
            "not both",
        ),
        ({"measured": {(0, 9): [0.1, 0.2]}}, ValueError, "out of range"),
        ({"measured": {(0, 1): [0.1]}}, ValueError, "one gain per member"),
    ],
)
def test_invalid_arguments_are_rejected_with_a_clear_message(kwargs, error, match):
    params = {"n_groups": 2, "n_measured": 8, "random_state": 0}
    params.update(kwargs)
    with pytest.raises(error, match=match):
        search_groups(Lookup(random_table()), 6, **params)


def test_too_many_tasks_need_a_group_size_limit():
    with pytest.raises(ValueError, match="set max_group_size"):
        search_groups(Lookup({}), 14, n_groups=3, n_measured=10)
    table = {g: np.zeros(len(g)) for g in all_groups(14, max_size=2)}
    result = search_groups(
        Lookup(table), 14, n_groups=7, n_measured=6, max_group_size=2, random_state=0
    )
    assert all(len(g) <= 2 for g in result.measured)


def test_interaction_residual_ridge_is_accepted_as_estimator():
    result = search_groups(
        Lookup(planted_table()),
        8,
        n_groups=2,
        n_measured=8,
        estimator=ResidualRidge(encoding="interaction"),
        random_state=0,
    )
    assert len(result.measured) == 8


class _GroupsRecorder(Ridge):
    """A ridge whose fit takes the rows' groups and counts the calls with them."""

    calls_with_groups = 0

    def fit(self, X, y, sample_weight=None, groups=None):
        if groups is not None:
            type(self).calls_with_groups += 1
        return super().fit(X, y, sample_weight=sample_weight)


def test_the_predictor_gets_groups_exactly_when_its_routing_asks_for_them():
    import sklearn

    table = planted_table(6)

    def measure(groups):
        return {g: table[g] for g in groups}

    settings = dict(n_groups=3, n_measured=6, random_state=0)
    _GroupsRecorder.calls_with_groups = 0
    search_groups(measure, 6, estimator=_GroupsRecorder(), **settings)
    assert _GroupsRecorder.calls_with_groups == 0  # a fit signature is no request
    with sklearn.config_context(enable_metadata_routing=True):
        requested = _GroupsRecorder().set_fit_request(groups=True)
        search_groups(measure, 6, estimator=requested, **settings)
    assert _GroupsRecorder.calls_with_groups > 0
    # a search with group-wise folds needs them, routing on or off
    grid = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=GroupKFold(2))
    assert _predictor.consumes_groups(grid)
    assert search_groups(measure, 6, estimator=grid, **settings).estimator.n_splits_


def test_a_time_limit_bounds_every_selection_and_the_result_says_if_optimal(
    monkeypatch,
):
    from sklearn_etap._adaptive import strategies

    table = planted_table(6)
    limits = []
    real = strategies.select_from_gains

    def spy(*args, **kwargs):
        limits.append(kwargs["time_limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(strategies, "select_from_gains", spy)
    result = search_groups(
        lambda groups: {g: table[g] for g in groups},
        6,
        n_groups=2,
        n_measured=6,
        time_limit=30.0,
        random_state=0,
    )
    assert len(limits) >= 2 and set(limits) == {30.0}  # the rounds and the end
    assert result.optimal and result.gap == 0.0
    assert sorted(result.groups) == sorted(select_groups(
        {g: (result.measured[g] if g in result.measured else result.estimator.predict(
            encode_groups([g], 6))) for g in all_groups(6, min_size=2)}, 2,
    ).groups)  # fmt: skip
