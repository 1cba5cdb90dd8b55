"""The whole ETAP workflow on the CNN workload at 20 and 40 tasks: how long
each stage takes, and whether its answer means anything (issue 25, item 4).

Data: ``make_shapes(50_000, n_tasks=40, image_size=32, path=...)``, a
memory-mapped float32 ``.npy`` file of 50,000 RGB images (586 MB); every
training reads the first ``train_rows`` rows of its training split and every
score the first ``test_rows`` rows of its test split (the draws are
independent). Model: ``examples/shapes_cnn.py``'s ``ShapesResNet`` with one
linear head per task, SGD (lr 0.01, momentum 0.9), batch 128
(``cnn_workload.py``), one torch thread per process.

At each number of tasks, the workflow's stages, timed in wall seconds:

1. ``affinity``: one training on all tasks with the default recording.
2. ``measure_gains``: random groups of 2 or 3 tasks (``sample_groups``),
   one single-task model per member task and one model per group, 2 jobs.
   Did those single-task models learn? Each one's test loss against its
   task's trivial predictor (``MeasuredGains.stl_no_better_than_trivial``,
   the check behind the library's ``TrivialPredictorWarning``).
3. ``etap_search``: ``make_etap_search`` on the measured gains.
4. ``selection``: ``GroupSelector`` over all groups of up to 3 tasks (budget
   ``ceil(n_tasks / 3) + 1`` groups, 30 s solver limit): the candidates, the
   solver's status and gap, the chosen groups and their predicted total; the
   group-size rule (``GroupSizeRule``: per-task level + one slope on group
   size, fitted on the same gains) through the same selection.

Then, not part of the workflow and timed apart (``evaluation``), what the
choice is worth: the groups chosen by ETAP and by the group-size rule, and
all tasks in one model, are trained and scored like the measured groups
(``measure_gains`` again with a cache, so no model is trained twice), which
needs a single-task model of every task. That gives each answer's true total
gain (the sum over tasks of the measured gain of each task in the group it
is scored by; 0 for each task alone), every task's learned/not-learned
verdict, and ETAP's predictions against measurements on the chosen groups.
``--evaluate`` names the numbers of tasks to evaluate at (it costs about as
many trainings as tasks, plus the chosen groups; 20 by default, to keep the
whole run near 25 minutes on 2 shared cores).

Usage (the machine's load average is recorded in the JSON)::

    nice -n 5 python benchmarks/bench_cnn_workflow.py
    python benchmarks/bench_cnn_workflow.py --quick    # smoke test, a minute

Writes ``benchmarks/results/cnn_workflow.json`` (``--out`` to change).
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from math import ceil
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from cnn_workload import ROOT, extractor, machine, timed  # noqa: E402

from sklearn_etap import (  # noqa: E402
    GroupSelector,
    GroupSizeRule,
    encode_groups,
    make_etap_search,
    measure_gains,
    sample_groups,
)
from sklearn_etap.datasets import make_shapes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cnn_workflow.json"
FULL = dict(
    n_samples=50_000,
    train_rows=16_000,
    test_rows=2_000,
    epochs=2,
    groups={20: 5, 40: 6},
    time_limit=30,
)
QUICK = dict(n_samples=1500, train_rows=512, test_rows=256, epochs=1,
             groups={20: 3, 40: 3}, time_limit=5)  # fmt: skip


def _round(value, digits=4):
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def budget(n_tasks):
    """The selection's budget: one group more than covering needs."""
    return ceil(n_tasks / 3) + 1


def selection_record(selector, names):
    """What a fitted ``GroupSelector`` chose, and the solver's status."""
    return {
        "n_candidates": int(selector.n_candidates_),
        "optimal": bool(selector.optimal_),
        "gap": _round(selector.gap_, 6),
        "predicted_total_gain": _round(selector.predicted_gain_),
        "groups": [list(g) for g in selector.group_names_],
        "n_shared_groups": sum(len(g) > 1 for g in selector.groups_),
        "tasks_in_shared_groups": int(
            sum(len(selector.groups_[g]) > 1 for g in selector.task_group_)
        ),
    }


