"""How the extractor's fit time depends on ``n_threads`` (the default is 1).

Data: scikit-learn's digits as 10 one-vs-rest tasks (``load_digits_tasks``).
Model: the extractor's defaults except ``max_epochs`` (``--epochs``), seed 0,
CPU, affinity recording on (the default). Each configuration of ``n_threads``
(1, 2, and ``None``: torch's own setting, one thread per core) runs
``--repeats`` times, interleaved in a shuffled order. The figures are medians of
wall time and of process CPU time of ``fit``, with the load average at the
start and end, since the point of the default is how a fit behaves when other
processes load the cores.

Usage::

    python benchmarks/bench_threads.py              # ~1 min on an idle 2-core machine
    python benchmarks/bench_threads.py --quick      # smoke test
"""

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap.datasets import load_digits_tasks

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 1, 1

    data = load_digits_tasks()
    torch.set_num_threads(os.cpu_count())  # the process's own setting, restored
    configs = {"1": 1, "2": 2, "torch default": None}
    order = [name for name in configs for _ in range(args.repeats)]
    random.Random(0).shuffle(order)
    wall = {name: [] for name in configs}
    cpu = {name: [] for name in configs}
    load_start = os.getloadavg()[0]
    for name in order:
        ext = TorchAffinityExtractor(
            max_epochs=args.epochs, random_state=0, n_threads=configs[name]
        )
        w0, c0 = time.perf_counter(), time.process_time()
        ext.fit(data.X_train, data.Y_train)
        wall[name].append(time.perf_counter() - w0)
        cpu[name].append(time.process_time() - c0)
        assert torch.get_num_threads() == os.cpu_count()
    load_end = os.getloadavg()[0]

    result = {
        "command": " ".join(["python benchmarks/bench_threads.py", *sys.argv[1:]]),
        "epochs": args.epochs,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "median_wall_seconds": {k: float(np.median(v)) for k, v in wall.items()},
        "median_cpu_seconds": {k: float(np.median(v)) for k, v in cpu.items()},
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    print(
        f"digits, 10 tasks, {args.epochs} epochs, {args.repeats} repeats, "
        f"{os.cpu_count()} cores, load average {load_start:.1f} -> {load_end:.1f}"
    )
    print(f"{'n_threads':>14} {'wall s':>8} {'CPU s':>8}")
    for name in configs:
        print(
            f"{name:>14} {result['median_wall_seconds'][name]:8.2f} "
            f"{result['median_cpu_seconds'][name]:8.2f}"
        )
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "threads.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
