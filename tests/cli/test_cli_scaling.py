"""`etap run` with any number of tasks: defaults that scale, settings refused
before any training, and a selection that stops at its time limit."""

import itertools
import json
import re
import time
import warnings
from argparse import Namespace

import numpy as np
import pandas as pd
import pytest

from sklearn_etap import TorchAffinityExtractor, select_groups
from sklearn_etap._cli import job, main
from sklearn_etap._cli.choosing import candidate_gains, choose_groups, greedy_selection
from sklearn_etap._cli.data import UsageError
from sklearn_etap._cli.scaling import (
    default_budget,
    default_groups,
    largest_group_size,
    resolve_settings,
)
from sklearn_etap._selection.problem import SelectionProblem


def settings(n_tasks, groups=None, budget=None):
    return resolve_settings(Namespace(groups=groups, budget=budget), n_tasks)


@pytest.mark.parametrize(
    "n_tasks, groups, budget, max_size, exhaustive",
    [
        (2, 1, 2, 2, True),  # the one pair, measured; budget 2: alone or together
        (3, 4, 3, 3, True),  # all 4 groups of 3 tasks
        (10, 8, 3, 10, False),  # the built-in digits: unchanged defaults
        (40, 13, 20, 2, False),  # pairs only: 20 groups cover 40 tasks
        (100, 20, 50, 2, False),
    ],
)
def test_defaults_scale_with_the_number_of_tasks(
    n_tasks, groups, budget, max_size, exhaustive
):
    got = settings(n_tasks)
    assert (got.groups, got.budget, got.max_size, got.exhaustive) == (
        groups,
        budget,
        max_size,
        exhaustive,
    )
    # The default budget always covers the tasks with the candidate groups.
    assert got.budget * got.max_size >= n_tasks
    assert default_groups(n_tasks) <= 2**n_tasks - n_tasks - 1


