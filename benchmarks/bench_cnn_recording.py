"""What ``affinity_every="auto"`` costs on the CNN workload, and what it keeps.

The default interval is ``100 + 20 * max(0, n_tasks - 10)`` on a training
long enough to hold 4 such blocks (``auto_recording_interval``): 300 at 20
tasks, 700 at 40. A recorded step costs about one backward pass per task,
so the recording's share of the training is the same in every block: one
block measures it.

Parts (``--parts``; each stored under its own key of
``results/cnn_recording.json`` with the command that made it):

- ``cost``: ``fit`` (``cnn_workload.py``'s ShapesResNet, batch 128, one torch
  thread) with ``affinity=None`` and with the long-training default interval,
  on 1,280 images (10 steps an epoch) for as many epochs as one block takes
  (20 tasks: 30 epochs, 300 steps; 40 tasks: 70 epochs, 700 steps; one
  recorded step each); interleaved rounds in a shuffled order, process CPU
  time, medians.
  The interval is passed as the integer "auto" gives a long training (this
  one-block run is shorter than 4 blocks, where "auto" would record more).
  From the measured extra cost of a recorded step it also predicts the
  overhead at one step in 20 and 100.
- ``fidelity``: ONE every-step fit at 20 tasks (the same 1,280 images for
  ``--fidelity-epochs`` epochs) that keeps every step's score matrix; then
  the extractor's estimator (one uniformly drawn step per block of k,
  weighted by the block's length) is simulated ``--draws`` times for each k,
  and its agreement with the every-step mean is reported: Pearson r over the
  off-diagonal entries, raw and after removing each target column's mean
  (*centred r*, what the per-task levels of the predictor absorb). Its CPU
  time, against ``cost``'s ``affinity=None`` fit of the same training, is the
  every-step overhead.
- ``mlp_fidelity``: the same on an MLP (512, 512), batch 256, on the same
  images flattened, at 40 tasks.
- ``step_costs``: CPU ms of one step of the CNN at 20 and 40 tasks, batch
  128 (median of 7 interleaved calls): a plain step (forward, backward of
  the summed loss), the recorded step's per-task gradients of the shared
  weights as the extractor computes them (one batched backward pass,
  ``per_task_gradients``) and as a loop of one backward pass per task.
- ``pass_sizes``: CPU ms of one recorded step (forward inside
  ``SavedActivations``, every task's gradient of all parameters, their sum
  as the training gradient) with the tasks split into passes of 1, 2, 4, 8
  tasks and all in one (1: a plain backward pass per task, as
  ``per_task_gradients`` takes it), and as a loop of one plain backward pass
  per task written out, beside a plain step; interleaved calls, medians. On
  the CNN at 20 and 40 tasks (batch 128), the MLP (512, 512) (batch 256) and
  the default MLP (32, 16) (batch 64) on digits as 10 one-vs-rest tasks
  (``bench_recording_cost.py``'s settings). Also what the library's
  ``tasks_per_pass`` picks from the saved activation bytes.
- ``every_step``: CPU s of one epoch (10 steps) of ``fit`` at 20 and 40
  tasks with ``affinity=None`` and with every step recorded, the tasks'
  gradients as the library now takes them on the CNN (one plain backward
  pass per task) and in vectorized passes capped by memory (the rule before,
  ``LOOP_SAVED_BYTES`` set out of reach); interleaved rounds, medians; the
  extra CPU of a recorded step in plain steps.

Usage (about 15 CPU minutes)::

    nice -n 5 python benchmarks/bench_cnn_recording.py
    nice -n 5 python benchmarks/bench_cnn_recording.py --parts fidelity
    python benchmarks/bench_cnn_recording.py --quick      # smoke test
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
from cnn_workload import BATCH_SIZE, ROOT, extractor, machine, timed  # noqa: E402

from sklearn_etap import TorchAffinityExtractor  # noqa: E402
from sklearn_etap._affinity.recording import (  # noqa: E402
    ETAPRecorder,
    auto_recording_interval,
)
from sklearn_etap._affinity.scores import etap_scores, scored_pairs  # noqa: E402
from sklearn_etap._affinity.task_gradients import (  # noqa: E402
    SavedActivations,
    per_task_gradients,
    tasks_per_pass,
)
from sklearn_etap._affinity.task_types import TaskLoss  # noqa: E402
from sklearn_etap._affinity.training import masked_task_losses  # noqa: E402
from sklearn_etap.datasets import make_shapes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cnn_recording.json"
PARTS = ("cost", "fidelity", "mlp_fidelity", "step_costs", "pass_sizes", "every_step")
LONG = 2**62  # planned steps of a training where the floor never binds
FULL = dict(
    rows=1280, repeats=3, fidelity_epochs=25, mlp_epochs=40, draws=500, step_repeats=7
)
QUICK = dict(rows=256, repeats=1, fidelity_epochs=1, mlp_epochs=2, draws=20,
             step_repeats=1)  # fmt: skip


class EveryStepScores(ETAPRecorder):
    """ETAP's score at every step, each step's matrix kept (a user callback)."""

    def __init__(self, n_tasks):
        super().__init__(n_tasks, torch.device("cpu"), every=1, seed=0)
        self.steps, self.valid = [], []

    def record(self, task_gradients, losses, has_label, optimizer, params, weight=1.0):
        losses = losses.detach()
        scores = etap_scores(task_gradients, losses, optimizer, params)
        self.steps.append(scores.double().cpu().numpy())
        self.valid.append(scored_pairs(losses, has_label).cpu().numpy())
        self.scores.add(scores, losses, has_label, weight)


def off_diagonal(A):
    return A[~np.eye(len(A), dtype=bool)]


def pearson(a, b):
    return float(np.corrcoef(off_diagonal(a), off_diagonal(b))[0, 1])


def column_centred(A):
    off = ~np.eye(len(A), dtype=bool)
    means = np.where(off, A, 0).sum(axis=0) / (len(A) - 1)
    return np.where(off, A - means, 0.0)


def sampled_estimate(z, every, rng):
    """The extractor's estimator: one uniform step per block, block-weighted."""
    starts = np.arange(0, len(z), every)
    lengths = np.minimum(every, len(z) - starts)
    steps = starts + (rng.random_sample(len(starts)) * lengths).astype(int)
    return np.tensordot(lengths, z[steps], axes=1) / lengths.sum()


