"""What AffinityRecorder costs in a user's own training loop (issue 26's target:
recording one step in 20 costs at most 1.10x the loop without it).

Data: scikit-learn's digits (1797 samples, 64 standardized pixels) as 10
one-vs-rest binary tasks. A hand-written PyTorch loop (per-task BCE losses,
``losses.sum().backward()``, SGD lr 0.01, momentum 0.9), seed 0, CPU, one torch
thread, on two models:

- ``tiny``: MLP (32, 16) and linear heads, batch 64 (29 steps an epoch);
- ``wide``: MLP (512, 512), batch 256 (8 steps an epoch), compute-bound.

Configurations: ``plain`` (no recorder), ``every_<k>`` (``AffinityRecorder``
with ``every=k``, ``record()`` called at every step before the backward pass).
All (model, configuration) trainings run interleaved in a shuffled order,
``--repeats`` times; figures are medians of the process CPU time of the
training loop (the machine is shared: CPU time is steadier than wall time);
``ratio`` is the ratio of the medians, ``paired`` the median over repeats of
the ratio to the same repeat's plain run.

Where the time goes (``breakdown``): per step, the CPU time of a plain step
(forward, backward, optimizer step), of the recorder's per-task gradients (one
batched backward pass over the shared weights, ``n_tasks`` wide) and of the
score (Gram matrix, momentum term, accumulation), each the median over
``--breakdown-steps`` steps; the predicted ratio at every k is
``1 + (gradients + score) / (k * plain)``.

Usage::

    nice -n 5 python benchmarks/bench_user_recorder.py            # ~3 min
    python benchmarks/bench_user_recorder.py --quick              # smoke test
    nice -n 5 python benchmarks/bench_user_recorder.py --record-calls  # record()'s cost
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torch import nn  # noqa: E402

# this checkout's package, not another installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklearn_etap import AffinityRecorder  # noqa: E402
from sklearn_etap._affinity.scores import etap_scores  # noqa: E402
from sklearn_etap._affinity.task_gradients import (  # noqa: E402
    flatten_tasks,
    per_task_gradients,
)

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {
    "tiny": dict(hidden=(32, 16), batch_size=64),
    "wide": dict(hidden=(512, 512), batch_size=256),
}
EVERY = (20, 50, 100)


def load_tasks():
    X, digit = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = (digit[:, None] == np.arange(10)).astype(float)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)


def build(n_features, n_tasks, hidden, seed=0):
    torch.manual_seed(seed)
    layers, n_in = [], n_features
    for n_out in hidden:
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        n_in = n_out
    encoder, heads = nn.Sequential(*layers), nn.Linear(n_in, n_tasks)
    params = [*encoder.parameters(), *heads.parameters()]
    return encoder, heads, torch.optim.SGD(params, lr=0.01, momentum=0.9)


def train(X, Y, hidden, batch_size, max_epochs, every):
    """The user's loop; the CPU seconds it took and the recorder (or None)."""
    encoder, heads, optimizer = build(X.shape[1], Y.shape[1], hidden)
    rec = None
    if every is not None:
        n_steps = max_epochs * -(-len(X) // batch_size)
        rec = AffinityRecorder(
            encoder.parameters(), Y.shape[1], every=every, n_steps=n_steps
        )
    generator = torch.Generator().manual_seed(0)
    start = time.process_time()
    for _ in range(max_epochs):
        for batch in torch.randperm(len(X), generator=generator).split(batch_size):
            logits = heads(encoder(X[batch]))
            losses = F.binary_cross_entropy_with_logits(
                logits, Y[batch], reduction="none"
            ).mean(0)
            optimizer.zero_grad(set_to_none=True)
            if rec is not None:
                rec.record(losses, optimizer)
            losses.sum().backward()
            optimizer.step()
    return time.process_time() - start, rec


def breakdown(X, Y, hidden, batch_size, n_steps):
    """Median CPU seconds per step: a plain step, per-task gradients, the score."""
    encoder, heads, optimizer = build(X.shape[1], Y.shape[1], hidden)
    shared = list(encoder.parameters())
    times = {"plain_step": [], "task_gradients": [], "score": []}
    generator = torch.Generator().manual_seed(0)
    for step in range(n_steps):
        batch = torch.randint(len(X), (batch_size,), generator=generator)
        t0 = time.process_time()
        logits = heads(encoder(X[batch]))
        losses = F.binary_cross_entropy_with_logits(
            logits, Y[batch], reduction="none"
        ).mean(0)
        t1 = time.process_time()
        grads = flatten_tasks(per_task_gradients(losses, shared, retain_graph=True))
        t2 = time.process_time()
        scores = etap_scores(grads, losses.detach(), optimizer, shared)
        scores.sum().item()  # one host sync, as the accumulator's is deferred
        t3 = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimizer.step()
        t4 = time.process_time()
        if step >= 3:  # warm-up
            times["plain_step"].append((t1 - t0) + (t4 - t3))
            times["task_gradients"].append(t2 - t1)
            times["score"].append(t3 - t2)
    out = {key: float(np.median(value)) for key, value in times.items()}
    extra = out["task_gradients"] + out["score"]
    out["extra_per_recorded_step_over_plain_step"] = extra / out["plain_step"]
    out["predicted_ratio"] = {
        str(k): 1 + extra / (k * out["plain_step"]) for k in EVERY
    }
    return out


def record_call_times(X, Y, hidden, batch_size, max_epochs):
    """Median CPU ms of ``record()`` on a scored step, scored once in 20 steps
    and at every step (the same loop otherwise)."""
    out = {}
    for every in (20, 1):
        encoder, heads, optimizer = build(X.shape[1], Y.shape[1], hidden)
        rec = AffinityRecorder(encoder.parameters(), Y.shape[1], every=every)
        generator = torch.Generator().manual_seed(0)
        times = []
        for _ in range(max_epochs):
            for batch in torch.randperm(len(X), generator=generator).split(batch_size):
                logits = heads(encoder(X[batch]))
                losses = F.binary_cross_entropy_with_logits(
                    logits, Y[batch], reduction="none"
                ).mean(0)
                optimizer.zero_grad(set_to_none=True)
                start = time.process_time()
                if rec.record(losses, optimizer):
                    times.append(time.process_time() - start)
                losses.sum().backward()
                optimizer.step()
        out[f"record_ms_scored_every_{every}"] = float(np.median(times) * 1e3)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--breakdown-steps", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="2 repeats, 2 epochs")
    parser.add_argument("--out", default=str(RESULTS / "user_recorder.json"))
    parser.add_argument(
        "--record-calls",
        action="store_true",
        help="only time record() on scored steps, once in 20 against every step "
        "(written to user_recorder_record_calls.json)",
    )
    args = parser.parse_args(argv)
    if args.record_calls:
        torch.set_num_threads(1)
        X, Y = load_tasks()
        load_before = os.getloadavg()
        rows = {
            model: record_call_times(
                X, Y, spec["hidden"], spec["batch_size"], args.max_epochs // 2
            )
            for model, spec in MODELS.items()
        }
        result = {
            "command": "python "
            + shlex.join(
                ["benchmarks/bench_user_recorder.py", *(argv or sys.argv[1:])]
            ),
            "machine": {
                "loadavg_before": load_before,
                "loadavg_after": os.getloadavg(),
            },
            "results": rows,
        }
        print(json.dumps(result, indent=2))
        out = RESULTS / "user_recorder_record_calls.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        return
    if args.quick:
        args.repeats, args.max_epochs, args.breakdown_steps = 2, 2, 10
    torch.set_num_threads(1)
    X, Y = load_tasks()
    configs = {"plain": None, **{f"every_{k}": k for k in EVERY}}
    jobs = [(m, c) for m in MODELS for c in configs]
    load_before = os.getloadavg()
    cpu = {job: [] for job in jobs}
    recorded = {}
    order = np.random.RandomState(0)
    for repeat in range(args.repeats):
        for index in order.permutation(len(jobs)):
            model, config = jobs[index]
            seconds, rec = train(
                X, Y, **MODELS[model], max_epochs=args.max_epochs, every=configs[config]
            )
            cpu[model, config].append(seconds)
            if rec is not None:
                recorded[model, config] = (rec.n_steps_, rec.n_recorded_steps_)
                assert np.isfinite(rec.affinity_[~np.eye(10, dtype=bool)]).all()
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    rows = {}
    for model in MODELS:
        plain = np.array(cpu[model, "plain"])
        rows[model] = {}
        for config in configs:
            times = np.array(cpu[model, config])
            rows[model][config] = {
                "cpu_seconds_median": float(np.median(times)),
                "cpu_seconds_all": times.tolist(),
                "ratio_to_plain": float(np.median(times) / np.median(plain)),
                "paired_ratio_to_plain": float(np.median(times / plain)),
                "steps_and_recorded_steps": recorded.get((model, config)),
            }
        rows[model]["breakdown"] = breakdown(
            X, Y, **MODELS[model], n_steps=args.breakdown_steps
        )
    result = {
        "command": "python "
        + shlex.join(["benchmarks/bench_user_recorder.py", *(argv or sys.argv[1:])]),
        "settings": {**vars(args), "models": MODELS, "n_tasks": 10},
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "note": "machine shared with other jobs; ran under nice -n 5",
        },
        "results": rows,
    }
    for model, table in rows.items():
        for config, row in table.items():
            if config == "breakdown":
                b = row
                print(
                    f"{model:5s} per step: plain {b['plain_step'] * 1e3:.2f} ms, "
                    f"per-task gradients {b['task_gradients'] * 1e3:.2f} ms, "
                    f"score {b['score'] * 1e3:.2f} ms; predicted ratio "
                    + ", ".join(
                        f"every {k}: {v:.3f}" for k, v in b["predicted_ratio"].items()
                    )
                )
            else:
                print(
                    f"{model:5s} {config:9s} CPU {row['cpu_seconds_median']:.2f} s  "
                    f"ratio {row['ratio_to_plain']:.3f}  "
                    f"paired {row['paired_ratio_to_plain']:.3f}"
                )
    print(f"load average before {load_before}, after {os.getloadavg()}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
