"""The library on a CNN workload shaped like CelebA (issue 25, item 4).

Data: ``make_shapes`` (40 binary attributes of procedurally drawn shapes,
RGB 32x32, float32 in [0, 1]) written to a memory-mapped ``.npy`` file of
50,000 images (614 MB). Model: ``examples/shapes_cnn.py``'s ``ShapesResNet``
(77k weights) with one linear head per task; SGD, lr 0.01, momentum 0.9,
batch 128 (``cnn_workload.py``). One torch thread (``torch.set_num_threads(1)``)
in every process; each part subsamples the file (first rows: the draws are
independent) to stay short on a shared 2-core machine, and says how.

Parts (``--parts``, each stored under its own key of ``results/cnn.json``
with the command that made it, except ``throughput``, which has a file of
its own, ``results/cnn_throughput.json``; rerunning a part replaces only
that part; the top-level ``command`` lists the commands of the parts in the
file):

- ``throughput``: samples per CPU second of the hand-written loop
  (``plain_fit``) against ``TorchAffinityExtractor.fit`` with
  ``affinity=None`` (float32; also ``precision="bf16-mixed"`` and
  ``compile=True``) at 4,096 rows x 2 epochs, 1,024 x 8 and 8,192 x 3, 40
  tasks; interleaved, shuffled order, medians of repeats. A compiled fit
  first runs once untimed (its compilation, in inductor's worker
  processes, is reported apart: process CPU time does not see it; later
  fits of the same model hit inductor's cache). Then one cProfile run of
  the plain loop and of ``fit`` at the first setting, to say where the
  extractor's time goes.
- ``overhead``: ``fit`` with the default recording and with every step
  recorded, against ``affinity=None`` (and the hand-written loop), at 20
  and 40 tasks; interleaved, CPU time, 20 steps (one block of the default
  schedule: the default records exactly one of them); every step is
  recorded in the first round only (it costs several times the others).
- ``recording_profile``: one every-step fit (512 rows, 40 tasks) under
  cProfile: which part of a recorded step takes the time.
- ``memory``: peak resident memory (``ru_maxrss``, which counts the file's
  mapped pages too) and the peak of numpy's traced allocations
  (``tracemalloc``) of one ``fit`` in a fresh process, and the sampled peaks
  of its private memory and of its mapped file pages, at 10,000 and 40,000
  rows of the file, and on a 2 GB file (44,000 images of 64x64) with a cheap
  pooling encoder (the copy, not the model, decides host memory).
- ``workflow``: affinity, measured groups (``measure_gains``, 2 jobs), the
  ETAP search and ``GroupSelector`` at 20 and 40 tasks; wall times.

Usage (about 30 CPU minutes; the machine's load is recorded in the JSON)::

    nice -n 5 python benchmarks/bench_cnn.py
    nice -n 5 python benchmarks/bench_cnn.py --parts throughput overhead
    python benchmarks/bench_cnn.py --quick        # smoke test, seconds
"""

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from cnn_workload import ROOT, extractor, machine, plain_fit, timed  # noqa: E402
from memory_peaks import PeakSampler, status_mb  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_etap.datasets import make_shapes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cnn.json"
THROUGHPUT_RESULTS = ROOT / "benchmarks" / "results" / "cnn_throughput.json"
PARTS = ("throughput", "overhead", "recording_profile", "memory", "workflow")
FULL = dict(
    n_samples=50_000,
    throughput_settings=((4096, 2), (1024, 8), (8192, 3)),
    overhead_rows=2560,
    repeats=3,
    profile_rows=512,
    memory_rows=(10_000, 40_000),
    big_images=44_000,
    workflow_rows=2048,
    workflow_test=1024,
    workflow_epochs=2,
    workflow_groups=5,
)
QUICK = dict(n_samples=1200, throughput_settings=((256, 1), (128, 2)),
             overhead_rows=256, repeats=1, profile_rows=128, memory_rows=(256, 512),
             big_images=300, workflow_rows=256, workflow_test=128,
             workflow_epochs=1, workflow_groups=3)  # fmt: skip


