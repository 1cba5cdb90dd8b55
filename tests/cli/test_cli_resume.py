"""`etap run --cache-dir`: a run killed midway resumes and retrains nothing
that had finished; the report folder appears whole or not at all."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_etap._cli import main

ROOT = Path(__file__).resolve().parents[2]


def make_csv(path, n=300, n_targets=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    for t in range(n_targets):
        frame[f"y{t}"] = X[:, t % 2] + 0.3 * rng.normal(size=n)
    frame.to_csv(path, index=False)
    return path


def run_args(data, out, cache, *extra):
    # 3 tasks, all 4 of their groups measured: no predictor to tune, so the
    # run is all trainings (the affinity model, 3 single-task, 4 groups).
    targets = [arg for t in range(3) for arg in ("--target", f"y{t}")]
    return [
        "run", "--data", str(data), *targets, "--groups", "4", "--epochs", "20",
        "--jobs", "1", "--quiet", "--out", str(out), "--cache-dir", str(cache),
        *extra,
    ]  # fmt: skip


def start(args, **env):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "sklearn_etap", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def entries(cache):
    """Every stored training and its modification time."""
    return {
        path: path.stat().st_mtime_ns
        for path in Path(cache).rglob("*")
        if path.is_file() and path.suffix in (".json", ".npz")
    }


def kill_after(proc, cache, n_entries, timeout=240):
    """SIGKILL ``proc`` once ``cache`` holds ``n_entries`` stored trainings."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gains = [p for p in entries(cache) if p.parent.name.startswith("format")]
        if len(gains) >= n_entries:
            break
        assert proc.poll() is None, f"the run ended first: {proc.communicate()}"
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.kill()
    proc.communicate()


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_report_and_retrains_nothing_finished(
    tmp_path,
):
    data = make_csv(tmp_path / "d.csv")
    reference = tmp_path / "reference"
    assert main(run_args(data, reference, tmp_path / "c0")) == 0

    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = start(run_args(data, out, cache))
    kill_after(proc, cache, n_entries=3)
    finished = entries(cache)
    assert any(p.name == "fitted.json" for p in finished)  # the affinity model
    # Killed midway: no report, only the staging folder, named as unfinished.
    assert not out.exists()
    assert [p.name for p in tmp_path.glob(".out.etap-partial-*")]

    proc = start(run_args(data, out, cache)[:-1] + [str(cache)])
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    after = entries(cache)
    # Nothing that had finished was trained (written) again ...
    assert {p: after[p] for p in finished} == finished
    # ... the rest was, and the report is the uninterrupted run's.
    assert len(after) > len(finished)
    got = json.loads((out / "summary.json").read_text())
    want = json.loads((reference / "summary.json").read_text())
    for key in ("selection", "measured_groups", "affinity", "prediction"):
        assert got[key] == want[key], key
    assert not list(tmp_path.glob(".out.etap-partial-*"))


def test_a_rerun_with_everything_cached_trains_nothing(tmp_path, capsys):
    data = make_csv(tmp_path / "d.csv", n=200)
    cache = tmp_path / "cache"
    args = run_args(data, tmp_path / "a", cache)
    args[args.index("--epochs") + 1] = "2"
    assert main(args) == 0
    before = entries(cache)
    args[args.index("--out") + 1] = str(tmp_path / "b")
    args.remove("--quiet")
    assert main(args) == 0
    assert entries(cache) == before
    assert "restored from --cache-dir" in "".join(capsys.readouterr())
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["selection"] == b["selection"] and a["affinity"] == b["affinity"]


@pytest.mark.slow
def test_adaptive_mode_killed_leaves_nothing_in_tmp(tmp_path):
    data = make_csv(tmp_path / "d.csv")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    args = run_args(data, out, "unused")
    args = args[: args.index("--cache-dir")] + ["--measure", "adaptive"]
    proc = start(args, TMPDIR=str(tmp))
    # The staging folder's gains cache fills up; kill after two trainings.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        stored = list(tmp_path.glob(".out.etap-partial-*/gains-*/format*/*.json"))
        if len(stored) >= 2:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not list(tmp.glob("*etap-gains-*")) and not list(tmp.glob("gains-*"))
    assert not out.exists()
    # The next run with the same --out clears the dead run's staging folder.
    args[args.index("--epochs") + 1] = "2"
    assert main(args) == 0
    assert (out / "summary.json").is_file()
    assert not list(tmp_path.glob(".out.etap-partial-*"))


def test_leftovers_of_a_run_killed_while_publishing_are_found(tmp_path):
    # A kill between publish's two renames leaves the earlier report swapped
    # out beside --out; the next run must clean it up like a staging folder.
    from sklearn_etap._cli.atomic import stale_partials

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs
    dead = child.pid
    for kind in ("etap-partial", "etap-old"):
        (tmp_path / f".out.{kind}-{dead}").mkdir()
    (tmp_path / f".out.etap-old-{os.getpid()}").mkdir()  # a live run's: kept
    names = sorted(p.name for p in stale_partials(tmp_path / "out"))
    assert names == sorted([f".out.etap-old-{dead}", f".out.etap-partial-{dead}"])


def test_the_affinity_entry_keys_seed_and_recording_not_progress(tmp_path):
    from sklearn_etap import TorchAffinityExtractor
    from sklearn_etap._cli.resume import affinity_entry

    X, Y = np.zeros((4, 2)), np.zeros((4, 2))
    base = TorchAffinityExtractor(random_state=0)
    entry = affinity_entry(tmp_path, base, X, Y)
    assert affinity_entry(tmp_path, base.set_params(verbose=True), X, Y) == entry
    for change in ({"random_state": 1}, {"affinity": "tag"}, {"max_epochs": 3}):
        other = TorchAffinityExtractor(**{"random_state": 0, **change})
        assert affinity_entry(tmp_path, other, X, Y) != entry, change


def test_a_stored_affinity_model_is_restored_whole(tmp_path, recwarn):
    # A multiclass task (3 outputs) and a user encoder whose sizes come from
    # the data: the restored model is built by the extractor's own
    # initialize_module, so its heads and encoder take the stored weights
    # (a module rebuilt with one output per task did not, and was retrained).
    import torch

    from sklearn_etap import TorchAffinityExtractor
    from sklearn_etap._cli.resume import fit_affinity_model

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    Y = np.c_[X[:, 0], rng.randint(3, size=60)]

    def extractor():
        return TorchAffinityExtractor(
            task_types=["regression", "multiclass"],
            encoder=lambda n: torch.nn.Sequential(torch.nn.LazyLinear(5)),
            max_epochs=3,
            device="cpu",
            random_state=0,
        )

    trained = extractor()
    assert fit_affinity_model(trained, X, Y, tmp_path) is False
    restored = extractor()
    assert fit_affinity_model(restored, X, Y, tmp_path) is True
    assert not [w for w in recwarn if "could not be read" in str(w.message)]
    np.testing.assert_array_equal(
        restored.predict_proba(X)[1], trained.predict_proba(X)[1]
    )
    np.testing.assert_array_equal(restored.transform(X), trained.transform(X))
    np.testing.assert_array_equal(restored.affinity_, trained.affinity_)
    np.testing.assert_array_equal(restored.n_outputs_, [1, 3])
