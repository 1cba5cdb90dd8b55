"""`etap run` with the defaults on 2, 40 and 100 targets and on 8 labels
beside 6 other label columns: exit status, wall time, load average.

Usage::

    nice -n 5 python benchmarks/bench_cli_scaling.py            # all cases
    nice -n 5 python benchmarks/bench_cli_scaling.py --cases 100

Each case writes a synthetic CSV (600 rows, 10 features; targets are noisy
functions of 4 hidden factors, every third one binary, the regression ones of
mean 0 and scale about 1), runs ``python -m sklearn_etap run`` on it in a
subprocess with the defaults (``--epochs 5`` for 100 targets, the issue's
setting) and records the wall time, the load average before and after, the
steps' times from ``summary.json``, the groups measured and the budget.
Writes ``benchmarks/results/cli_scaling.json`` (with the exact commands).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def synthetic(path, n_targets, n=600, n_features=10, seed=0):
    rng = np.random.RandomState(seed + n_targets)
    X = rng.normal(size=(n, n_features))
    factors = np.tanh(X @ rng.normal(size=(n_features, 4)))
    columns = {f"x{j}": X[:, j] for j in range(n_features)}
    for t in range(n_targets):
        y = factors[:, t % 4] * (1 + 0.2 * rng.rand()) + 0.5 * rng.normal(size=n)
        columns[f"t{t}"] = (y > 0).astype(int) if t % 3 == 2 else y
    pd.DataFrame(columns).to_csv(path, index=False)
    return [f"t{t}" for t in range(n_targets)]


def multilabel(path, n=2417, n_features=20, n_labels=14, seed=0):
    """8 labels to choose groups for, 6 more label columns in the same file."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    scores = X @ rng.normal(size=(n_features, n_labels)) / np.sqrt(n_features)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(n_features)])
    for k in range(n_labels):
        frame[f"label{k}"] = (scores[:, k] + rng.normal(size=n) > 0.3).astype(int)
    frame.to_csv(path, index=False)
    return [f"label{k}" for k in range(8)]


CASES = {
    "2": lambda p: (synthetic(p, 2), []),
    "40": lambda p: (synthetic(p, 40), []),
    "100": lambda p: (synthetic(p, 100), ["--epochs", "5"]),
    "8labels": lambda p: (multilabel(p), []),
}


def run_case(name, folder):
    data = folder / f"{name}.csv"
    targets, extra = CASES[name](data)
    out = folder / f"report-{name}"
    command = [sys.executable, "-m", "sklearn_etap", "run", "--data", str(data)]
    command += [arg for t in targets for arg in ("--target", t)]
    command += [*extra, "--quiet", "--out", str(out)]
    load_before = os.getloadavg()
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env={**os.environ}
    )
    wall = time.perf_counter() - start
    record = {
        "case": name,
        "command": " ".join(
            ["python -m sklearn_etap run --data", f"{name}.csv"]
            + [f"--target {t}" for t in targets[:3]]
            + ([f"... ({len(targets)} targets)"] if len(targets) > 3 else [])
            + extra
            + ["--quiet"]
        ),
        "returncode": done.returncode,
        "wall_seconds": round(wall, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "stderr_tail": done.stderr[-500:],
        "first_lines": done.stdout.splitlines()[:3],
    }
    if done.returncode == 0:
        summary = json.loads((out / "summary.json").read_text())
        record.update(
            n_tasks=len(summary["task_names"]),
            groups=summary["settings"]["groups"],
            budget=summary["settings"]["budget"],
            seconds=summary["seconds"],
            selection_optimal=summary["selection"].get("optimal"),
            selection_gap=summary["selection"].get("gap"),
            n_candidates=summary["selection"].get("n_candidates"),
            features=summary.get("features", {}).get("names"),
            targets_named=all(t in done.stdout for t in summary["task_names"][:1]),
        )
    print(
        f"{name}: rc {done.returncode}, {wall:.0f} s wall, load "
        f"{load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="etap-cli-scaling-") as folder:
        records = [run_case(name, Path(folder)) for name in args.cases]
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "cli_scaling.json"
    previous = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    for record in records:
        previous["runs"][record["case"]] = record
    # The full run (every case); a run of some --cases is noted in its records.
    previous["command"] = "nice -n 5 python benchmarks/bench_cli_scaling.py"
    previous.pop("script_command", None)
    for record in records:
        record["script_command"] = " ".join(
            ["nice -n 5 python benchmarks/bench_cli_scaling.py", *sys.argv[1:]]
        )
    previous["machine"] = f"{os.cpu_count()} cores, shared with other jobs"
    path.write_text(json.dumps(previous, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