def test_largest_group_size_keeps_the_candidates_enumerable():
    for n_tasks in (2, 5, 12, 13, 40, 100):
        size = largest_group_size(n_tasks)
        count = sum(len(list(itertools.combinations(range(n_tasks), k))) for k in
                    range(2, size + 1)) if n_tasks < 20 else None  # fmt: skip
        if count is not None:
            assert count <= 5000
        assert default_budget(n_tasks, size) >= -(-n_tasks // size)


@pytest.mark.parametrize(
    "n_tasks, groups, budget, message",
    [
        (40, None, 3, "--budget 3: covering 40 tasks with groups of at most 2 tasks"),
        (2, 2, None, "--groups 2: 2 tasks have only 1 group(s)"),
        (10, 1, None, "--groups 1: measure at least 2 groups"),
        (10, 0, None, "--groups 0: measure at least 1 group"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_the_command_line_words(
    n_tasks, groups, budget, message
):
    with pytest.raises(UsageError, match="^" + re.escape(message)) as info:
        settings(n_tasks, groups, budget)
    assert "n_groups" not in str(info.value) and "max_group_size" not in str(info.value)


def wide_csv(path, n_targets, n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(4)])
    for t in range(n_targets):
        frame[f"t{t}"] = X[:, t % 4] + 0.5 * rng.normal(size=n)
    frame.to_csv(path, index=False)
    return [a for t in range(n_targets) for a in ("--target", f"t{t}")]


def test_a_budget_too_small_for_40_tasks_stops_before_any_training(
    tmp_path, capsys, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the settings")

    monkeypatch.setattr(job, "fit_affinity_model", no_training)
    targets = wide_csv(tmp_path / "w.csv", 40)
    status = main(
        ["run", "--data", str(tmp_path / "w.csv"), *targets, "--budget", "3",
         "--quiet", "--out", str(tmp_path / "o")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "--budget 3" in err and "at least 20 groups" in err and "--budget 20" in err
    assert not (tmp_path / "o").exists()


def test_two_targets_run_through_measuring_their_one_group(tmp_path, capsys):
    targets = wide_csv(tmp_path / "two.csv", 2)
    out = tmp_path / "o"
    status = main(
        ["run", "--data", str(tmp_path / "two.csv"), *targets, "--epochs", "2",
         "--jobs", "1", "--out", str(out)]
    )  # fmt: skip
    printed = "".join(capsys.readouterr())  # step messages: either stream
    assert status == 0
    assert "all 1 group(s) of 2 or more tasks were measured" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [g["tasks"] for g in summary["measured_groups"]] == [["t0", "t1"]]
    assert summary["settings"]["groups"] == 1 and summary["settings"]["budget"] == 2
    chosen = summary["selection"]
    # The choice is the measured one: together if that helps both, else apart.
    gains = summary["measured_groups"][0]["gain"]
    best = max(0.0, gains[0]) + max(0.0, gains[1])
    assert chosen["predicted_total_gain"] == pytest.approx(best)
    assert chosen["optimal"] is True and chosen["gap"] == 0.0
    assert "t0" in printed and "t1" in printed


def random_problem(n_tasks=12, max_size=3, seed=0):
    rng = np.random.RandomState(seed)
    groups = [
        g
        for k in range(2, max_size + 1)
        for g in itertools.combinations(range(n_tasks), k)
    ]
    gains = [rng.normal(size=len(g)) for g in groups]
    return groups, gains


def test_choose_groups_is_exact_and_reports_no_gap_when_solved():
    groups, gains = random_problem(n_tasks=6)
    said = []
    got = choose_groups(
        groups, gains, 6, budget=3, mode="overlap", time_limit=60, say=said.append,
        basis="test",
    )  # fmt: skip
    want = select_groups(dict(zip(groups, gains)), 3, solver="brute_force")
    assert got.total == pytest.approx(want.total_gain)
    assert got.optimal and got.gap == 0.0
    assert any("optimal grouping found" in line for line in said)


def test_choose_groups_at_its_time_limit_returns_a_valid_grouping_quickly():
    # 780 pairs of 40 tasks with unstructured gains, overlap mode: on a quiet
    # machine HiGHS proves it optimal in about 0.05 s, so a limit of 0.005 s
    # cuts it before it ends.
    groups, gains = random_problem(n_tasks=40, max_size=2, seed=1)
    said = []
    start = time.perf_counter()
    got = choose_groups(
        groups, gains, 40, budget=25, mode="overlap", time_limit=0.005,
        say=said.append, basis="test",
    )  # fmt: skip
    assert time.perf_counter() - start < 10
    assert sorted({t for g in got.groups for t in g}) == list(range(40))
    assert len(got.groups) <= 25 and not got.optimal
    # The total is what the chosen groups give: each task's best member gain.
    table = dict(zip(groups, gains))
    best = [
        max(0.0 if len(g) == 1 else table[g][g.index(t)] for g in got.groups if t in g)
        for t in range(40)
    ]
    assert got.total == pytest.approx(sum(best))
    if got.gap is None:  # no HiGHS incumbent: the greedy grouping, said so
        assert any("greedy" in line for line in said)
    else:  # HiGHS's incumbent and its bound
        assert got.bound >= got.total - 1e-9 and got.gap >= 0
        assert any("time limit reached" in line for line in said)


def test_the_greedy_fallback_covers_the_tasks_within_the_budget():
    for n_tasks, size, budget in [(40, 2, 20), (40, 2, 25), (12, 3, 4), (7, 7, 1)]:
        groups, gains = random_problem(n_tasks=n_tasks, max_size=size, seed=2)
        problem = SelectionProblem.from_lists(
            groups + [(t,) for t in range(n_tasks)],
            gains + [[0.0]] * n_tasks,
            n_tasks,
        )
        result = greedy_selection(problem, budget)
        chosen = [problem.candidates[c] for c in result.chosen]
        assert sorted(t for g in chosen for t in g) == list(range(n_tasks))
        assert len(chosen) <= budget and not result.optimal


class GroupSize:
    """A predictor whose gain is the group's size: larger is better."""

    def predict(self, rows):
        rows = np.asarray(rows)
        return rows[:, : rows.shape[1] // 2].sum(axis=1)


def test_all_tasks_together_stays_a_candidate_beyond_the_size_limit():
    # 40 tasks: pairs only, but the all-task group and the measured groups
    # are candidates too, so a selection can still choose them.
    measured = [tuple(range(0, 40, 2))]
    candidates, gains = candidate_gains(
        GroupSize(), 40, 2, extra_groups=[*measured, tuple(range(40))]
    )
    assert len(candidates) == 780 + 2
    assert tuple(range(40)) in candidates and measured[0] in candidates
    got = choose_groups(
        candidates, gains, 40, budget=20, mode="overlap", time_limit=60,
        say=lambda line: None, basis="test",
    )  # fmt: skip
    assert got.groups == [tuple(range(40))] and got.total == 40 * 40


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e308])
def test_choose_groups_refuses_gains_it_cannot_sum(bad):
    groups, gains = random_problem(n_tasks=6)
    gains = [np.array(g, dtype=float) for g in gains]
    gains[2][0] = bad
    with pytest.raises(ValueError, match="gain"):
        choose_groups(
            groups, gains, 6, budget=3, mode="overlap", time_limit=60,
            say=lambda line: None, basis="test",
        )  # fmt: skip


def test_the_job_limits_threads_to_one_inside_only():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with job.one_thread_each():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_only_a_shortened_auto_interval_is_reported_as_a_short_training():
    from sklearn_etap._cli.training import short_training_interval

    fitted = TorchAffinityExtractor()
    fitted.n_tasks_ = 3
    fitted.affinity_every_ = 12  # "auto" lowered it for 50 planned steps
    assert short_training_interval(fitted) == 12
    fitted.affinity_every_ = 100  # the long-training interval on 3 tasks
    assert short_training_interval(fitted) is None
    fitted.n_tasks_, fitted.affinity_every_ = 40, 300  # below 10 * 40
    assert short_training_interval(fitted) == 300
    pinned = TorchAffinityExtractor(affinity_every=6)
    pinned.n_tasks_, pinned.affinity_every_ = 3, 6  # the user's own choice
    assert short_training_interval(pinned) is None


def test_a_tiny_csv_gets_a_finite_affinity(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    for k in range(3):
        frame[f"y{k}"] = X @ rng.normal(size=3) + 0.1 * rng.normal(size=20)
    path = tmp_path / "tiny.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["run", "--quiet", "--data", str(path), "--out", str(out)]
    args += [a for k in range(3) for a in ("--target", f"y{k}")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no all-NaN affinity warning
        assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert np.isfinite(np.asarray(summary["affinity"], dtype=float)).all()
