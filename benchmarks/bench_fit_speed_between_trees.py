"""CPU time of ``TorchAffinityExtractor.fit`` in two checkouts, interleaved.

Checks that a change to the training loop leaves the array path's speed as
it was. Each measurement is a fresh process importing sklearn_etap from one
checkout (``PYTHONPATH``), fitting the default extractor (tiny MLP (32, 16),
50 epochs, batch 64, SGD, affinity sampled every 20 steps) on 2000 samples x
20 features and 5 tasks with one torch thread, ``--reps`` times with the same
seed; its figure is the least CPU time (``time.process_time``) of those fits.
The checkouts alternate (old, new, then new, old, ...) ``--pairs`` times.

Usage::

    mkdir /tmp/etap_old && git archive <commit> | tar -x -C /tmp/etap_old
    nice -n 5 python benchmarks/bench_fit_speed_between_trees.py \
        --old /tmp/etap_old --new .

The figures and the command go to ``--out``
(``benchmarks/results/fit_speed_between_trees.json``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import sys, time, warnings
import numpy as np, torch
torch.set_num_threads(1)
from sklearn_etap import TorchAffinityExtractor
rng = np.random.RandomState(0)
X = rng.normal(size=(2000, 20))
Y = np.c_[X[:, :3] @ rng.normal(size=(3, 4)), X[:, 0] > 0]
times = []
for _ in range(int(sys.argv[1])):
    ext = TorchAffinityExtractor(device="cpu", random_state=0)
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext.fit(X, Y)
    times.append(time.process_time() - start)
print(min(times))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default=".")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument(
        "--out",
        default=str(Path(__file__).parent / "results" / "fit_speed_between_trees.json"),
    )
    args = parser.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    seconds = {name: [] for name in trees}
    loads = []
    for pair in range(args.pairs):
        order = list(trees) if pair % 2 == 0 else list(reversed(trees))
        for name in order:
            out = subprocess.run(
                [sys.executable, "-c", WORKER, str(args.reps)],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": trees[name]},
                cwd=trees[name],
                check=True,
            ).stdout
            seconds[name].append(float(out.split()[-1]))
        loads.append(os.getloadavg()[0])
        print(
            pair,
            {k: round(v[-1], 3) for k, v in seconds.items()},
            f"load {loads[-1]:.1f}",
        )
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    ratio = medians["new"] / medians["old"]
    paired = [b / a for a, b in zip(seconds["old"], seconds["new"])]
    print(f"median of the paired new/old ratios: {statistics.median(paired):.3f}")
    print(
        f"median CPU s: old {medians['old']:.3f}, new {medians['new']:.3f}; "
        f"new/old {ratio:.3f}"
    )
    record = {
        "command": "nice -n 5 python " + " ".join(sys.argv),
        "trees": trees,
        "cpu_seconds": seconds,
        "median_cpu_seconds": medians,
        "ratio_new_over_old": ratio,
        "median_paired_ratio": statistics.median(paired),
        "load_average_1min": loads,
    }
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