def learned_record(gains, tasks, names):
    """How many of ``tasks``' single-task models beat the trivial predictor."""
    flagged = gains.stl_no_better_than_trivial
    return {
        "n_tasks": len(tasks),
        "n_beat_trivial": int(sum(not flagged[t] for t in tasks)),
        "not_learned": [
            {
                "task": names[t],
                "stl_loss": _round(gains.stl_loss[t]),
                "trivial_loss": _round(gains.trivial_loss[t]),
            }
            for t in tasks
            if flagged[t]
        ],
    }


def measured_by_group(gains):
    """``{(group, task): gain}`` of every measured row."""
    return {
        (gains.groups[g], int(t)): float(v)
        for g, t, v in zip(gains.row_group, gains.row_task, gains.y)
    }


def true_total(groups, task_group, gain_of):
    """Measured total of a selection: each task's gain in the group it is
    scored by (0 alone)."""
    total = 0.0
    for task, index in enumerate(task_group):
        group = tuple(groups[index])
        if len(group) > 1:
            total += gain_of[group, task]
    return total


def evaluate(ext, arrays, names, measured_groups, answers, cache, n_tasks):
    """Train what the answers need (cached trainings are reused) and score them."""
    X, Y, X_test, Y_test = arrays
    everything = tuple(range(n_tasks))
    wanted = list(measured_groups)
    for selector in answers.values():
        wanted += [g for g in selector.groups_ if len(g) > 1]
    wanted.append(everything)
    wanted = list(dict.fromkeys(tuple(g) for g in wanted))
    members_before = {t for g in measured_groups for t in g}
    new_groups = [g for g in wanted if g not in set(measured_groups)]
    state = {}

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state["gains"] = measure_gains(
                ext, X, Y, wanted, X_test, Y_test, n_jobs=2, random_state=0,
                cache_dir=cache, task_names=names, progress=False)  # fmt: skip

    stage = timed(run, "cpu")
    gains = state["gains"]
    gain_of = measured_by_group(gains)
    result = {
        "stage": stage,
        "new_trainings": len(new_groups) + n_tasks - len(members_before),
        "single_task_models_all_tasks": learned_record(gains, range(n_tasks), names),
        "all_tasks_in_one_model": {
            "true_total_gain": _round(
                sum(gain_of[everything, t] for t in range(n_tasks))
            ),
        },
        "each_task_alone": {"true_total_gain": 0.0},
    }
    for name, selector in answers.items():
        shared = [g for g in selector.groups_ if len(g) > 1]
        predicted = selector.predict(encode_groups(shared, n_tasks))
        rows = [(g, t) for g in shared for t in g]
        true = np.array([gain_of[row] for row in rows])
        result[name] = {
            "predicted_total_gain": _round(selector.predicted_gain_),
            "true_total_gain": _round(
                true_total(selector.groups_, selector.task_group_, gain_of)
            ),
            "chosen_groups": [
                {
                    "tasks": [names[t] for t in g],
                    "predicted": [
                        _round(v) for v in selector.predict(encode_groups([g], n_tasks))
                    ],
                    "measured": [_round(gain_of[g, t]) for t in g],
                    "was_measured_before": g in set(measured_groups),
                }
                for g in shared
            ],
            "pearson_r_predicted_vs_measured": _pearson(predicted, true),
        }
    return result


