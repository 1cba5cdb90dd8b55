"""The CNN workload on CUDA: does the library's GPU path run, and how fast?

When a CUDA device is present this trains ``bench_cnn.py``'s workload
(``ShapesResNet`` on ``make_shapes`` images, 40 binary tasks, batch 128, SGD)
on it and reports: the device, samples per second of the hand-written loop
and of ``TorchAffinityExtractor.fit`` without recording, the recording
overhead (default and every step, against ``affinity=None``), the peak CUDA
memory of each (``torch.cuda.max_memory_allocated``), and whether the
affinity matrices are finite. Wall time with ``torch.cuda.synchronize``
around every run; each figure is the median of ``--repeats`` interleaved runs.
It writes ``results/gpu_check.json``.

Without CUDA it prints why it skips and exits with status 0, so it can run
anywhere (CI included). ``--device cpu`` runs the same measurements on the
CPU (no CUDA memory figures): a check of the script itself.

    python benchmarks/gpu_check.py               # about a minute on a GPU
    python benchmarks/gpu_check.py --device cuda:1 --n-samples 20000
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

SKIP_MESSAGE = "gpu_check: skipped, no CUDA device (torch {version}, {reason})."


def cuda_missing(device):
    """Why the check cannot run on ``device``, or None when it can."""
    if torch.device(device).type != "cuda":
        return None
    if not torch.cuda.is_available():
        built = "built without CUDA" if torch.version.cuda is None else "no GPU"
        return built
    index = torch.device(device).index or 0
    if index >= torch.cuda.device_count():
        return f"{device} asked for but {torch.cuda.device_count()} device(s) present"
    return None


def measure(device, n_samples, epochs, repeats):
    from cnn_workload import extractor, machine, plain_fit, timed

    from sklearn_etap.datasets import make_shapes

    data = make_shapes(n_samples, n_tasks=40, image_size=32, random_state=0)
    X, Y = data.X_train, data.Y_train
    runs = {
        "plain_loop": lambda: plain_fit(X, Y, device, max_epochs=epochs),
        "affinity_none": lambda: extractor(device, max_epochs=epochs, affinity=None),
        "default": lambda: extractor(device, max_epochs=epochs),
        "every_step": lambda: extractor(device, max_epochs=epochs, affinity_every=1),
    }
    on_cuda = torch.device(device).type == "cuda"
    wall = {name: [] for name in runs}
    peak_mb, finite = {}, {}
    for repeat in range(repeats + 1):  # the first round warms up, untimed
        for name, make in runs.items():
            if on_cuda:
                torch.cuda.reset_peak_memory_stats(device)
            model = None

            def run(make=make):
                nonlocal model
                model = make()
                if hasattr(model, "fit"):
                    model.fit(X, Y)

            result = timed(run, device)
            if repeat:
                wall[name].append(result["wall_s"])
            if on_cuda:
                peak_mb[name] = torch.cuda.max_memory_allocated(device) / 2**20
            if getattr(model, "affinity_", None) is not None:
                finite[name] = bool(np.isfinite(model.affinity_).all())
    samples = len(X) * epochs
    median = {name: float(np.median(times)) for name, times in wall.items()}
    return {
        "device": torch.cuda.get_device_name(device) if on_cuda else "cpu",
        "setup": f"{len(X)} rows x {epochs} epochs, 40 tasks, batch 128",
        "wall_s": wall,
        "samples_per_s": {name: samples / t for name, t in median.items()},
        "fit_vs_plain": median["plain_loop"] / median["affinity_none"],
        "default_vs_none": median["default"] / median["affinity_none"],
        "every_step_vs_none": median["every_step"] / median["affinity_none"],
        "peak_cuda_memory_mb": peak_mb,
        "affinity_finite": finite,
        "machine": machine(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-samples", type=int, default=12_500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "gpu_check.json"
    )
    args = parser.parse_args(argv)
    reason = cuda_missing(args.device)
    if reason is not None:
        print(SKIP_MESSAGE.format(version=torch.__version__, reason=reason))
        return 0
    results = measure(args.device, args.n_samples, args.epochs, args.repeats)
    results["command"] = "python benchmarks/gpu_check.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    print(json.dumps(results, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
