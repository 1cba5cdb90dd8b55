"""Measure the MTL gain of EVERY task group of a dataset, with two seeds or more.

For a dataset with n tasks (7 to 10) this trains, per seed, one STL model per
task and one MTL model for each of the 2^n - 1 - n groups of two or more
tasks, with ``measure_gains``, and saves the table under
``benchmarks/data/`` (CSV, one row per (group, task); JSON sidecar with the
settings, seeds, STL losses, timings and the noise figure). The noise figure
is the Pearson correlation between the per-row gains of seed 0 and seed 1:
no gain predictor can agree with one measurement better than another
measurement does.

Usage (the tables in benchmarks/data were made with these; see
benchmarks/data/README.md for why these settings)::

    python benchmarks/exhaustive_gains.py digits --n-tasks 8 \\
        --max-samples 800 --hidden 8 --optimizer adam --learning-rate 0.01 \\
        --max-epochs 40 --n-jobs 2 --cache-dir /tmp/etap_gain_cache
    python benchmarks/exhaustive_gains.py ridership --n-tasks 8 \\
        --max-samples 2500 --hidden 4 --optimizer adam --learning-rate 0.01 \\
        --max-epochs 30 --n-jobs 2 --cache-dir /tmp/etap_gain_cache
    python benchmarks/exhaustive_gains.py mhc1 --n-tasks 10 \\
        --hidden 32 16 --optimizer adam --learning-rate 0.005 --max-epochs 5 \\
        --n-jobs 2 --cache-dir /tmp/etap_gain_cache --name gains_mhc1_10tasks_full
    python benchmarks/exhaustive_gains.py appliances --n-tasks 10 \
        --param stride=4 --param target=change --hidden 8 --optimizer adam \
        --learning-rate 0.01 --batch-size 256 --max-epochs 20 --n-seeds 3 \
        --n-jobs 2 --cache-dir /tmp/etap_gain_cache --name gains_appliances_10tasks
    python benchmarks/exhaustive_gains.py clusters --param random_state=0 \
        --hidden 1 --optimizer adam --learning-rate 0.05 --batch-size 200 \
        --max-epochs 400 --n-seeds 3 --n-jobs 2 --cache-dir /tmp/etap_gain_cache \
        --name gains_clusters_8tasks

Interrupted runs resume from ``--cache-dir``: rerun the same command.
``python benchmarks/exhaustive_gains.py --summarize TABLE.csv`` prints a saved
table's figures and writes them to ``benchmarks/results/``.
"""

import argparse
import ast
import dataclasses
import itertools
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from sklearn_etap import MeasuredGains, TorchAffinityExtractor, measure_gains
from sklearn_etap._groups import all_groups
from sklearn_etap.datasets import (
    load_appliances,
    load_digits_tasks,
    load_mhc1,
    load_ridership,
    make_task_clusters,
)

HERE = Path(__file__).resolve().parent
LOADERS = {
    "appliances": load_appliances,
    "clusters": make_task_clusters,
    "digits": load_digits_tasks,
    "mhc1": load_mhc1,
    "ridership": load_ridership,
}
# Generators take neither n_tasks nor max_samples: their size comes from --param.
GENERATORS = {"clusters"}


def parse_param(text):
    """``KEY=VALUE`` of ``--param``, VALUE read as a Python literal or a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"--param expects KEY=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return key, value


def load_data(args):
    """Call the dataset's loader; return the data and the call as text."""
    loader = LOADERS[args.dataset]
    kwargs = {}
    if args.dataset in GENERATORS:
        # A generator's default random_state is None: a table must record
        # the seed that makes its data again.
        kwargs["random_state"] = 0
    else:
        kwargs.update(n_tasks=args.n_tasks, max_samples=args.max_samples)
    kwargs.update(dict(args.param))
    call = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    return loader(**kwargs), f"sklearn_etap.datasets.{loader.__name__}({call})"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(LOADERS))
    parser.add_argument("--n-tasks", type=int, default=8)
    parser.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra keyword argument of the loader (repeatable), e.g. "
        "--param target=change or, for clusters, --param n_samples=600",
    )
    parser.add_argument("--max-samples", type=int, default=None)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 16])
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--n-seeds", type=int, default=2)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument(
        "--max-groups",
        type=int,
        default=None,
        help="measure only the first groups (for trying settings)",
    )
    parser.add_argument("--out-dir", default=str(HERE / "data"))
    parser.add_argument(
        "--name",
        default=None,
        help="table file name without .csv (default: gains_<dataset>_<n>tasks)",
    )
    parser.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def trivial_losses(Y_train, Y_test, task_types):
    """Test loss of predicting each task's training mean (rate, for binary)."""
    losses = []
    for j, kind in enumerate(task_types):
        train = Y_train[:, j][~np.isnan(Y_train[:, j])]
        test = Y_test[:, j][~np.isnan(Y_test[:, j])]
        if kind == "binary":
            p = np.clip(train.mean(), 1e-7, 1 - 1e-7)
            losses.append(
                float(-np.mean(test * np.log(p) + (1 - test) * np.log(1 - p)))
            )
        else:
            losses.append(float(np.mean((test - train.mean()) ** 2)))
    return np.array(losses)


