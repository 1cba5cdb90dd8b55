"""Peak host memory of the CNN workload on memory-mapped image files (issue 25).

For each file size (``--gb``, default 0.5 and 2 GiB) ``make_shapes`` writes
64x64 RGB float32 images with 40 binary tasks to a ``.npy`` file (in a child
process: this driver imports neither torch nor the package, so it stays
small), and each case runs in a fresh child process on that memory map
(``np.load(path, mmap_mode="r")``), with ``examples/shapes_cnn.py``'s
``ShapesResNet`` (batch 128, one torch thread):

- ``fit``: ``TorchAffinityExtractor.fit`` on every image, 1 epoch, the
  default affinity recording, ``early_stopping=True`` (the validation split,
  10% of the images, is scored after the epoch);
- ``gains``: ``measure_gains`` (one group of 2 tasks: three trainings on the
  first 2,048 images, ``affinity=None``, ``n_jobs=1``), each model scored
  on all the other images of the file (the test scoring);
- ``dataset``: ``fit`` (1 epoch, ``early_stopping=True``, ``affinity=None``)
  on a ``torch.utils.data.Dataset`` whose items index the memory map, as a
  user's Dataset over a ``.npy`` file would;
- ``dataset_file``: the same with a Dataset that reads each item from the
  file (``os.preadv``) instead of through a mapping.

Each child reports its peak resident memory (``VmHWM`` of
``/proc/self/status``, the whole process: torch's libraries, private memory
and mapped file pages; ``ru_maxrss`` too) and the peaks of its private
memory (``RssAnon``) and its mapped file pages (``RssFile``) sampled every
20 ms, with its memory after the imports. The target compares ``VmHWM``
with 1 GiB.

Usage (about 40 CPU minutes for both sizes)::

    nice -n 5 python benchmarks/bench_cnn_memory.py
    python benchmarks/bench_cnn_memory.py --quick   # smoke test, 1 minute

The figures go to ``benchmarks/results/cnn_memory.json``, each case with
its command, the load average and the commit; a rerun of some sizes or cases
(``--gb 0.5 --cases gains``) replaces only those.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMAGE_SIZE = 64
IMAGE_BYTES = 3 * IMAGE_SIZE * IMAGE_SIZE * 4
CASES = ("fit", "gains", "dataset", "dataset_file")
GAINS_TRAIN_ROWS = 2048

CHILD = r"""
import json, os, resource, sys, time, warnings
sys.path[:0] = [ROOT, ROOT + "/examples", ROOT + "/benchmarks"]
import numpy as np
from memory_peaks import PeakSampler, status_mb


def make(path, labels, n_images):
    from sklearn_etap.datasets import make_shapes

    data = make_shapes(n_images, n_tasks=40, image_size=IMAGE_SIZE,
                       test_size=0.001, path=path, random_state=0)
    np.save(labels, np.vstack([data.Y_train, data.Y_test]))


