"""`etap run` end to end in a subprocess, and its one-line errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_etap._cli import main

ROOT = Path(__file__).resolve().parents[2]
# Few epochs, groups and samples: the whole job in seconds.
QUICK = ["--epochs", "2", "--groups", "3", "--jobs", "1", "--quiet"]


def etap(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sklearn_etap", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def make_csv(path, n=160, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    frame = pd.DataFrame(X, columns=["temp", "wind", "hour"])
    frame["demand"] = X[:, 0] + 0.1 * rng.normal(size=n)
    frame["load"] = X[:, 0] + X[:, 1] + 0.1 * rng.normal(size=n)
    frame["storm"] = np.where(X[:, 1] > 0, "yes", "no")  # a two-class text column
    frame["site"] = "a"  # text, not a feature
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_run_on_builtin_digits_writes_the_report(tmp_path):
    out = tmp_path / "report"
    done = etap("run", *QUICK, "--max-samples", "300", "--budget", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # --quiet: no progress bars
    for name in (
        "affinity.png",
        "predicted_vs_measured.png",
        "groups.csv",
        "measured_gains.csv",
        "summary.json",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    names = [f"digit_{k}" for k in range(10)]
    assert summary["task_names"] == names
    chosen = summary["selection"]["groups"]
    assert 1 <= len(chosen) <= 2
    # Every task is covered by the chosen groups, named as in the data.
    assert sorted({t for g in chosen for t in g["tasks"]}) == names
    assert len(summary["measured_groups"]) == 3
    assert "total gain (measured where known, else predicted)" in done.stdout
    assert chosen[-1]["tasks"][0] in done.stdout
    html = (out / "report.html").read_text()
    assert 'src="affinity.png"' in html and "digit_" in html


@pytest.mark.slow
def test_run_on_a_csv_with_named_targets(tmp_path):
    data = make_csv(tmp_path / "plant.csv")
    out = tmp_path / "out"
    done = etap(
        "run", "--data", data, "--target", "demand", "--target", "load",
        "--target", "storm", *QUICK, "--budget", "2", "--mode", "partition",
        "--out", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task_names"] == ["demand", "load", "storm"]
    assert summary["task_types"] == ["regression", "regression", "binary"]
    assert summary["n_features"] == 3  # temp, wind, hour; not the text column
    chosen = [g["tasks"] for g in summary["selection"]["groups"]]
    flat = [t for g in chosen for t in g]
    assert sorted(flat) == ["demand", "load", "storm"]  # partition: each once
    groups_csv = (out / "groups.csv").read_text()
    assert "storm" in groups_csv
    measured = pd.read_csv(out / "measured_gains.csv")
    assert set(measured["task_name"]) <= {"demand", "load", "storm"}


BAD_INPUT = [
    ("--data missing.csv --target a", "missing.csv: no such file"),
    ("--data {csv} --target demand --target nope", "--target nope: no such column"),
    ("--data {csv} --target demand", "at least 2 --target"),
    ("--data {csv} --target demand --target site", "--target site has one class"),
    ("--data {few} --target demand --target load", "--target demand has 12 labels"),
    ("--data {csv} --target demand --target load --feature site", "not numeric"),
    ("--data {csv}", "--target COL"),
    ("--data {txt} --target a --target b", "unknown file type"),
    ("--budget 0", "--budget 0: choose at least 1 group"),
    ("--groups 1", "--groups 1: measure at least 2 groups"),
    ("--target a", "give it too"),
    ("--dataset nope", "invalid choice"),
    ("--groups many", "invalid int value"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_gives_one_line_and_status_2(tmp_path, capsys, args, message):
    csv = make_csv(tmp_path / "d.csv")
    few = make_csv(tmp_path / "few.csv", n=12)
    (tmp_path / "d.txt").write_text("a,b\n1,2\n")
    paths = {"csv": csv, "few": few, "txt": tmp_path / "d.txt"}
    args = args.format(**paths).split()
    try:
        status = main(["run", *args, "--quiet", "--out", str(tmp_path / "o")])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("etap: error: "), err
    assert message in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_bad_input_in_a_subprocess_exits_2_without_traceback(tmp_path):
    done = etap("run", "--groups", "5000", "--quiet", cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == (
            "etap: error: --groups 5000: 10 tasks have only 1013 groups of 2 or "
            "more tasks; lower --groups."
        )
        or "Traceback" not in done.stderr
    )
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_adaptive_measurement_measures_the_budget_and_says_what_it_selected_from(
    tmp_path, capsys
):
    out = tmp_path / "adaptive"
    args = ["run", "--measure", "adaptive", *QUICK, "--max-samples", "200"]
    assert main([*args, "--budget", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["measure"] == "adaptive"
    assert len(summary["measured_groups"]) == 3  # --groups: the trainings spent
    assert summary["selection"]["basis"].startswith("measured gains where known")
    measured = {tuple(g["tasks"]) for g in summary["measured_groups"]}
    for group in summary["selection"]["groups"]:
        # A chosen group shows its measured gain exactly when it was measured.
        was_measured = tuple(group["tasks"]) in measured
        assert (group["measured_gain"] is not None) == was_measured
    assert "measured where known" in capsys.readouterr().out


def test_a_reader_that_leaves_ends_the_run_quietly(monkeypatch, capfd):
    # `etap run | head -1`: stdout's reader exits before the result is printed.
    import importlib
    import signal

    cli_main = importlib.import_module("sklearn_etap._cli.main")

    def closed_pipe(options):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli_main, "run", closed_pipe)
    # The run points stdout's descriptor at /dev/null; give it back afterwards.
    stdout_fd = sys.stdout.fileno()
    saved = os.dup(stdout_fd)
    try:
        status = cli_main.main(["run", "--quiet"])
    finally:
        os.dup2(saved, stdout_fd)
        os.close(saved)
    assert status == 128 + signal.SIGPIPE
    assert "error" not in capfd.readouterr().err


@pytest.mark.slow
def test_linearized_check_reports_the_agreement_it_computes(tmp_path, capsys):
    csv = make_csv(tmp_path / "d.csv")
    out = tmp_path / "lin"
    args = ["run", "--data", str(csv), "--target", "demand", "--target", "load"]
    args += ["--target", "storm", "--epochs", "3", "--groups", "4", "--jobs", "1"]
    assert main([*args, "--quiet", "--linearized", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    summary = json.loads((out / "summary.json").read_text())
    check = summary["linearized"]
    # 3 tasks: all 4 groups of 2+ tasks measured, 3 + 3 * 2 rows
    assert check["n_rows"] == 9 and check["n_parameters"] > 0
    assert printed[0] == summary["references"]["verdict"]  # first line unchanged
    line = [p for p in printed if p.startswith("linearized gain estimate")]
    assert len(line) == 1 and check["verdict"] in line[0]
    assert "linearized estimate hold" in (out / "report.html").read_text()
    # off by default: nothing computed, nothing said
    plain = tmp_path / "plain"
    assert main([*args, "--quiet", "--out", str(plain)]) == 0
    assert "linearized gain" not in capsys.readouterr().out
    assert json.loads((plain / "summary.json").read_text())["linearized"] is None
