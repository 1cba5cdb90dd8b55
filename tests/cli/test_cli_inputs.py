"""`etap run --data`: inputs declared or shown, errors naming the real problem,
and the small command-line options (--version, -v/-q, --out checks)."""

import json

import numpy as np
import pandas as pd
import pytest

from sklearn_etap import __version__
from sklearn_etap._cli import job, main

QUICK = ["--epochs", "2", "--groups", "3", "--jobs", "1"]


def labels_csv(path, n=150, seed=0):
    """4 labels used as targets, 2 other label columns, 3 real features, a
    column with no values and a text column."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    frame = pd.DataFrame(X, columns=["f0", "f1", "f2"])
    for k in range(6):
        frame[f"L{k}"] = (X[:, k % 3] + rng.normal(size=n) > 0).astype(int)
    frame["empty"] = np.nan
    frame["note"] = "x"
    frame.to_csv(path, index=False)
    return path


TARGETS = ["--target", "L0", "--target", "L1", "--target", "L2", "--target", "L3"]


def run(tmp_path, capsys, *args):
    """Status, everything printed (the step messages may go to either
    stream), and stderr."""
    status = main(["run", *args, "--out", str(tmp_path / "o")])
    out, err = capsys.readouterr()
    return status, out + err, err


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained before refusing the input")

    monkeypatch.setattr(job, "fit_affinity_model", refuse)


def test_automatic_features_are_printed_and_reported_with_what_was_left_out(
    tmp_path, capsys
):
    data = labels_csv(tmp_path / "labels.csv")
    status, out, _ = run(tmp_path, capsys, "--data", str(data), *TARGETS, *QUICK)
    assert status == 0
    features = "f0, f1, f2, L4, L5"
    assert "features (5, every numeric column besides the targets" in out
    assert features in out
    assert "left out (empty): empty" in out and "left out (not numeric): note" in out
    assert "2 feature(s) hold only 0 and 1 (L4, L5)" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["features"]["names"] == ["f0", "f1", "f2", "L4", "L5"]
    assert summary["features"]["source"] == "automatic"
    assert summary["features"]["label_like"] == ["L4", "L5"]
    assert not {"L0", "L1", "L2", "L3"} & set(summary["features"]["names"])
    html = (tmp_path / "o" / "report.html").read_text()
    assert "Features (5," in html and "f0, f1, f2, L4, L5" in html
    # The measured gains are listed by task name, one signed gain per task.
    measured = html[html.index("<h2>Measured groups</h2>") :]
    for group in summary["measured_groups"]:
        gain = group["gain"][0]
        shown = "-" if gain is None else f"{gain:+.3f}"
        assert f"{group['tasks'][0]} {shown}" in measured


def test_declared_features_are_the_only_ones_used(tmp_path, capsys):
    data = labels_csv(tmp_path / "labels.csv")
    args = ["--data", str(data), *TARGETS, "--feature", "f0", "--feature", "f2"]
    status, out, _ = run(tmp_path, capsys, *args, *QUICK)
    assert status == 0
    assert "features (2, from --feature): f0, f2" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_features"] == 2 and summary["features"]["names"] == ["f0", "f2"]


@pytest.mark.parametrize(
    "text, args, message",
    [
        (
            "a,t1,t1,t2\n"
            + "".join(f"{i},{i % 2},{i % 3},{i % 2}\n" for i in range(40)),
            ["--target", "t1", "--target", "t2"],
            "the header names column 't1' 2 times (columns 2, 3)",
        ),
        ("a,b,c\n", ["--target", "b", "--target", "c"], "has a header (3 columns) "
         "but no rows of data"),
        ("", ["--target", "b", "--target", "c"], "is empty"),
        (
            "empty,lab,lab2\n" + "".join(f",{'yn'[i % 2]},{'uv'[i % 3 > 0]}\n"
                                          for i in range(40)),
            ["--target", "lab", "--target", "lab2"],
            "no usable feature column besides the 2 target(s) (left out, empty: "
            "empty); name the features with --feature COL",
        ),
        (
            "x,y0,y1\n" + "".join(f"{i},{i % 2},{i % 3}\n" for i in range(40)),
            ["--target", "y0", "--target", "y1", "--feature", "y0"],
            "--feature y0 is also a --target; a target is never a feature",
        ),
    ],
)  # fmt: skip
def test_bad_tables_name_the_real_problem_before_training(
    tmp_path, capsys, monkeypatch, text, args, message
):
    no_training(monkeypatch)
    (tmp_path / "d.csv").write_text(text)
    status, _, err = run(tmp_path, capsys, "--data", str(tmp_path / "d.csv"), *args)
    assert status == 2 and err.count("\n") == 1
    assert message in err, err


@pytest.mark.parametrize("make", ["file", "other folder"])
def test_an_out_that_is_a_file_or_a_foreign_folder_fails_before_training(
    tmp_path, capsys, monkeypatch, make
):
    no_training(monkeypatch)
    out = tmp_path / "o"
    if make == "file":
        out.write_text("mine")
    else:
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
    status, _, err = run(tmp_path, capsys, "--max-samples", "100")
    assert status == 2
    assert "--out" in err and ("is a file" in err or "not an etap report" in err)
    assert (out if make == "file" else out / "thesis.tex").read_text() == "mine"


def test_an_earlier_report_is_replaced_whole(tmp_path, capsys):
    data = labels_csv(tmp_path / "labels.csv")
    args = ["--data", str(data), *TARGETS, *QUICK, "--quiet"]
    assert run(tmp_path, capsys, *args)[0] == 0
    (tmp_path / "o" / "stale.png").write_text("from an older run")
    assert run(tmp_path, capsys, *args, "--budget", "4")[0] == 0
    assert not (tmp_path / "o" / "stale.png").exists()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["settings"]["budget"] == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_version_and_verbosity(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"etap (sklearn-etap) {__version__}"
    with pytest.raises(SystemExit):
        main(["run", "-q", "-v"])  # one or the other
    assert "not allowed with argument" in capsys.readouterr().err

    data = labels_csv(tmp_path / "labels.csv")
    args = ["--data", str(data), *TARGETS, *QUICK]
    status, quiet, err = run(tmp_path, capsys, *args, "-q")
    assert status == 0 and err == ""  # nothing but the result
    assert not any(line.startswith(("data:", "[1/4]")) for line in quiet.splitlines())
    status, verbose, _ = run(tmp_path, capsys, *args, "-v")
    assert status == 0 and "[1/4]" in verbose
    # -v adds which group serves each task, one line per task.
    for name in ("L0", "L1", "L2", "L3"):
        assert any(line.strip().startswith(f"{name}: served by") for line in
                   verbose.splitlines())  # fmt: skip
