"""`etap run`'s reference answers, interval and verdict, and the trivial check."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch
from test_cli import QUICK, make_csv

from sklearn_etap import GroupSizeRule, MeasuredGains, encode_groups
from sklearn_etap._cli import main
from sklearn_etap._cli.references import (
    grouping_total,
    qualify_unlearned,
    reference_answers,
    subset_gains,
    verdict,
)
from sklearn_etap._gains import runner as _runner

N_TASKS = 4
GROUPS = [(0, 1), (1, 2), (2, 3), (0, 3), (0, 1, 2), (1, 2, 3)]
ALL = (0, 1, 2, 3)


def size_rule_gain(group, task):
    return 0.1 * task - 0.05 * len(group)


def test_group_size_rule_recovers_per_task_means_and_a_shared_slope():
    rows = encode_groups(GROUPS, N_TASKS)
    y = [size_rule_gain(g, t) for g in GROUPS for t in g]
    rule = GroupSizeRule().fit(rows, y)
    new = [(0, 1, 2, 3), (0, 2)]
    expected = [size_rule_gain(g, t) for g in new for t in g]
    predicted = rule.predict(encode_groups(new, N_TASKS))
    np.testing.assert_allclose(predicted, expected, atol=1e-12)


def make_gains(together_gain, n_seeds=1, rng=None):
    """Measured gains of GROUPS and of all tasks; losses made to give the gains."""
    rng = rng or np.random.RandomState(0)
    groups = GROUPS + [ALL]
    stl = np.ones((N_TASKS, n_seeds))
    gains = []
    for g in groups:
        for t in g:
            gain = together_gain[t] if g == ALL else size_rule_gain(g, t)
            gains.append(gain + 0.01 * rng.normal(size=n_seeds))
    return MeasuredGains(
        groups=groups,
        n_tasks=N_TASKS,
        seeds=np.arange(n_seeds),
        stl_loss_per_seed=stl,
        mtl_loss_per_seed=1 - np.array(gains),
        trivial_loss=np.full(N_TASKS, 2.0),
    )


def references_for(all_gains, n_seeds=1):
    gains = subset_gains(all_gains, GROUPS)
    together = subset_gains(all_gains, [ALL])
    X, y, y_per_seed = gains.X, gains.y, gains.y_per_seed
    model = GroupSizeRule().fit(X, y)
    # (1, 3) was never measured: the recommendation rests on a prediction.
    selection = Bunch(groups=[(0,), (2,), (1, 3)], task_group=[0, 2, 1, 2], total=None)
    selection.total = grouping_total(model, selection.groups, selection.task_group, 4)
    return reference_answers(
        model,
        (X, y, y_per_seed, gains.row_group),
        all_gains,
        together,
        selection,
        budget=3,
        mode="overlap",
        max_group_size=None,
        names=["a", "b", "c", "d"],
    )


def test_all_together_is_measured_and_a_poor_one_is_beaten():
    together_gain = [-0.5, -0.5, -0.5, -0.5]
    refs = references_for(make_gains(together_gain))
    assert refs["all_together"]["measured_total_gain"] == pytest.approx(-2.0, abs=0.05)
    assert refs["all_together"]["measured_gain"]["a"] == pytest.approx(-0.5, abs=0.03)
    low, high = refs["chosen"]["interval"]
    total = refs["chosen"]["predicted_total_gain"]
    assert low < total < high
    # (1, 3) is predicted 0.1 - 0.1 + 0.3 - 0.1 = 0.2 by the rule itself
    assert total == pytest.approx(0.2, abs=0.02)
    assert refs["beats_all_together"]
    assert "NOT beat all tasks" not in refs["verdict"]
    assert refs["verdict"].startswith("recommended grouping: total gain +0.2")


def test_the_verdict_says_plainly_when_all_together_is_as_good():
    refs = references_for(make_gains([0.5, 0.5, 0.5, 0.5]))
    assert refs["all_together"]["measured_total_gain"] == pytest.approx(2.0, abs=0.05)
    assert not refs["beats_all_together"]
    assert "it does NOT beat all tasks in one model" in refs["verdict"]
    assert "all tasks in one model is as good an answer" in refs["verdict"]


def test_several_seeds_widen_the_interval_by_their_spread():
    one = references_for(make_gains([0.0] * 4, rng=np.random.RandomState(1)))
    three = references_for(make_gains([0.0] * 4, n_seeds=3))
    # (1, 3) was never measured: the whole total is predicted
    assert one["chosen"]["interval_basis"] == "predicted"
    assert one["chosen"]["measured_part"] is None
    assert one["chosen"]["predicted_part"]["seed_se"] is None
    predicted = three["chosen"]["predicted_part"]
    assert predicted["seed_se"] > 0
    assert three["all_together"]["interval"] is not None
    # the half-width combines the refit spread and the seed spread
    low, high = three["chosen"]["interval"]
    spread = np.hypot(predicted["predictor_se"] or 0.0, predicted["seed_se"])
    assert (high - low) / 2 == pytest.approx(1.96 * spread)
    assert (high - low) / 2 > 1.96 * (predicted["predictor_se"] or 0.0)


def run_cli(tmp_path, *args):
    out = tmp_path / "out"
    status = main(["run", *QUICK, *args, "--out", str(out)])
    assert status == 0
    return json.loads((out / "summary.json").read_text()), out


def test_first_line_compares_with_all_together_and_each_alone(tmp_path, capsys):
    data = make_csv(tmp_path / "plant.csv")
    summary, out = run_cli(
        tmp_path, "--data", str(data), "--target", "demand", "--target", "load",
        "--target", "storm", "--n-seeds", "2", "--budget", "2",
    )  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("recommended grouping: total gain")
    assert "all tasks in one model" in first and "each task alone +0.000" in first
    assert "group-size rule" in first and "Verdict:" in first
    refs = summary["references"]
    # all together: one more training, its gains measured for every task
    assert set(refs["all_together"]["measured_gain"]) == {"demand", "load", "storm"}
    measured = pd.read_csv(out / "measured_gains.csv")
    together = measured[measured["group"] == "0-1-2"]
    assert together["gain"].sum() == pytest.approx(
        refs["all_together"]["measured_total_gain"]
    )
    low, high = refs["chosen"]["interval"]  # 2 seeds: an interval
    assert low <= refs["chosen"]["predicted_total_gain"] <= high
    parts = [refs["chosen"]["measured_part"], refs["chosen"]["predicted_part"]]
    assert any(part and part["seed_se"] is not None for part in parts)  # 2 seeds
    assert summary["settings"]["n_seeds"] == 2
    assert refs["verdict"] in (out / "report.html").read_text()
    # regression targets standardized, with the scale reported
    scale = summary["target_scale"]
    assert set(scale) == {"demand", "load"} and scale["load"]["standardized"]
    assert scale["load"]["scale"] == pytest.approx(np.sqrt(2), rel=0.3)
    # each flag agrees with the losses it is drawn from; the affinity model
    # (all tasks, step 1) is scored too
    trivial = summary["trivial"]
    for name, task in trivial["tasks"].items():
        assert task["stl_no_better_than_trivial"] == (
            task["stl_loss"] >= task["trivial_loss"]
        )
        assert (name in trivial["affinity_model_flagged"]) == (
            task["affinity_model_loss"] >= task["trivial_loss"]
        )


def test_a_task_whose_single_task_model_is_worse_than_trivial_is_flagged(
    tmp_path, capsys, monkeypatch
):
    train = _runner._fit_and_score

    def worse_alone(extractor, X, Y, X_test, Y_test, seed, caller_pid):
        losses = train(extractor, X, Y, X_test, Y_test, seed, caller_pid)
        return losses * 100 if Y.shape[1] == 1 else losses

    monkeypatch.setattr(_runner, "_fit_and_score", worse_alone)
    data = make_csv(tmp_path / "plant.csv")
    summary, out = run_cli(
        tmp_path, "--data", str(data), "--target", "demand", "--target", "load",
        "--target", "storm",
    )  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("WARNING: the single-task models of 3 of 3 tasks")
    assert "more --epochs (now 2), --learning-rate 0.001" in lines[1]
    assert summary["trivial"]["stl_flagged"] == ["demand", "load", "storm"]
    assert "no better than the trivial predictor" in (out / "report.html").read_text()


def test_training_settings_are_options_with_the_extractor_names(tmp_path, capsys):
    summary, _ = run_cli(
        tmp_path, "--max-samples", "200", "--hidden-layer-sizes", "8", "4",
        "--learning-rate", "0.005", "--weight-decay", "0.0001", "--batch-size", "32",
        "--no-early-stopping",
    )  # fmt: skip
    assert summary["settings"]["training"] == {
        "batch_size": 32,
        "early_stopping": False,
        "hidden_layer_sizes": [8, 4],
        "learning_rate": 0.005,
        "max_epochs": 2,
        "weight_decay": 0.0001,
    }


@pytest.mark.parametrize(
    "args, message",
    [
        ("--learning-rate 0", "--learning-rate 0.0: The 'learning_rate' parameter"),
        ("--batch-size 0", "--batch-size 0"),
        ("--n-seeds 0", "--n-seeds 0: train at least 1 seed"),
    ],
)
def test_bad_training_settings_name_the_option(tmp_path, capsys, args, message):
    status = main(["run", *args.split(), "--quiet", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("etap: error: ") and message in err
    assert not (tmp_path / "o").exists()


def test_targets_on_a_large_scale_train_once_standardized(tmp_path):
    frame = pd.read_csv(make_csv(tmp_path / "plant.csv"))
    frame["demand"] *= 1e4  # grams, not kilograms
    frame["load"] = frame["load"] * 1e4 + 5e5
    frame.to_csv(tmp_path / "big.csv", index=False)
    args = ["--data", str(tmp_path / "big.csv"), "--target", "demand"]
    args += ["--target", "load", "--target", "storm", "--epochs", "3"]
    summary, _ = run_cli(tmp_path, *args)
    assert summary["target_scale"]["load"]["mean"] == pytest.approx(5e5, rel=0.01)
    assert main(["run", *QUICK, *args, "--no-standardize-targets", "--out",
                 str(tmp_path / "raw")]) == 2  # fmt: skip


def test_the_verdict_warns_when_single_task_models_learned_nothing():
    refs = references_for(make_gains([-0.5, -0.5, -0.5, -0.5]))
    clean = refs["verdict"]
    qualify_unlearned(refs, [])
    assert refs["verdict"] == clean and refs["stl_no_better_than_trivial"] == []
    qualify_unlearned(refs, ["b", "d"])
    assert refs["verdict"].startswith(clean)
    assert "BUT the single-task models of 2 task(s) (b, d)" in refs["verdict"]
    assert refs["stl_no_better_than_trivial"] == ["b", "d"]


def test_a_chosen_all_tasks_group_shows_its_measured_gain(tmp_path):
    # Budget 1 leaves one cover, all tasks together: it was measured as the
    # reference answer, so the grouping must show that measurement.
    summary, _ = run_cli(tmp_path, "--max-samples", "300", "--budget", "1")
    (chosen,) = summary["selection"]["groups"]
    assert len(chosen["tasks"]) == len(summary["task_names"])
    together = summary["references"]["all_together"]["measured_gain"]
    assert chosen["measured_gain"] == pytest.approx(
        [together[name] for name in chosen["tasks"]]
    )


@pytest.mark.parametrize("measured", [None, 0.0])
def test_without_an_interval_the_verdict_says_what_would_give_one(measured):
    # Two tasks: one group, measured; fewer than 3 groups give no jackknife.
    refs = {
        "chosen": {
            "predicted_total_gain": 0.0,
            "interval": None,
            "measured_total_gain": measured,
        },
        "all_together": {"measured_total_gain": -0.131, "interval": None},
        "group_size_rule": {"predicted_total_gain": 0.0, "same_as_chosen": True},
        "beats_all_together": False,
        "beats_each_alone": False,
    }
    text = verdict(refs)
    assert "NO INTERVAL" in text
    if measured is None:
        assert "measure more groups (--groups)" in text
    else:  # every group was measured: only more seeds can give an interval
        assert "--groups" not in text
        assert "above all tasks in one model (+0.000 against -0.131)" in text
        assert "--n-seeds 2" in text


def test_a_grouping_trained_in_full_takes_its_interval_from_the_seeds_alone():
    # Every chosen group was measured, so the total is measured: the predictor's
    # refits say nothing about it, only the seeds do (none with one seed).
    def measured_choice(n_seeds):
        all_gains = make_gains([0.0] * 4, n_seeds=n_seeds)
        gains = subset_gains(all_gains, GROUPS)
        model = GroupSizeRule().fit(gains.X, gains.y)
        chosen = [g for g in GROUPS if len(g) == 2][0]
        rest = [(t,) for t in range(N_TASKS) if t not in chosen]
        groups = [chosen, *rest]
        task_group = [groups.index(next(g for g in groups if t in g)) for t in range(4)]
        measured = gains.y_per_seed[gains.row_group == GROUPS.index(chosen)]
        selection = Bunch(
            groups=groups, task_group=task_group, total=float(measured.mean(1).sum())
        )
        refs = reference_answers(
            model,
            (gains.X, gains.y, gains.y_per_seed, gains.row_group),
            all_gains,
            subset_gains(all_gains, [ALL]),
            selection,
            budget=3,
            mode="overlap",
            max_group_size=None,
            names=["a", "b", "c", "d"],
        )
        return refs["chosen"], measured.sum(axis=0)

    one, _ = measured_choice(1)
    assert one["interval"] is None and one["predicted_part"] is None
    assert one["interval_basis"] == "measured"
    three, totals = measured_choice(3)
    assert three["predicted_part"] is None
    low, high = three["interval"]
    se = np.std(totals, ddof=1) / np.sqrt(3)
    assert (high - low) / 2 == pytest.approx(1.96 * se)


@pytest.mark.slow
def test_the_parts_of_the_total_are_the_groups_measured_and_not(tmp_path, capsys):
    # Digits, 3 groups measured: whatever is chosen, the tasks served by a
    # trained group make the measured part, the others the predicted part,
    # and the two add up to the selection's total.
    summary, _ = run_cli(tmp_path, "--max-samples", "300")
    first = capsys.readouterr().out.splitlines()[0]
    chosen = summary["references"]["chosen"]
    served = {"measured": [], "predicted": []}
    for group in summary["selection"]["groups"]:
        if len(group["tasks"]) > 1:
            kind = "measured" if group["measured_gain"] else "predicted"
            served[kind] += group["scores_tasks"]
    parts = {"measured": chosen["measured_part"], "predicted": chosen["predicted_part"]}
    total = 0.0
    for kind, part in parts.items():
        assert sorted(part["tasks"] if part else []) == sorted(served[kind])
        total += part["total_gain"] if part else 0.0
    assert total == pytest.approx(chosen["predicted_total_gain"])
    basis = chosen["interval_basis"]
    assert basis == (
        "mixed"
        if all(parts.values())
        else "measured"
        if parts["measured"]
        else "predicted"
    )
    assert ("measured (" in first and "predicted (" in first) == (basis == "mixed")