def _within_task_r(gains, a, b):
    """Pearson r of two gain columns per task, averaged over the tasks."""
    return float(
        np.mean(
            [
                stats.pearsonr(a[gains.row_task == t], b[gains.row_task == t])[0]
                for t in np.unique(gains.row_task)
            ]
        )
    )


def noise_figures(gains):
    """Agreement between the gains of different seeds.

    The ``seed0_vs_seed1`` figures compare the first two seeds (the format of
    the 2-seed tables); with more seeds, ``*_seed_pairs_mean`` average the
    same figures over every pair of seeds, and the Spearman-Brown figure
    extrapolates to the mean of all the table's seeds.
    """
    a, b = gains.y_per_seed[:, 0], gains.y_per_seed[:, 1]
    pearson = float(stats.pearsonr(a, b)[0])
    by_group = np.array(
        [
            [a[gains.row_group == g].mean(), b[gains.row_group == g].mean()]
            for g in range(len(gains.groups))
        ]
    )
    figures = {
        "pearson_r_seed0_vs_seed1": pearson,
        "spearman_r_seed0_vs_seed1": float(stats.spearmanr(a, b)[0]),
        # Expected agreement of the 2-seed mean with another 2-seed mean
        # (Spearman-Brown), the ceiling for predicting the table's mean gains.
        "pearson_r_of_2seed_mean_spearman_brown": 2 * pearson / (1 + pearson),
        "pearson_r_group_mean_gain": float(
            stats.pearsonr(by_group[:, 0], by_group[:, 1])[0]
        ),
        # Per task, then averaged: the agreement left once the differences
        # between tasks (which the STL loss of each seed shifts) are removed.
        "pearson_r_within_task_mean": _within_task_r(gains, a, b),
        "mean_abs_difference": float(np.mean(np.abs(a - b))),
    }
    n_seeds = gains.y_per_seed.shape[1]
    if n_seeds > 2:
        pairs = list(itertools.combinations(range(n_seeds), 2))
        columns = gains.y_per_seed
        pooled = float(
            np.mean([stats.pearsonr(columns[:, i], columns[:, j])[0] for i, j in pairs])
        )
        figures.update(
            {
                "n_seeds": n_seeds,
                "pearson_r_seed_pairs_mean": pooled,
                "pearson_r_within_task_seed_pairs_mean": float(
                    np.mean(
                        [
                            _within_task_r(gains, columns[:, i], columns[:, j])
                            for i, j in pairs
                        ]
                    )
                ),
                f"pearson_r_of_{n_seeds}seed_mean_spearman_brown": n_seeds
                * pooled
                / (1 + (n_seeds - 1) * pooled),
            }
        )
    return figures


def table_figures(gains, trivial):
    """Summary figures of a gain table (trivial: the trivial test loss per task)."""
    sizes = np.array([len(g) for g in gains.groups])[gains.row_group]
    figures = {
        "n_rows": len(gains.y),
        "gain_mean": float(gains.y.mean()),
        "gain_std": float(gains.y.std()),
        "gain_mean_by_group_size": {
            int(k): float(gains.y[sizes == k].mean()) for k in np.unique(sizes)
        },
        "fraction_positive": float((gains.y > 0).mean()),
        # None for a task in no group (only in a --max-groups trial).
        "stl_over_trivial_loss": [
            None if np.isnan(v) else v
            for v in (gains.stl_loss / np.asarray(trivial)).tolist()
        ],
    }
    # The noise figures correlate rows per task and per group: they need two
    # seeds and every task in 3 groups or more (a full table; not always a
    # --max-groups trial, which then reports none).
    rows_per_task = np.bincount(gains.row_task, minlength=gains.n_tasks)
    if len(gains.seeds) >= 2 and rows_per_task.min() >= 3:
        figures["noise"] = noise_figures(gains)
    return figures


