"""What the default affinity recording costs, and what a sparser one loses (issue 21).

The extractor records ETAP's exact score on one random step per block of
``affinity_every`` steps. A recorded step needs every task's gradient of the
shared weights: about one backward pass per task, against one for a plain
step. This script asks which interval to make the default, in four steps,
each a subcommand (run them one at a time, under ``nice -n 5``):

``profile``
    CPU milliseconds, one torch thread, of one step of the tiny and the wide
    model (below): a forward pass, a plain step (forward + backward of the
    summed loss), a recorded step with the per-task gradients in one batched
    backward pass (``gradient_method="batched"``, the default), and with one
    backward pass per task (``"loop"``); the extra cost of a recorded step in
    plain steps, and the overhead ``1 + extra / every`` that follows for each
    interval.
``record``
    For every exhaustive gain table (``benchmarks/data/gains_<table>.csv``),
    with the table's extractor settings: the affinity recorded at one step in
    ``k`` for ``k`` in ``--intervals`` and at every step, each for the
    extractor seeds ``--seeds`` (the schedule of sampled steps has its own
    random stream, so the trained model is the same whatever the interval);
    written to ``benchmarks/data/recordings_<table>.npz`` (keys
    ``every<k>_s<seed>``), which ``bench_within_task.py`` reads as the
    recordings ``aff_every<k>_s<seed>``. Prints each interval's agreement
    with every-step recording of the same seed (Pearson r over the
    off-diagonal entries, raw and after removing each target column's mean:
    *centred r*, the part within-task prediction can use).
``summary``
    Reads a ``bench_within_task.py`` result over those recordings and prints
    each interval's within-task r per table (mean over seeds, and its range)
    beside the constant-affinity ablation and the size rule.
``time``
    Interleaved fits, CPU time of ``fit`` (one torch thread): plain training
    (``affinity=None``) and sampling at each interval, on the tiny and the
    wide model, ``--repeats`` rounds in a shuffled order; medians, the paired
    ratio (median over rounds of a fit's time over the same round's plain
    fit) and its range.

Models (as ``bench_affinity_overhead.py``): digits as 10 one-vs-rest binary
tasks (1,797 samples, standardized), SGD (lr 0.01, momentum 0.9), 50 epochs;
``tiny`` is the extractor's default MLP (32, 16), batch 64 (1,450 steps);
``wide`` an MLP (512, 512), batch 256 (400 steps).

Usage::

    nice -n 5 python benchmarks/bench_recording_cost.py profile
    nice -n 5 python benchmarks/bench_recording_cost.py record
    PYTHONPATH=. nice -n 5 python benchmarks/bench_within_task.py --split tuning \\
        --draws 15 --methods etap_flat,size_rule,recording_intervals \\
        --out benchmarks/results/recording_interval_tuning.json
    nice -n 5 python benchmarks/bench_recording_cost.py summary \\
        benchmarks/results/recording_interval_tuning.json
    nice -n 5 python benchmarks/bench_recording_cost.py time --repeats 7
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from record_affinities import table_data, table_extractor, table_metadata  # noqa: E402

from sklearn_etap import TorchAffinityExtractor  # noqa: E402
from sklearn_etap._affinity.extractor import DEFAULT_AFFINITY_EVERY  # noqa: E402
from sklearn_etap._affinity.task_gradients import per_task_gradients  # noqa: E402
from sklearn_etap._affinity.training import masked_task_losses  # noqa: E402

DATA = HERE / "data"
RESULTS = HERE / "results"
MODELS = {
    "tiny": dict(hidden_layer_sizes=(32, 16), batch_size=64),
    "wide": dict(hidden_layer_sizes=(512, 512), batch_size=256),
}
TRAINING = dict(optimizer="sgd", learning_rate=0.01, momentum=0.9, max_epochs=50)
INTERVALS = (20, 50, 100)


def digits_tasks():
    X, digit = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, (digit[:, None] == np.arange(10)).astype(float)


def load_average():
    return list(os.getloadavg())


def command(argv):
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python benchmarks/bench_recording_cost.py", *args])


def write(report, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path}")


# --------------------------------------------------------------------------
# profile


def step_costs(X, Y, settings, repeats=40):
    """CPU ms of a forward pass, a plain step and a recorded step (both methods)."""
    ext = TorchAffinityExtractor(
        **settings, **{**TRAINING, "max_epochs": 1}, affinity=None, random_state=0
    ).fit(X, Y)
    module = ext.module_
    module.train()
    shared = [p for p in module.encoder.parameters() if p.requires_grad]
    heads = [p for p in module.heads.parameters() if p.requires_grad]
    batch = settings["batch_size"]
    xb = torch.tensor(X[:batch], dtype=torch.float32)
    yb = torch.tensor(Y[:batch], dtype=torch.float32)
    present = torch.ones_like(yb)
    is_binary = torch.ones(Y.shape[1], dtype=torch.bool)

    def losses():
        outputs, _ = module(xb)
        return masked_task_losses(outputs, yb, present, is_binary)[0]

    def forward():
        with torch.no_grad():
            losses()

    def plain():
        module.zero_grad(set_to_none=True)
        losses().sum().backward()

    def recorded(method):
        def batched():
            per_task_gradients(losses(), shared + heads)

        def loop():  # one backward pass per task through the kept graph
            task_losses = losses()
            for loss in task_losses:
                torch.autograd.grad(
                    loss, shared + heads, retain_graph=True, allow_unused=True
                )

        return batched if method == "batched" else loop

    steps = {
        "forward": forward,
        "plain_step": plain,
        "recorded_step_batched": recorded("batched"),
        "recorded_step_loop": recorded("loop"),
    }
    samples = {name: [] for name in steps}
    for _ in range(5):  # warm-up
        for run in steps.values():
            run()
    for _ in range(repeats):  # interleaved, one call at a time
        for name, run in steps.items():
            start = time.process_time()
            run()
            samples[name].append(1000 * (time.process_time() - start))
    return {name: float(np.median(v)) for name, v in samples.items()}


def profile(args):
    torch.set_num_threads(1)
    X, Y = digits_tasks()
    report = {
        "command": command(args.argv),
        "load_average_before": load_average(),
        "models": {},
    }
    for model, settings in MODELS.items():
        ms = step_costs(X, Y, settings)
        plain = ms["plain_step"]
        extra = {
            method: (ms[f"recorded_step_{method}"] - plain) / plain
            for method in ("batched", "loop")
        }
        predicted = {
            str(k): {m: 1 + e / k for m, e in extra.items()} for k in INTERVALS
        }
        report["models"][model] = {
            "settings": settings,
            "cpu_ms": ms,
            "backward_ms": plain - ms["forward"],
            "extra_plain_steps_per_recorded_step": extra,
            "predicted_overhead": predicted,
        }
        print(f"\n{model} {settings}: CPU ms per step (median of 40)")
        for name, value in ms.items():
            print(f"  {name:24s} {value:8.3f}")
        print(
            f"  backward of the summed loss {plain - ms['forward']:.3f} ms; "
            f"{Y.shape[1]} tasks' backward passes at that price: "
            f"{Y.shape[1] * (plain - ms['forward']):.3f} ms"
        )
        for method, e in extra.items():
            line = ", ".join(f"every {k}: {1 + e / k:.3f}x" for k in INTERVALS)
            print(f"  {method}: +{e:.2f} plain steps per recorded step; {line}")
    report["load_average_after"] = load_average()
    write(report, args.out or RESULTS / "recording_cost_profile.json")


# --------------------------------------------------------------------------
# record


def record_one(table, every, seed):
    torch.set_num_threads(1)
    metadata = table_metadata(table)
    data = table_data(metadata)
    ext = table_extractor(
        metadata,
        random_state=seed,
        affinity_every=every,
        affinity_control_variate=False,
    )
    ext.fit(data.X_train, data.Y_train)
    return table, every, seed, ext.affinity_, ext.n_steps_, ext.n_recorded_steps_


def pearson(a, b):
    off = ~np.eye(len(a), dtype=bool)
    return float(np.corrcoef(a[off], b[off])[0, 1])


def column_centred(A):
    off = ~np.eye(len(A), dtype=bool)
    means = np.where(off, A, 0).sum(axis=0) / (len(A) - 1)
    return np.where(off, A - means, 0.0)


def record(args):
    tables = args.tables or sorted(
        p.stem.removeprefix("gains_") for p in DATA.glob("gains_*.csv")
    )
    intervals = [int(k) for k in args.intervals.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(t, k, s) for t in tables for k in [1, *intervals] for s in seeds]
    start = time.perf_counter()
    load_before = load_average()
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(
        delayed(record_one)(*job) for job in jobs
    )
    report = {
        "command": command(args.argv),
        "load_average_before": load_before,
        "tables": {},
    }
    for table in tables:
        arrays, steps = {}, {}
        for name, every, seed, affinity, n_steps, n_recorded in results:
            if name == table:
                arrays[f"every{every}_s{seed}"] = affinity
                steps[f"every{every}_s{seed}"] = [n_steps, n_recorded]
        np.savez(DATA / f"recordings_{table}.npz", **arrays)
        agreement = {}
        for every in intervals:
            raw = [
                pearson(arrays[f"every{every}_s{s}"], arrays[f"every1_s{s}"])
                for s in seeds
            ]
            centred = [
                pearson(
                    column_centred(arrays[f"every{every}_s{s}"]),
                    column_centred(arrays[f"every1_s{s}"]),
                )
                for s in seeds
            ]
            agreement[str(every)] = {
                "r": raw,
                "centred_r": centred,
                "mean_r": float(np.mean(raw)),
                "mean_centred_r": float(np.mean(centred)),
                "recorded_steps": steps[f"every{every}_s{seeds[0]}"][1],
            }
        report["tables"][table] = {
            "n_steps": steps[f"every1_s{seeds[0]}"][0],
            "agreement_with_every_step": agreement,
        }
        print(f"\n{table}: {steps[f'every1_s{seeds[0]}'][0]} steps")
        for every, a in agreement.items():
            print(
                f"  every {every:>3s} ({a['recorded_steps']:4d} recorded): r "
                f"{a['mean_r']:.3f}, centred r {a['mean_centred_r']:.3f} "
                f"(seeds: {', '.join(f'{c:.3f}' for c in a['centred_r'])})"
            )
    report["wall_seconds"] = time.perf_counter() - start
    report["load_average_after"] = load_average()
    write(report, args.out or RESULTS / "recording_interval_agreement.json")


# --------------------------------------------------------------------------
# summary


def summary(args):
    result = json.loads(Path(args.result).read_text())
    out = {"source": str(args.result), "command": command(args.argv), "tables": {}}
    intervals = None
    for table, entry in result["tables"].items():
        methods = entry["sizes"]["10"]["summary"]
        by_interval = {}
        for name, figures in methods.items():
            if not name.startswith("aff_every"):
                continue
            every = int(name.removeprefix("aff_every").split("_s")[0])
            by_interval.setdefault(every, {"within": [], "noisy_within": []})
            for key in ("within", "noisy_within"):
                by_interval[every][key].append(figures[key]["mean"])
        intervals = sorted(by_interval)
        row = {
            str(k): {
                key: {
                    "mean_over_seeds": float(np.mean(v)),
                    "min": float(np.min(v)),
                    "max": float(np.max(v)),
                }
                for key, v in by_interval[k].items()
            }
            for k in intervals
        }
        for name in ("etap_flat", "size_rule"):
            if name in methods:
                row[name] = {
                    key: methods[name][key]["mean"]
                    for key in ("within", "noisy_within")
                }
        out["tables"][table] = row
    print(f"within r, mean over extractor seeds [range] (noisy): {args.result}")
    header = "".join(f"{f'every {k}':>30s}" for k in intervals)
    print(f"{'table':32s}{header}{'etap_flat':>16s}{'size_rule':>16s}")
    for table, row in out["tables"].items():
        line = f"{table:32s}"
        for k in intervals:
            w = row[str(k)]["within"]
            noisy = row[str(k)]["noisy_within"]["mean_over_seeds"]
            line += f" {w['mean_over_seeds']:.3f} [{w['min']:.3f}, {w['max']:.3f}]"
            line += f" ({noisy:.3f})"
        for name in ("etap_flat", "size_rule"):
            line += f"{row[name]['within']:16.3f}" if name in row else " " * 16
        print(line)
    default = Path(args.result).with_name(Path(args.result).stem + "_summary.json")
    write(out, args.out or default)


# --------------------------------------------------------------------------
# time


def time_fit(X, Y, params):
    ext = TorchAffinityExtractor(device="cpu", random_state=0, **params)
    start = time.process_time()
    ext.fit(X, Y)
    return time.process_time() - start, ext


def timings(args):
    torch.set_num_threads(1)
    X, Y = digits_tasks()
    intervals = [int(k) for k in args.intervals.split(",")]
    configs = {"plain": dict(affinity=None)}
    for k in intervals:
        configs[f"every_{k}"] = dict(affinity_every=k, affinity_control_variate=False)
    jobs = [(m, c) for m in MODELS for c in configs]
    cpu = {job: [] for job in jobs}
    recorded = {}
    loads = [load_average()]
    time_fit(X, Y, {"max_epochs": 1})  # first-call costs of torch
    order = np.random.RandomState(0)
    started = time.perf_counter()
    for repeat in range(args.repeats):
        for index in order.permutation(len(jobs)):
            model, config = jobs[index]
            params = {**MODELS[model], **TRAINING, **configs[config]}
            seconds, ext = time_fit(X, Y, params)
            cpu[model, config].append(seconds)
            recorded[model, config] = [ext.n_steps_, ext.n_recorded_steps_]
        loads.append(load_average())
        print(f"round {repeat + 1}/{args.repeats}, load {loads[-1]}", file=sys.stderr)
    report = {
        "command": command(args.argv),
        "timing": "process CPU seconds of fit, one torch thread, interleaved rounds",
        "training": TRAINING,
        "default_affinity_every": DEFAULT_AFFINITY_EVERY,
        "repeats": args.repeats,
        "load_average_per_round": loads,
        "wall_seconds": time.perf_counter() - started,
        "models": {},
    }
    for model, settings in MODELS.items():
        plain = np.array(cpu[model, "plain"])
        rows = {}
        print(f"\n{model} {settings}")
        print(
            f"  {'config':10s} {'median s':>9s} {'x plain':>8s} {'paired':>8s} "
            f"{'paired range':>15s} {'recorded':>9s}"
        )
        for config in configs:
            t = np.array(cpu[model, config])
            ratios = t / plain
            rows[config] = {
                "cpu_seconds": t.tolist(),
                "median_seconds": float(np.median(t)),
                "ratio_of_medians": float(np.median(t) / np.median(plain)),
                "paired_ratio_median": float(np.median(ratios)),
                "paired_ratio_quartiles": np.percentile(ratios, [25, 75]).tolist(),
                "paired_ratio_range": [float(ratios.min()), float(ratios.max())],
                "steps_recorded": recorded[model, config],
            }
            r = rows[config]
            print(
                f"  {config:10s} {r['median_seconds']:9.3f} "
                f"{r['ratio_of_medians']:8.3f} {r['paired_ratio_median']:8.3f} "
                f"  [{ratios.min():.3f}, {ratios.max():.3f}] "
                f"{r['steps_recorded'][1]:5d}/{r['steps_recorded'][0]}"
            )
        report["models"][model] = {"settings": settings, "configs": rows}
    write(report, args.out or RESULTS / "recording_cost.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("profile")
    p.add_argument("--out")
    p = sub.add_parser("record")
    p.add_argument("tables", nargs="*")
    p.add_argument("--intervals", default=",".join(map(str, INTERVALS)))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out")
    p = sub.add_parser("summary")
    p.add_argument("result")
    p.add_argument("--out")
    p = sub.add_parser("time")
    p.add_argument("--intervals", default=",".join(map(str, INTERVALS)))
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out")
    args = parser.parse_args(argv)
    args.argv = argv
    {"profile": profile, "record": record, "summary": summary, "time": timings}[
        args.step
    ](args)


if __name__ == "__main__":
    main()