class PooledLinear(nn.Module):
    """A cheap encoder (average pooling to 4x4, then a linear layer) for the
    2 GB memory case, where only the data's path through ``fit`` matters."""

    def __init__(self, n_features):
        super().__init__()
        self.side = int(round((n_features // 3) ** 0.5))
        self.net = nn.Sequential(
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 16), nn.ReLU()
        )

    def forward(self, x):
        return self.net(x.reshape(-1, 3, self.side, self.side))


def warm_up():
    """Pay once, untimed, what the first fit of a process pays: the first
    torch optimizer imports ``torch._dynamo`` (about 5 CPU seconds)."""
    X = np.random.RandomState(0).uniform(size=(16, 3 * 8 * 8)).astype(np.float32)
    Y = (X[:, :2] > 0.5).astype(np.float32)
    plain_fit(X, Y, "cpu", max_epochs=1)
    extractor("cpu", max_epochs=1, batch_size=8, affinity_every=1).fit(X, Y)


def _median_ratio(times, top, bottom):
    return float(np.median(times[top]) / np.median(times[bottom]))


def interleaved(runs, repeats, device="cpu", once=()):
    """CPU seconds of every run, repeats in a shuffled order each round; the
    runs named in ``once`` (the expensive ones) only in the first round."""
    times = {name: [] for name in runs}
    loads = []
    for repeat in range(repeats):
        order = list(runs)
        np.random.RandomState(repeat).shuffle(order)
        for name in order:
            if repeat and name in once:
                continue
            result = timed(runs[name], device)
            times[name].append(result["cpu_s"])
            loads.append(result["load_before"])
    return {k: v for k, v in times.items() if v}, loads


# where a fit's time can go, looked up by function name in the profile
PROFILED = (
    "validate_data",
    "split_task_data",
    "build_module",
    "evaluate_task_losses",
    "run_epoch",
    "masked_task_losses",
    "backward",
    "step",
    "zero_grad",
    "rows",
    "check_finite_task_losses",
    "warn_after_fit",
    "per_task_gradients",
    "descent_matrix",
    "set_training_gradients",
)


def profile_top(run, n=14):
    """One profiled run: its total, the most cumulative functions, and the
    cumulative seconds of the functions in :data:`PROFILED`."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows, named = [], {}
    for (file, line, name), (_, _, tottime, cumtime, _) in stats.stats.items():
        label = f"{Path(file).name}:{line}({name})"
        rows.append((cumtime, tottime, label))
        if name in PROFILED and not file.startswith("~"):
            named[label] = round(named.get(label, 0.0) + cumtime, 3)
    rows.sort(reverse=True)
    top = [
        {"function": f, "cum_s": round(c, 3), "own_s": round(t, 3)}
        for c, t, f in rows[:n]
    ]
    return stats.total_tt, top, named


FIT_OPTIONS = {
    "fit_affinity_none": {},
    "fit_bf16_mixed": {"precision": "bf16-mixed"},
    "fit_compiled": {"compile": True},
}


def throughput_at(X, Y, epochs, repeats):
    """Samples per CPU second of the plain loop and of ``fit`` (float32,
    bf16 autocast, compiled) on ``X, Y``."""

    def run_plain():
        plain_fit(X, Y, "cpu", max_epochs=epochs)

    def fit_with(options):
        ext = extractor("cpu", max_epochs=epochs, affinity=None, **options)
        return lambda: ext.fit(X, Y)

    runs = {"plain_loop": run_plain}
    runs.update({name: fit_with(options) for name, options in FIT_OPTIONS.items()})
    # the first compiled fit of a process compiles (worker processes: their
    # CPU time is not this process's); the timed ones hit inductor's cache
    first_compiled = timed(runs["fit_compiled"], "cpu")
    times, loads = interleaved(runs, repeats)
    rate = {k: len(X) * epochs / float(np.median(v)) for k, v in times.items()}
    figures = {
        "setup": f"{len(X)} rows x {epochs} epochs, 40 tasks, batch 128, 1 thread",
        "cpu_s": times,
        "samples_per_cpu_s": rate,
        "fit_vs_plain": rate["fit_affinity_none"] / rate["plain_loop"],
        "bf16_mixed_vs_plain": rate["fit_bf16_mixed"] / rate["plain_loop"],
        "compiled_vs_plain": rate["fit_compiled"] / rate["plain_loop"],
        "first_compiled_fit": first_compiled,
        "load_average_during": loads,
    }
    return figures, runs


def part_throughput(data, cfg):
    out = {"target": "fit_vs_plain >= 0.9", "settings": []}
    for n, epochs in cfg["throughput_settings"]:
        X, Y = data.X_train[:n], data.Y_train[:n]
        figures, runs = throughput_at(X, Y, epochs, cfg["repeats"])
        out["settings"].append(figures)
        print(json.dumps(figures, indent=1, default=str), flush=True)
        if "profile_fit" not in out:
            plain_total, plain_profile, _ = profile_top(runs["plain_loop"])
            fit_total, fit_profile, fit_parts = profile_top(runs["fit_affinity_none"])
            out.update(
                profile_setup=figures["setup"],
                profile_plain_total_s=plain_total,
                profile_plain=plain_profile,
                profile_fit_total_s=fit_total,
                profile_fit=fit_profile,
                profile_fit_parts_cum_s=fit_parts,
            )
    return out


def overhead_at(X, Y, repeats):
    """CPU seconds of plain, default and every-step fits of ``X, Y``."""

    def run(**params):
        return lambda: extractor("cpu", max_epochs=1, **params).fit(X, Y)

    runs = {
        "plain_loop": lambda: plain_fit(X, Y, "cpu", max_epochs=1),
        "affinity_none": run(affinity=None),
        "default": run(),
        "every_step": run(affinity_every=1),
    }
    times, loads = interleaved(runs, repeats, once=("every_step",))
    return {
        "cpu_s": times,
        "default_vs_none": _median_ratio(times, "default", "affinity_none"),
        "every_step_vs_none": _median_ratio(times, "every_step", "affinity_none"),
        "default_vs_plain_loop": _median_ratio(times, "default", "plain_loop"),
        "load_average_during": loads,
    }


def part_overhead(data, cfg):
    n = cfg["overhead_rows"]
    out = {"setup": f"{n} rows x 1 epoch = {n // 128} steps, batch 128, 1 thread"}
    for n_tasks in (20, 40):
        X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
        out[f"{n_tasks}_tasks"] = overhead_at(X, Y, cfg["repeats"])
    out["target"] = "default_vs_none <= 1.10"
    return out


def part_recording_profile(data, cfg):
    """Where a recorded step's time goes: one every-step fit under cProfile."""
    n = cfg["profile_rows"]
    X, Y = data.X_train[:n], data.Y_train[:n]
    total, top, parts = profile_top(
        lambda: extractor("cpu", max_epochs=1, affinity_every=1).fit(X, Y)
    )
    return {
        "setup": f"{n} rows x 1 epoch = {-(-n // 128)} steps, all recorded, 40 tasks",
        "profile_total_s": total,
        "profile_parts_cum_s": parts,
        "profile_top": top,
    }


def memory_child(x_path, y_path, rows, encoder, epochs):
    """One fit in this fresh process; print its peak memory as JSON."""
    import tracemalloc

    torch.set_num_threads(1)
    warm_up()
    baseline = status_mb()
    X = np.load(x_path, mmap_mode="r")[:rows]
    Y = np.load(y_path)[:rows]
    tracemalloc.start()
    params = {"encoder": PooledLinear} if encoder == "pooled" else {}
    sampler = PeakSampler()
    sampler.start()
    start = time.process_time()
    extractor("cpu", max_epochs=epochs, affinity=None, **params).fit(X, Y)
    cpu = time.process_time() - start
    sampler.done.set()
    sampler.join()
    traced_peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({
        "rows": rows,
        "data_mb": X.nbytes / 2**20,
        "rss_after_imports_mb": baseline,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_numpy_traced_mb": traced_peak / 2**20,
        "peak_private_mb_sampled": sampler.peaks["RssAnon"],
        "peak_file_pages_mb_sampled": sampler.peaks["RssFile"],
        "fit_cpu_s": cpu,
        "samples_per_cpu_s": rows * epochs / cpu,
    }))  # fmt: skip


def _child(x_path, y_path, rows, encoder):
    command = [sys.executable, __file__, "--memory-child", str(x_path), str(y_path),
               str(rows), encoder, "1"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_memory(data, cfg, tmp):
    y_path = Path(tmp) / "Y.npy"
    np.save(y_path, data.Y_train)
    out = {"cnn": [_child(data.path, y_path, r, "cnn") for r in cfg["memory_rows"]]}
    start = time.perf_counter()
    big = make_shapes(cfg["big_images"], n_tasks=40, image_size=64, test_size=0.001,
                      path=Path(tmp) / "big.npy", random_state=1)  # fmt: skip
    generate = time.perf_counter() - start
    np.save(y_path, big.Y_train)
    rows = len(big.X_train)
    file_mb = os.path.getsize(big.path) / 2**20
    del big
    out["big_file"] = {
        "file_mb": file_mb,
        "images": "64x64 RGB float32",
        "generate_wall_s": generate,
        **_child(Path(tmp) / "big.npy", y_path, rows, "pooled"),
    }
    out["target"] = "peak host memory < 1024 MB on a 2 GB memory-mapped file"
    return out


def workflow_at(n_tasks, data, cfg):
    """Wall and CPU seconds of every stage of the workflow on ``n_tasks`` tasks."""
    from sklearn_etap import (
        GroupSelector,
        make_etap_search,
        measure_gains,
        sample_groups,
    )

    n, n_test = cfg["workflow_rows"], cfg["workflow_test"]
    X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
    X_test, Y_test = data.X_test[:n_test], data.Y_test[:n_test, :n_tasks]
    names = data.task_names[:n_tasks]
    stages, state = {}, {}
    ext = extractor("cpu", max_epochs=cfg["workflow_epochs"])
    stages["affinity"] = timed(lambda: ext.fit(X, Y), "cpu")
    groups = sample_groups(n_tasks, cfg["workflow_groups"], 0, max_size=3)

    def gains():
        state["train"] = measure_gains(
            ext, X, Y, groups, X_test, Y_test, n_jobs=2, random_state=0,
            task_names=names, progress=False)  # fmt: skip

    stages["measure_gains"] = timed(gains, "cpu")
    train = state["train"]
    search = make_etap_search(ext.affinity_, n_train_groups=len(groups))
    stages["etap_search"] = timed(
        lambda: search.fit(train.X, train.y, groups=train.row_group), "cpu"
    )
    selector = GroupSelector(
        search.best_estimator_, n_groups=-(-n_tasks // 3) + 1, max_group_size=3,
        max_candidates=20_000, task_names=names, time_limit=30)  # fmt: skip
    stages["selection"] = timed(lambda: selector.fit(train.X, train.y), "cpu")
    return {
        "stages": stages,
        "total_wall_s": sum(s["wall_s"] for s in stages.values()),
        "trainings_in_measure_gains": len({t for g in groups for t in g}) + len(groups),
        "n_candidates": int(selector.n_candidates_),
        "selection_optimal": bool(selector.optimal_),
        "selection_gap": float(selector.gap_),
        "groups_chosen": [list(g) for g in selector.group_names_],
    }


def part_workflow(data, cfg):
    out = {"setup": f"{cfg['workflow_rows']} training and {cfg['workflow_test']} "
           f"test rows, {cfg['workflow_epochs']} epochs, {cfg['workflow_groups']} "
           "groups of 2-3 tasks, measure_gains n_jobs=2, selection over groups "
           "of up to 3 tasks, solver time limit 30 s"}  # fmt: skip
    for n_tasks in (20, 40):
        out[f"{n_tasks}_tasks"] = workflow_at(n_tasks, data, cfg)
    return out


def combined_command(results):
    """The commands that made the parts in the file, in order, joined by ``;``."""
    commands = [results[p]["command"] for p in PARTS if p in results]
    return " ; ".join(dict.fromkeys(commands))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--throughput-out", type=Path, default=THROUGHPUT_RESULTS,
        help="the throughput part's own result file",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = QUICK if args.quick else FULL
    command = "python benchmarks/bench_cnn.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    files = {
        path: json.loads(path.read_text()) if path.exists() else {}
        for path in (args.out, args.throughput_out)
    }
    warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = make_shapes(cfg["n_samples"], n_tasks=40, image_size=32,
                           path=Path(tmp) / "shapes.npy", random_state=0)  # fmt: skip
        data_entry = {
            "make_shapes": f"make_shapes({cfg['n_samples']}, n_tasks=40, "
            "image_size=32, path=..., random_state=0)",
            "generate_wall_s": time.perf_counter() - start,
            "file_mb": os.path.getsize(data.path) / 2**20,
            "storage": "float32 in [0, 1]: fit takes float32 rows as they are "
            "(uint8 would be converted to float64, 8x the bytes)",
            "command": command,
        }
        print(json.dumps(data_entry, indent=1))
        for part in args.parts:
            print(f"--- {part}", flush=True)
            if part == "throughput":
                figures = part_throughput(data, cfg)
            elif part == "overhead":
                figures = part_overhead(data, cfg)
            elif part == "recording_profile":
                figures = part_recording_profile(data, cfg)
            elif part == "memory":
                figures = part_memory(data, cfg, tmp)
            else:
                figures = part_workflow(data, cfg)
            figures["command"] = command
            figures["machine"] = machine()
            path = args.throughput_out if part == "throughput" else args.out
            results = files[path]
            results["data"] = data_entry
            results[part] = figures
            results["command"] = combined_command(results)
            print(json.dumps(figures, indent=1, default=str), flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=1, default=str) + "\n")
            print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        x_path, y_path, rows, encoder, epochs = sys.argv[2:7]
        memory_child(x_path, y_path, int(rows), encoder, int(epochs))
    else:
        main()