def main(argv=None):
    args = parse_args(argv)
    # One torch thread, as in measure_gains' workers: with --n-jobs 1 the
    # trainings run in this process, where torch would start one per core.
    torch.set_num_threads(1)
    data, loader_call = load_data(args)
    n_tasks = data.Y_train.shape[1]
    groups = all_groups(n_tasks)
    if args.max_groups is not None:
        groups = groups[: args.max_groups]
    extractor = TorchAffinityExtractor(
        hidden_layer_sizes=tuple(args.hidden),
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        max_epochs=args.max_epochs,
        device="cpu",
    )
    n_trainings = args.n_seeds * (n_tasks + len(groups))
    print(
        f"{args.dataset}: {n_tasks} tasks, {data.X_train.shape[0]} train / "
        f"{data.X_test.shape[0]} test samples, {len(groups)} groups, "
        f"{n_trainings} trainings on n_jobs={args.n_jobs}",
        flush=True,
    )

    start = time.perf_counter()
    gains = measure_gains(
        extractor,
        data.X_train,
        data.Y_train,
        groups,
        data.X_test,
        data.Y_test,
        n_jobs=args.n_jobs,
        n_seeds=args.n_seeds,
        random_state=args.random_state,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    seconds = time.perf_counter() - start

    trivial = trivial_losses(data.Y_train, data.Y_test, data.task_types)
    figures = table_figures(gains, trivial)
    metadata = dict(gains.metadata)
    metadata.update(
        {
            "dataset": args.dataset,
            "loader": loader_call,
            "task_names": list(data.task_names),
            "task_types": list(data.task_types),
            # The planted grouping of a synthetic dataset, if it has one.
            **(
                {"clusters": [list(c) for c in data.clusters]}
                if "clusters" in data
                else {}
            ),
            "trivial_test_loss": trivial.tolist(),
            "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
            "n_jobs": args.n_jobs,
            "n_trainings": n_trainings,
            "wall_seconds": seconds,
            "wall_seconds_note": (
                "time of the measure_gains call that finished the table; a "
                "resumed run only counts the trainings it did"
            ),
            "figures": figures,
        }
    )
    gains = dataclasses.replace(gains, metadata=metadata)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.max_groups is None else f"_first{args.max_groups}"
    name = args.name or f"gains_{args.dataset}_{n_tasks}tasks{suffix}"
    path = out / f"{name}.csv"
    gains.save(path)

    summarize(path)


def summarize(path):
    """Print a saved table's figures and write them to benchmarks/results/."""
    path = Path(path)
    gains = MeasuredGains.load(path)
    metadata = gains.metadata
    figures = table_figures(gains, metadata["trivial_test_loss"])
    summary = {
        "table": os.path.relpath(path.resolve(), HERE.parent),
        "command": metadata["command"],
        "dataset": metadata["dataset"],
        "loader": metadata["loader"],
        "n_tasks": gains.n_tasks,
        "n_groups": len(gains.groups),
        "n_trainings": metadata["n_trainings"],
        "n_jobs": metadata["n_jobs"],
        "wall_seconds": metadata["wall_seconds"],
        "seeds": [int(s) for s in gains.seeds],
        **figures,
    }
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    summary_path = results / f"exhaustive_{path.stem}.json"
    summary_path.write_text(json.dumps(summary, indent=1))

    print(
        f"{metadata['dataset']}: wall time {metadata['wall_seconds']:.0f} s for "
        f"{metadata['n_trainings']} trainings on n_jobs={metadata['n_jobs']}"
    )
    print(
        "STL test loss / trivial predictor's:",
        [v if v is None else round(v, 3) for v in figures["stl_over_trivial_loss"]],
    )
    print(
        f"gain mean {figures['gain_mean']:.4f}, std {figures['gain_std']:.4f}, "
        f"{figures['fraction_positive']:.0%} positive"
    )
    print(
        "mean gain by group size:",
        {k: round(v, 4) for k, v in figures["gain_mean_by_group_size"].items()},
    )
    if "noise" in figures:
        print("noise:", {k: round(v, 3) for k, v in figures["noise"].items()})
    print(f"table {path} (+ {path.with_suffix('.json').name}), summary {summary_path}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--summarize":
        summarize(sys.argv[2])
    else:
        main()
