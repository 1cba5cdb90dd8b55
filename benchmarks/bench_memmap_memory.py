"""Peak host memory of a fit on a memory-mapped file, and of a torch Dataset.

Writes a float32 ``.npy`` file of ``--gb`` gigabytes (``--n-features``
features per sample: a flattened 3 x 64 x 64 image by default) under
``--dir``, then fits ``TorchAffinityExtractor`` (the default MLP, one epoch,
early stopping on so the validation split streams too) in a fresh
subprocess per case and reads the subprocess's peak resident memory
(``VmHWM`` of ``/proc/self/status``; ``resource.getrusage``'s ``ru_maxrss``
would count the parent's memory at fork time too) and its resident memory
after the imports, before the fit:

- ``memmap``: ``X = np.load(path, mmap_mode="r")``, labels in memory;
- ``dataset``: a ``torch.utils.data.Dataset`` reading items from that map
  (a user's Dataset: its pages are not released, so this measures what a
  plain Dataset over a memory map costs);
- ``in_memory`` (only with ``--in-memory``): ``np.load(path)``, the array
  read whole, as the library trained before memory maps streamed.

Usage::

    nice -n 5 python benchmarks/bench_memmap_memory.py --gb 2
    nice -n 5 python benchmarks/bench_memmap_memory.py --gb 0.5 --in-memory

The figures and the command go to ``benchmarks/results/memmap_memory.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORKER = r"""
import sys, time, warnings
import numpy as np, torch
torch.set_num_threads(1)
from torch.utils.data import Dataset
from sklearn_etap import TorchAffinityExtractor

def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

class MapDataset(Dataset):
    def __init__(self, path, Y):
        self.path, self.Y, self.X = path, Y, None
    def __len__(self):
        return len(self.Y)
    def __getitem__(self, i):
        if self.X is None:
            self.X = np.load(self.path, mmap_mode="r")
        return np.asarray(self.X[i]), self.Y[i]

case, path, labels = sys.argv[1], sys.argv[2], sys.argv[3]
Y = np.load(labels)
before = status_mb("VmRSS")
ext = TorchAffinityExtractor(max_epochs=1, batch_size=256, early_stopping=True,
                             n_iter_no_change=1, device="cpu", random_state=0)
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    if case == "memmap":
        ext.fit(np.load(path, mmap_mode="r"), Y)
    elif case == "dataset":
        ext.fit(MapDataset(path, Y))
    else:
        ext.fit(np.load(path), Y)
wall = time.perf_counter() - start
# VmHWM: the peak of this program's own memory. ru_maxrss would also count
# the parent's resident memory at fork time (kept across exec by Linux).
peak = status_mb("VmHWM")
print(f"{before:.1f} {peak:.1f} {wall:.2f} {ext.n_steps_}")
"""


def write_file(path, n_samples, n_features, chunk=512):
    X = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_samples, n_features)
    )
    rng = np.random.RandomState(0)
    means = np.zeros(n_samples)
    for start in range(0, n_samples, chunk):
        block = rng.standard_normal((min(chunk, n_samples - start), n_features))
        X[start : start + len(block)] = block
        means[start : start + len(block)] = block[:, :8].mean(axis=1)
    X.flush()
    del X
    Y = np.c_[means, means > 0, np.sign(means) * means**2]
    return Y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--n-features", type=int, default=3 * 64 * 64)
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--in-memory", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "memmap_memory.json"))
    args = parser.parse_args()
    n_samples = int(args.gb * 2**30 / (4 * args.n_features))
    path = Path(args.dir) / f"etap_memmap_{n_samples}x{args.n_features}.npy"
    labels = path.with_suffix(".labels.npy")
    start = time.perf_counter()
    np.save(labels, write_file(path, n_samples, args.n_features))
    print(
        f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB) in "
        f"{time.perf_counter() - start:.0f} s"
    )
    cases = ["memmap", "dataset"] + (["in_memory"] if args.in_memory else [])
    results = {}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        for case in cases:
            out = subprocess.run(
                [sys.executable, "-c", WORKER, case, str(path), str(labels)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout.split()
            before, peak, wall, steps = map(float, out[-4:])
            results[case] = {
                "rss_before_fit_mb": before,
                "peak_rss_mb": peak,
                "fit_wall_seconds": wall,
                "n_steps": int(steps),
            }
            print(
                f"{case:10s} RSS before fit {before:7.0f} MB, peak {peak:7.0f} MB, "
                f"fit {wall:6.1f} s ({int(steps)} steps)"
            )
    finally:
        path.unlink()
        labels.unlink()
    record = {
        "command": "nice -n 5 python " + " ".join(sys.argv),
        "file_gib": n_samples * args.n_features * 4 / 2**30,
        "n_samples": n_samples,
        "n_features": args.n_features,
        "load_average": os.getloadavg(),
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