def agreement(z, intervals, draws):
    """Mean (and 10th percentile) raw and centred r of the sampled estimator
    with the every-step mean, over ``draws`` simulated schedules per interval."""
    A = z.mean(axis=0)
    out = {}
    for k in intervals:
        rng = np.random.RandomState(k)
        raw, centred = [], []
        for _ in range(draws):
            estimate = sampled_estimate(z, k, rng)
            raw.append(pearson(estimate, A))
            centred.append(pearson(column_centred(estimate), column_centred(A)))
        out[str(k)] = {
            "recorded_steps": int(-(-len(z) // k)),
            "mean_r": float(np.mean(raw)),
            "p10_r": float(np.percentile(raw, 10)),
            "mean_centred_r": float(np.mean(centred)),
            "p10_centred_r": float(np.percentile(centred, 10)),
        }
        a = out[str(k)]
        print(
            f"  one in {k:4d} ({a['recorded_steps']:3d} steps): r {a['mean_r']:.3f} "
            f"(p10 {a['p10_r']:.3f}), centred r {a['mean_centred_r']:.3f} "
            f"(p10 {a['p10_centred_r']:.3f})",
            flush=True,
        )
    return out


def every_step_scores(make, X, Y):
    """One plain fit with :class:`EveryStepScores`: per-step scores, CPU s."""
    ext = make(affinity=None, callbacks=[EveryStepScores(Y.shape[1])])
    cpu = timed(lambda: ext.fit(X, Y), "cpu")
    keeper = ext.callbacks_[0]
    valid = np.array([v.all() for v in keeper.valid])
    z = np.array(keeper.steps)[valid]
    return z, cpu, ext


def interleaved_cost(X, Y, every, epochs, repeats):
    """CPU seconds of ``affinity=None`` and ``affinity_every=every`` fits."""

    def run(**params):
        ext = extractor("cpu", max_epochs=epochs, **params)
        return lambda: ext.fit(X, Y)

    runs = {"affinity_none": run(affinity=None), "default": run(affinity_every=every)}
    times, loads = {k: [] for k in runs}, []
    for repeat in range(repeats):
        order = list(runs)
        np.random.RandomState(repeat).shuffle(order)
        for name in order:
            result = timed(runs[name], "cpu")
            times[name].append(result["cpu_s"])
            loads.append(result["load_before"])
    return times, loads


def part_cost(data, cfg):
    n = cfg["rows"]
    steps_per_epoch = -(-n // BATCH_SIZE)
    out = {
        "setup": f"{n} rows ({steps_per_epoch} steps an epoch), batch {BATCH_SIZE}, "
        "one block of the long-training default: one recorded step"
    }
    for n_tasks in cfg["tasks"]:
        every = auto_recording_interval(n_tasks, LONG)
        epochs = max(1, every // steps_per_epoch)
        X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
        times, loads = interleaved_cost(X, Y, every, epochs, cfg["repeats"])
        none = float(np.median(times["affinity_none"]))
        default = float(np.median(times["default"]))
        n_steps = epochs * steps_per_epoch
        recorded = -(-n_steps // every)
        extra = (default - none) / recorded  # CPU s of one recorded step
        plain_step = none / n_steps
        figures = {
            "default_interval": every,
            "epochs": epochs,
            "steps": n_steps,
            "recorded_steps": recorded,
            "cpu_s": times,
            "default_vs_none": default / none,
            "recorded_step_extra_in_plain_steps": extra / plain_step,
            "per_task": extra / plain_step / n_tasks,
            "predicted_vs_none": {
                str(k): 1 + extra / plain_step / k for k in (20, 100, every)
            },
            "load_average_during": loads,
        }
        out[f"{n_tasks}_tasks"] = figures
        print(
            f"{n_tasks} tasks, one in {every}: default / none "
            f"{figures['default_vs_none']:.3f} (medians {default:.1f} / {none:.1f} "
            f"CPU s); a recorded step costs "
            f"{figures['recorded_step_extra_in_plain_steps']:.1f} plain steps",
            flush=True,
        )
    out["target"] = "default_vs_none <= 1.10"
    return out


def part_fidelity(data, cfg, results):
    n, n_tasks, epochs = cfg["rows"], 20, cfg["fidelity_epochs"]
    X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
    z, cpu, ext = every_step_scores(
        lambda **p: extractor("cpu", max_epochs=epochs, **p), X, Y
    )
    intervals = sorted(
        {20, 50, 100, auto_recording_interval(n_tasks, LONG)}
        | {auto_recording_interval(n_tasks, ext.n_steps_)}
    )
    out = {
        "setup": f"CNN, {n} rows x {epochs} epochs, batch {BATCH_SIZE}, "
        f"{n_tasks} tasks, every step recorded ({ext.n_steps_} steps)",
        "steps_scored": len(z),
        "auto_resolves_to_on_this_training": auto_recording_interval(
            n_tasks, ext.n_steps_
        ),
        "auto_on_a_long_training": auto_recording_interval(n_tasks, LONG),
        "every_step_cpu_s": cpu["cpu_s"],
        "load_average": [cpu["load_before"], cpu["load_after"]],
        "agreement_with_every_step": agreement(z, intervals, cfg["draws"]),
    }
    cost = results.get("cost", {}).get("20_tasks")
    if cost and cost["steps"] == ext.n_steps_:
        none = float(np.median(cost["cpu_s"]["affinity_none"]))
        out["every_step_vs_none"] = cpu["cpu_s"] / none
        print(f"every step / none: {out['every_step_vs_none']:.1f}x", flush=True)
    return out


def part_mlp_fidelity(data, cfg):
    n, n_tasks, epochs = cfg["rows"], 40, cfg["mlp_epochs"]
    X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]

    def make(**params):
        return TorchAffinityExtractor(
            hidden_layer_sizes=(512, 512), batch_size=256, max_epochs=epochs,
            device="cpu", n_threads=None, random_state=0, **params,
        )  # fmt: skip

    z, cpu, ext = every_step_scores(make, X, Y)
    intervals = sorted(
        {20, 50, 100, auto_recording_interval(n_tasks, LONG)}
        | {auto_recording_interval(n_tasks, ext.n_steps_)}
    )
    return {
        "setup": f"MLP (512, 512) on the images flattened, {n} rows x {epochs} "
        f"epochs, batch 256, {n_tasks} tasks, every step ({ext.n_steps_} steps)",
        "steps_scored": len(z),
        "auto_resolves_to_on_this_training": auto_recording_interval(
            n_tasks, ext.n_steps_
        ),
        "auto_on_a_long_training": auto_recording_interval(n_tasks, LONG),
        "every_step_cpu_s": cpu["cpu_s"],
        "load_average": [cpu["load_before"], cpu["load_after"]],
        "agreement_with_every_step": agreement(z, intervals, cfg["draws"]),
    }


def part_step_costs(data, cfg):
    out = {"setup": f"CNN, batch {BATCH_SIZE}, CPU ms, median of 7 calls"}
    for n_tasks in (20, 40):
        out[f"{n_tasks}_tasks"] = step_costs_at(data, n_tasks, cfg["step_repeats"])
    return out


def step_costs_at(data, n_tasks, repeats):
    X, Y = data.X_train[:256], data.Y_train[:256, :n_tasks]
    ext = extractor("cpu", max_epochs=1, affinity=None).fit(X, Y)
    module = ext.module_.train()
    shared = [p for p in module.encoder.parameters() if p.requires_grad]
    xb = torch.as_tensor(X[:BATCH_SIZE])
    yb = torch.as_tensor(Y[:BATCH_SIZE])
    present = torch.ones_like(yb, dtype=torch.bool)
    loss_of = TaskLoss(ext._task_specs, torch.device("cpu"))

    def losses():
        outputs, _ = module(xb)
        return masked_task_losses(outputs, yb, present, loss_of)[0]

    def plain():
        module.zero_grad(set_to_none=True)
        losses().sum().backward()

    def batched():
        per_task_gradients(losses(), shared)

    def loop():
        for loss in losses():
            torch.autograd.grad(loss, shared, retain_graph=True)

    runs = {"plain_step": plain, "batched": batched, "loop": loop}
    for run in runs.values():
        run()
    samples = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            run()
            samples[name].append(1000 * (time.process_time() - start))
    ms = {name: float(np.median(v)) for name, v in samples.items()}
    per_task = {
        m: (ms[m] - ms["plain_step"]) / ms["plain_step"] / n_tasks
        for m in ("batched", "loop")
    }
    print(f"{n_tasks} tasks: {ms}; extra plain steps per task {per_task}")
    return {
        "cpu_ms": ms,
        "extra_plain_steps_per_task": per_task,
        "load_average": list(os.getloadavg()),
    }


PASS_SIZES = (1, 2, 4, 8, None)  # None: all tasks in one pass


def digits_tasks():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, digit = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return X, (digit[:, None] == np.arange(10)).astype(np.float32)


def part_pass_sizes(data, cfg):
    repeats = cfg["step_repeats"]
    X_digits, Y_digits = digits_tasks()
    workloads = {}
    for n_tasks in (20, 40):
        X, Y = data.X_train[:256], data.Y_train[:256, :n_tasks]
        ext = extractor("cpu", max_epochs=1, affinity=None).fit(X, Y)
        workloads[f"cnn_{n_tasks}_tasks"] = (ext, X[:BATCH_SIZE], Y[:BATCH_SIZE])
    for name, hidden, batch in (("mlp_512_512", (512, 512), 256),
                                ("mlp_default", (32, 16), 64)):  # fmt: skip
        ext = TorchAffinityExtractor(
            hidden_layer_sizes=hidden, batch_size=batch, max_epochs=1,
            device="cpu", n_threads=None, random_state=0, affinity=None,
        ).fit(X_digits, Y_digits)  # fmt: skip
        workloads[f"{name}_10_tasks"] = (ext, X_digits[:batch], Y_digits[:batch])
    out = {
        "setup": "CPU ms of one recorded step's forward + per-task gradients of "
        "all parameters + their sum, by tasks per pass ('all': one vectorized "
        "pass; 1: a plain pass per task, as per_task_gradients takes it; 'loop': "
        "the same written out); "
        f"median of {repeats} interleaved calls"
    }
    for name, (ext, xb, yb) in workloads.items():
        out[name] = pass_costs(ext, xb, yb, repeats)
    return out


def pass_costs(ext, X, Y, repeats):
    module = ext.module_.train()
    shared = [p for p in module.encoder.parameters() if p.requires_grad]
    heads = [p for p in module.heads.parameters() if p.requires_grad]
    params = shared + heads
    xb, yb = torch.as_tensor(X), torch.as_tensor(Y)
    present = torch.ones_like(yb, dtype=torch.bool)
    loss_of = TaskLoss(ext._task_specs, torch.device("cpu"))
    n_tasks = yb.shape[1]

    def losses():
        outputs, _ = module(xb)
        return masked_task_losses(outputs, yb, present, loss_of)[0]

    def plain():
        module.zero_grad(set_to_none=True)
        losses().sum().backward()

    def recorded(per_pass):
        def run():
            with SavedActivations(params):
                task_losses = losses()
            grads = per_task_gradients(task_losses, params, tasks_per_pass=per_pass)
            for param, g in zip(params, grads):
                param.grad = g.sum(dim=0)

        return run

    def loop():  # one plain (not vectorized) backward pass per task
        with SavedActivations(params):
            task_losses = losses()
        grads = [
            torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True,
                                materialize_grads=True)
            for loss in task_losses
        ]  # fmt: skip
        for param, g in zip(params, zip(*grads)):
            param.grad = torch.stack(g).sum(dim=0)

    runs = {"plain_step": plain, "loop": loop}
    runs.update(
        {str(k or "all"): recorded(k) for k in PASS_SIZES if (k or 0) < n_tasks}
    )
    for run in runs.values():
        run()
    samples = {name: [] for name in runs}
    for repeat in range(repeats):
        order = list(runs)
        np.random.RandomState(repeat).shuffle(order)
        for name in order:
            start = time.process_time()
            runs[name]()
            samples[name].append(1000 * (time.process_time() - start))
    ms = {name: float(np.median(v)) for name, v in samples.items()}
    with SavedActivations(params) as saved:
        losses()
    parameter_bytes = sum(p.numel() * p.element_size() for p in params)
    picked = tasks_per_pass(n_tasks, saved.bytes, parameter_bytes)
    print(f"{n_tasks} tasks, saved {saved.bytes / 2**20:.1f} MB, library picks "
          f"{picked}: {ms}", flush=True)  # fmt: skip
    return {
        "n_tasks": n_tasks,
        "batch": len(xb),
        "parameters": int(sum(p.numel() for p in params)),
        "saved_activation_bytes": int(saved.bytes),
        "library_tasks_per_pass": picked,
        "cpu_ms": ms,
        "cpu_ms_samples": samples,
        "load_average": list(os.getloadavg()),
    }


def part_every_step(data, cfg):
    from sklearn_etap._affinity import task_gradients

    n, repeats = cfg["rows"], cfg["repeats"]
    out = {"setup": f"{n} rows x 1 epoch, batch {BATCH_SIZE}, every step recorded"}
    loop_bytes = task_gradients.LOOP_SAVED_BYTES

    def run(X, Y, loop, **params):
        def fit():
            task_gradients.LOOP_SAVED_BYTES = loop_bytes if loop else 2**62
            try:
                extractor("cpu", max_epochs=1, **params).fit(X, Y)
            finally:
                task_gradients.LOOP_SAVED_BYTES = loop_bytes

        return fit

    for n_tasks in (20, 40):
        X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
        runs = {
            "affinity_none": run(X, Y, True, affinity=None),
            "one_pass_per_task": run(X, Y, True, affinity_every=1),
            "vectorized_passes": run(X, Y, False, affinity_every=1),
        }
        times, loads = {k: [] for k in runs}, []
        for repeat in range(repeats):
            order = list(runs)
            np.random.RandomState(repeat).shuffle(order)
            for name in order:
                result = timed(runs[name], "cpu")
                times[name].append(result["cpu_s"])
                loads.append(result["load_before"])
        med = {k: float(np.median(v)) for k, v in times.items()}
        steps = -(-n // BATCH_SIZE)
        plain = med["affinity_none"] / steps
        extra = {
            k: (med[k] - med["affinity_none"]) / steps / plain
            for k in ("one_pass_per_task", "vectorized_passes")
        }
        out[f"{n_tasks}_tasks"] = {
            "cpu_s": times,
            "median_cpu_s": med,
            "recorded_step_extra_in_plain_steps": extra,
            "load_average_during": loads,
        }
        print(f"{n_tasks} tasks: medians {med}; extra plain steps {extra}", flush=True)
    return out


def combined_command(results):
    """The commands that made the parts in ``results``, in order, joined by "; "."""
    commands = []
    for part in PARTS:
        figures = results.get(part, {})
        found = [v.get("command") for v in figures.values() if isinstance(v, dict)]
        for command in [figures.get("command"), *found]:
            if command and command not in commands:
                commands.append(command)
    return "; ".join(commands)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--tasks",
        type=int,
        nargs="+",
        default=[20, 40],
        help="task counts of the cost part (20 40)",
    )
    parser.add_argument("--repeats", type=int, help="rounds of the cost part (3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = dict(QUICK if args.quick else FULL, tasks=args.tasks)
    if args.repeats:
        cfg["repeats"] = args.repeats
    command = "python benchmarks/bench_cnn_recording.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    data = make_shapes(cfg["rows"] * 5 // 4, n_tasks=40, image_size=32,
                       random_state=0)  # fmt: skip
    extractor("cpu", max_epochs=1, affinity_every=1).fit(  # untimed warm-up
        data.X_train[:16], data.Y_train[:16, :2]
    )
    for part in args.parts:
        print(f"--- {part}", flush=True)
        start = time.perf_counter()
        if part == "cost":
            figures = part_cost(data, cfg)
        elif part == "fidelity":
            figures = part_fidelity(data, cfg, results)
        elif part == "mlp_fidelity":
            figures = part_mlp_fidelity(data, cfg)
        elif part == "pass_sizes":
            figures = part_pass_sizes(data, cfg)
        elif part == "every_step":
            figures = part_every_step(data, cfg)
        else:
            figures = part_step_costs(data, cfg)
        figures["wall_s"] = time.perf_counter() - start
        figures["command"] = command
        figures["data"] = (
            f"make_shapes({cfg['rows'] * 5 // 4}, n_tasks=40, image_size=32, "
            "random_state=0): its training rows"
        )
        figures["machine"] = machine()
        if part == "cost":  # each task count keeps the command that measured it
            for n_tasks in cfg["tasks"]:
                figures[f"{n_tasks}_tasks"]["command"] = command
            figures = {**results.get("cost", {}), **figures}
        results[part] = figures
        results["command"] = combined_command(results)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