def _pearson(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return _round(np.corrcoef(a, b)[0, 1])


def workflow_at(n_tasks, data, cfg, cache, evaluate_it):
    """Every stage of the workflow on the first ``n_tasks`` tasks."""
    n, n_test = cfg["train_rows"], cfg["test_rows"]
    X, Y = data.X_train[:n], data.Y_train[:n, :n_tasks]
    X_test, Y_test = data.X_test[:n_test], data.Y_test[:n_test, :n_tasks]
    names = list(data.task_names[:n_tasks])
    stages, state = {}, {}
    ext = extractor("cpu", max_epochs=cfg["epochs"])
    stages["affinity"] = timed(lambda: ext.fit(X, Y), "cpu")
    groups = sample_groups(n_tasks, cfg["groups"][n_tasks], 0, max_size=3)
    members = sorted({t for g in groups for t in g})

    def gains():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the learned check below says it
            state["gains"] = measure_gains(
                ext, X, Y, groups, X_test, Y_test, n_jobs=2, random_state=0,
                cache_dir=cache, task_names=names, progress=False)  # fmt: skip

    stages["measure_gains"] = timed(gains, "cpu")
    measured = state["gains"]
    search = make_etap_search(ext.affinity_, n_train_groups=len(groups))
    stages["etap_search"] = timed(
        lambda: search.fit(measured.X, measured.y, groups=measured.row_group), "cpu"
    )

    def selector(estimator):
        return GroupSelector(
            estimator, n_groups=budget(n_tasks), max_group_size=3,
            max_candidates=20_000, task_names=names,
            time_limit=cfg["time_limit"])  # fmt: skip

    etap = selector(search.best_estimator_)
    stages["selection"] = timed(lambda: etap.fit(measured.X, measured.y), "cpu")
    rule = selector(GroupSizeRule()).fit(measured.X, measured.y)
    affinity_model_loss = ext.task_losses(X_test, Y_test)
    gain_of = measured_by_group(measured)
    record = {
        "stages": stages,
        "workflow_wall_s": _round(sum(s["wall_s"] for s in stages.values()), 1),
        "measured_groups": [
            {
                "tasks": [names[t] for t in g],
                "measured": [_round(gain_of[g, t]) for t in g],
                "predicted_by_etap": [
                    _round(v) for v in etap.predict(encode_groups([g], n_tasks))
                ],
            }
            for g in groups
        ],
        "trainings_in_measure_gains": len(members) + len(groups),
        "single_task_models_of_member_tasks": learned_record(measured, members, names),
        "affinity_model_beats_trivial": int(
            np.sum(affinity_model_loss < measured.trivial_loss)
        ),
        "affinity_finite": bool(np.isfinite(ext.affinity_).all()),
        "affinity_every": ext.affinity_every_,
        "etap_best_params": {
            k: v if isinstance(v, (int, float, str, type(None))) else repr(v)
            for k, v in search.best_params_.items()
        },
        "selection_budget": budget(n_tasks),
        "etap_selection": selection_record(etap, names),
        "group_size_rule_selection": selection_record(rule, names),
    }
    if evaluate_it:
        arrays = (X, Y, X_test, Y_test)
        answers = {"etap": etap, "group_size_rule": rule}
        record["evaluation"] = evaluate(
            ext, arrays, names, groups, answers, cache, n_tasks
        )
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", type=int, default=[20, 40])
    parser.add_argument("--evaluate", nargs="*", type=int, default=[20],
                        help="numbers of tasks at which to train and score the "
                        "answers (none: skip)")  # fmt: skip
    parser.add_argument("--train-rows", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = dict(QUICK if args.quick else FULL)
    if args.train_rows:
        cfg["train_rows"] = args.train_rows
    if args.epochs:
        cfg["epochs"] = args.epochs
    command = "python benchmarks/bench_cnn_workflow.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    started, load_start = time.perf_counter(), list(os.getloadavg())
    results = {"command": command, "settings": cfg}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        data = make_shapes(cfg["n_samples"], n_tasks=40, image_size=32,
                           path=Path(tmp) / "shapes.npy", random_state=0)  # fmt: skip
        results["data"] = {
            "make_shapes": f"make_shapes({cfg['n_samples']}, n_tasks=40, "
            "image_size=32, path=..., random_state=0)",
            "file_mb": round(os.path.getsize(data.path) / 2**20, 1),
            "n_train_in_file": len(data.X_train),
            "generate_wall_s": round(time.perf_counter() - start, 1),
            "used": f"first {cfg['train_rows']} training rows x {cfg['epochs']} "
            f"epochs, first {cfg['test_rows']} test rows",
        }
        print(json.dumps(results["data"]), flush=True)
        for n_tasks in args.tasks:
            record = workflow_at(
                n_tasks, data, cfg, Path(tmp) / f"cache{n_tasks}",
                evaluate_it=n_tasks in args.evaluate)  # fmt: skip
            results[f"{n_tasks}_tasks"] = record
            print(f"--- {n_tasks} tasks", json.dumps(record, default=str), flush=True)
    results["total_wall_s"] = round(time.perf_counter() - started, 1)
    results["load_average_start"] = load_start
    results["machine"] = machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"total {results['total_wall_s']} s; wrote {args.out}")


if __name__ == "__main__":
    main()