def measure(case, path, labels):
    import torch
    from torch.utils.data import Dataset
    from cnn_workload import extractor
    from sklearn_etap import measure_gains

    torch.set_num_threads(1)

    class MapItems(Dataset):
        # a user's Dataset over a .npy file: items index the memory map
        def __init__(self, path, Y):
            self.path, self.Y, self.X = path, Y, None

        def __len__(self):
            return len(self.Y)

        def __getitem__(self, i):
            if self.X is None:
                self.X = np.load(self.path, mmap_mode="r")
            return np.asarray(self.X[i]), self.Y[i]

    class FileItems(Dataset):
        # a Dataset reading each item from the .npy file, not through a map
        def __init__(self, path, Y):
            X = np.load(path, mmap_mode="r")
            self.offset, self.shape, self.dtype = X.offset, X.shape[1:], X.dtype
            self.row_bytes = X[:1].nbytes
            self.path, self.Y, self.fd = path, Y, None

        def __len__(self):
            return len(self.Y)

        def __getitem__(self, i):
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDONLY)
            item = bytearray(self.row_bytes)
            os.preadv(self.fd, [item], self.offset + i * self.row_bytes)
            return np.frombuffer(item, self.dtype).reshape(self.shape), self.Y[i]

    X = np.load(path, mmap_mode="r")
    Y = np.load(labels)
    after_imports = {f: status_mb(f) for f in ("VmRSS", "RssAnon", "RssFile")}
    sampler = PeakSampler()
    sampler.start()
    start, cpu = time.perf_counter(), time.process_time()
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case == "fit":
            ext = extractor("cpu", max_epochs=1, early_stopping=True).fit(X, Y)
            out = {"n_steps": ext.n_steps_, "images_read": len(X)}
        elif case in ("dataset", "dataset_file"):
            ext = extractor("cpu", max_epochs=1, early_stopping=True, affinity=None)
            ext.fit((MapItems if case == "dataset" else FileItems)(path, Y))
            out = {"n_steps": ext.n_steps_, "images_read": len(X)}
        else:
            n = min(GAINS_TRAIN_ROWS, len(X) // 2)
            ext = extractor("cpu", max_epochs=1, affinity=None)
            result = measure_gains(ext, X[:n], Y[:n], [(0, 1)], X[n:], Y[n:],
                                   n_jobs=1, random_state=0)
            out = {"trainings": 3, "train_images": n, "test_images": len(X) - n,
                   "test_losses_stl": result.stl_loss[:2].tolist(),
                   "test_losses_group": result.mtl_loss.tolist()}
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    sampler.done.set()
    sampler.join()
    print(json.dumps({
        **out,
        "after_imports_mb": after_imports,
        "peak_resident_mb": status_mb("VmHWM"),
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_private_mb_sampled": sampler.peaks["RssAnon"],
        "peak_file_pages_mb_sampled": sampler.peaks["RssFile"],
        "wall_s": wall,
        "cpu_s": cpu,
    }))


if sys.argv[1] == "make":
    make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
else:
    measure(sys.argv[1], sys.argv[2], sys.argv[3])
"""


def child(*args):
    code = (
        f"ROOT = {str(ROOT)!r}\nIMAGE_SIZE = {IMAGE_SIZE}\n"
        f"GAINS_TRAIN_ROWS = {GAINS_TRAIN_ROWS}\n" + CHILD
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--quick", action="store_true", help="tiny files, no JSON")
    parser.add_argument("--out", default=str(HERE / "results" / "cnn_memory.json"))
    args = parser.parse_args()
    sizes = [0.01, 0.02] if args.quick else args.gb
    command = "nice -n 5 python " + " ".join(sys.argv)
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {}
    record.update(
        {
            "images": f"{IMAGE_SIZE}x{IMAGE_SIZE} RGB float32, 40 binary tasks",
            "model": "examples/shapes_cnn.py ShapesResNet, batch 128, 1 torch thread",
            "target": "peak resident memory (VmHWM) < 1024 MB on a 2 GB file",
            "machine": "2 cores shared by up to 6 helper sessions at once",
        }
    )
    record.setdefault("sizes", {})
    # the commands of every run gathered in the file, joined by " ; "
    commands = [c for c in record.get("command", "").split(" ; ") if c]
    if command not in commands:
        record["command"] = " ; ".join([*commands, command])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    for gb in sizes:
        n_images = int(gb * 2**30 / IMAGE_BYTES)
        path = Path(args.dir) / f"etap_cnn_memory_{n_images}.npy"
        labels = path.with_suffix(".labels.npy")
        start = time.perf_counter()
        try:
            child("make", path, labels, n_images)
            entry = record["sizes"].setdefault(f"{gb:g} GiB", {})
            entry.update({
                "file_mb": path.stat().st_size / 2**20,
                "n_images": n_images,
                "generate_wall_s": time.perf_counter() - start,
            })  # fmt: skip
            print(f"{gb} GiB: {n_images} images, {entry['file_mb']:.0f} MB")
            for case in args.cases:
                load = os.getloadavg()
                figures = child(case, path, labels)
                entry[case] = {**figures, "command": command, "commit": commit,
                               "load_average_1_5_15": load}  # fmt: skip
                print(
                    f"  {case:8s} peak resident {figures['peak_resident_mb']:6.0f} MB "
                    f"(private {figures['peak_private_mb_sampled']:5.0f}, file pages "
                    f"{figures['peak_file_pages_mb_sampled']:5.0f}; after imports "
                    f"{figures['after_imports_mb']['VmRSS']:4.0f}), "
                    f"{figures['cpu_s']:5.0f} CPU s, {figures['wall_s']:5.0f} s",
                    flush=True,
                )
        finally:
            for leftover in (path, labels):
                if leftover.exists():
                    leftover.unlink()
        if not args.quick:  # each size as soon as it is measured
            out.write_text(json.dumps(record, indent=2) + "\n")
    if not args.quick:
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
