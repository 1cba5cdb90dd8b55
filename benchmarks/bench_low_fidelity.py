"""Low-fidelity measurements: many groups at a fraction of the epochs.

Issue 21, direction 4. With a measurement budget counted in EPOCHS, equal to
ten full trainings, is it better to train 10 groups to the end (and fit ETAP
on their gains) or 10 * F groups for 1/F of the epochs (and fit ETAP on those
cheaper, noisier, biased gains)?

Two steps:

``measure TABLE --fraction F`` trains every group of the table (one seed, the
table's own settings but ``max_epochs // F``) with ``measure_gains`` and saves
``benchmarks/data/lowfi_<table>_1of<F>.csv`` (+ JSON: settings, epochs, CPU
time). ``score`` then needs no training: per draw it picks ``10 * F`` random
groups; methods that train fully see the first 10 of them (one seed of the
exhaustive table, the budget of 10 trainings), the low-fidelity methods see
all ``10 * F`` at low fidelity; every method is scored on the same held-out
groups of 3+ tasks (none of the ``10 * F``) against the table's seed-mean
gains.

Usage (the figures in docs/benchmark_results.md)::

    for t in digits_8tasks ridership_8tasks appliances_10tasks; do for f in 4 2; do
        nice -n 5 python benchmarks/bench_low_fidelity.py measure $t --fraction $f
    done; done
    T=digits_8tasks,ridership_8tasks,appliances_10tasks
    PYTHONPATH=. nice -n 5 python benchmarks/bench_low_fidelity.py score \\
        --split tuning --draws 15 --fractions 4,2 --tables $T
    PYTHONPATH=. nice -n 5 python benchmarks/bench_low_fidelity.py score \\
        --split report --draws 30 --fractions 4 --tables $T

(from the repository root; results/low_fidelity_tuning.json, results/low_fidelity.json).
"""

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_within_task import (
    _size,
    draw_seed,
    etap,
    fit_size_rule,
    load,
    noise_ceiling,
    paired,
    regret,
)
from joblib import Parallel, delayed
from record_affinities import table_data, table_extractor, table_metadata
from scoring import within_task_r

from sklearn_etap import MeasuredGains, measure_gains
from sklearn_etap._groups import all_groups

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
N_FULL = 10
# Successive halving within the same budget: 24 groups at 1/4 of the epochs
# (6 full trainings) and 4 of them again at full fidelity (4 trainings).
SH_LOW, SH_FULL = 24, 4
# The tables this script lowers the epochs of; their data and settings are
# read from each table's JSON sidecar, as record_affinities.py reads them.
TABLES = ("appliances_10tasks", "digits_8tasks", "ridership_8tasks")
# Not the exhaustive tables' random_state (0): the low-fidelity seed must
# differ from the seeds of the truth it is scored on.
LOWFI_RANDOM_STATE = 1


def lowfi_path(table, fraction):
    return DATA / f"lowfi_{table}_1of{fraction}.csv"


def measure(table, fraction, n_jobs, cache_dir):
    torch.set_num_threads(1)
    table_settings = table_metadata(table)
    data = table_data(table_settings)
    full_epochs = table_extractor(table_settings).max_epochs
    epochs = max(1, full_epochs // fraction)
    extractor = table_extractor(table_settings, max_epochs=epochs)
    groups = all_groups(data.Y_train.shape[1])
    wall, cpu = time.perf_counter(), time.process_time()
    children = os.times()
    gains = measure_gains(
        extractor,
        data.X_train,
        data.Y_train,
        groups,
        data.X_test,
        data.Y_test,
        n_jobs=n_jobs,
        n_seeds=1,
        random_state=LOWFI_RANDOM_STATE,
        cache_dir=cache_dir,
        progress=False,
    )
    after = os.times()
    cpu_seconds = (
        time.process_time()
        - cpu
        + (after.children_user - children.children_user)
        + (after.children_system - children.children_system)
    )
    metadata = dict(gains.metadata)
    metadata.update(
        command="python " + " ".join(shlex.quote(a) for a in sys.argv),
        table=table,
        fraction=fraction,
        max_epochs=epochs,
        full_max_epochs=full_epochs,
        n_trainings=len(groups) + data.Y_train.shape[1],
        wall_seconds=time.perf_counter() - wall,
        cpu_seconds=cpu_seconds,
        cpu_note="this process plus finished worker processes; a resumed run "
        "counts only the trainings it did",
        load_average=os.getloadavg(),
    )
    gains = dataclasses.replace(gains, metadata=metadata)
    gains.save(lowfi_path(table, fraction))
    print(
        f"{table} at {epochs}/{full_epochs} epochs: "
        f"{metadata['n_trainings']} trainings, {metadata['wall_seconds']:.0f} s "
        f"wall, {cpu_seconds:.0f} s CPU -> {lowfi_path(table, fraction)}"
    )


def load_lowfi(table, fraction):
    """The low-fidelity gains aligned with the rows of the exhaustive table."""
    lowfi = MeasuredGains.load(lowfi_path(table.name, fraction))
    y = np.full(len(table.y), np.nan)
    y[table.row_index(lowfi.X)] = lowfi.y
    if np.isnan(y).any():
        raise ValueError(f"{lowfi_path(table.name, fraction)} misses rows")
    return y, lowfi.metadata


def _fitters():
    return {
        "etap": etap(),
        "etap_flat": etap("flat"),
        "size_rule": fit_size_rule,
    }


def _score(table, pred, y_train, train, test, truth_cols):
    """Within r against the seed mean and each seed; regret of selecting on
    the prediction with the measured rows replaced by their measurement."""
    task = table.row_task
    chosen_on = pred.copy()
    chosen_on[train] = y_train
    return {
        "within": within_task_r(pred[test], table.y[test], task[test]),
        "noisy_within": float(
            np.mean(
                [
                    within_task_r(pred[test], table.seeds[test, b], task[test])
                    for b in truth_cols
                ]
            )
        ),
        "regret": regret(table, chosen_on, table.y),
    }


def run_draw(name, split, draw, fractions):
    warnings.filterwarnings("ignore")
    table = load(name)
    n_groups = len(table.groups)
    rng = np.random.RandomState(draw_seed(split, N_FULL, draw))
    order = rng.permutation(n_groups)
    largest = N_FULL * max(fractions)
    full = np.isin(table.row_group, order[:N_FULL])
    test = ~np.isin(table.row_group, order[:largest]) & (_size(table.X).ravel() >= 3)
    X, g = table.X, table.row_group
    n_seeds = table.seeds.shape[1]
    out = {}
    for method, fit in _fitters().items():
        start = time.process_time()
        # Full fidelity, one seed: the budget of N_FULL trainings. Scored on
        # the seed mean (which includes the fitted seed) and on the other seeds.
        entries = []
        for a in range(n_seeds):
            y_a = table.seeds[full, a]
            pred = np.asarray(fit(X[full], y_a, g[full], table)(X), float)
            entries.append(
                _score(
                    table, pred, y_a, full, test, [b for b in range(n_seeds) if b != a]
                )
            )
        entry = {k: float(np.mean([e[k] for e in entries])) for k in entries[0]}
        entry["cpu_seconds"] = time.process_time() - start
        out[f"{method}_full{N_FULL}"] = entry
        for fraction in fractions:
            start = time.process_time()
            y_low, _ = load_lowfi(table, fraction)
            lowfi = np.isin(table.row_group, order[: N_FULL * fraction])
            pred = np.asarray(fit(X[lowfi], y_low[lowfi], g[lowfi], table)(X), float)
            entry = _score(table, pred, y_low[lowfi], lowfi, test, range(n_seeds))
            entry["cpu_seconds"] = time.process_time() - start
            out[f"{method}_lowfi{N_FULL * fraction}"] = entry
        if 4 in fractions:
            start = time.process_time()
            entries = [_halving(table, fit, order, test, a) for a in range(n_seeds)]
            entry = {k: float(np.mean([e[k] for e in entries])) for k in entries[0]}
            entry["cpu_seconds"] = time.process_time() - start
            out[f"{method}_halving{SH_LOW}to{SH_FULL}"] = entry
    return name, draw, out


def _halving(table, fit, order, test, a):
    """Successive halving at the same epoch budget: SH_LOW groups at 1/4 of
    the epochs, then the SH_FULL with the largest summed low-fi gain trained
    fully (seed a of the table). The predictor is fitted on the low-fi gains;
    selection sees the full gains where measured, else the low-fi ones."""
    X, g = table.X, table.row_group
    y_low, _ = load_lowfi(table, 4)
    low = np.isin(g, order[:SH_LOW])
    totals = {grp: y_low[low & (g == grp)].sum() for grp in order[:SH_LOW]}
    best = sorted(totals, key=totals.get, reverse=True)[:SH_FULL]
    pred = np.asarray(fit(X[low], y_low[low], g[low], table)(X), float)
    measured = y_low.copy()
    full = np.isin(g, best)
    measured[full] = table.seeds[full, a]
    others = [b for b in range(table.seeds.shape[1]) if b != a]
    return _score(table, pred, measured[low], low, test, others)


def lowfi_agreement(table, fraction):
    """Within-task r of the low-fidelity gains with the truth (groups of 3+)."""
    y_low, metadata = load_lowfi(table, fraction)
    rows = _size(table.X).ravel() >= 3
    task = table.row_task[rows]
    return {
        "with_seed_mean": within_task_r(y_low[rows], table.y[rows], task),
        "with_each_seed": float(
            np.mean(
                [
                    within_task_r(y_low[rows], table.seeds[rows, b], task)
                    for b in range(table.seeds.shape[1])
                ]
            )
        ),
        "max_epochs": metadata["max_epochs"],
        "full_max_epochs": metadata["full_max_epochs"],
        "cpu_seconds": metadata["cpu_seconds"],
    }


def summarize(draws, fractions):
    methods = list(draws[0])
    summary = {
        m: {
            k: {
                "mean": float(np.mean([d[m][k] for d in draws])),
                "sd": float(np.std([d[m][k] for d in draws])),
            }
            for k in draws[0][m]
        }
        for m in methods
    }
    tests = {}
    pairs = [("etap_full10", "size_rule_full10"), ("etap_full10", "etap_flat_full10")]
    for f in fractions:
        low = f"etap_lowfi{N_FULL * f}"
        pairs += [
            (low, "etap_full10"),
            (low, "size_rule_full10"),
            (low, f"etap_flat_lowfi{N_FULL * f}"),
            (low, f"size_rule_lowfi{N_FULL * f}"),
        ]
    if 4 in fractions:
        pairs += [
            (f"etap_halving{SH_LOW}to{SH_FULL}", "etap_full10"),
            (f"etap_halving{SH_LOW}to{SH_FULL}", "etap_lowfi40"),
        ]
    for a, b in pairs:
        for key in ("within", "regret"):
            res = paired(draws, a, b, key)
            if res is not None:
                tests[f"{a} - {b} ({key})"] = res
    return summary, tests


def score(split, n_draws, fractions, tables, n_jobs):
    start = time.perf_counter()
    results = Parallel(n_jobs=n_jobs)(
        delayed(run_draw)(name, split, d, fractions)
        for name in tables
        for d in range(n_draws)
    )
    report = {
        "command": "python benchmarks/bench_low_fidelity.py " + " ".join(sys.argv[1:]),
        "split": split,
        "seeds": f"{draw_seed(split, N_FULL, 0)} + draw",
        "n_draws": n_draws,
        "budget": f"{N_FULL} full trainings of groups, counted in epochs "
        "(the STL trainings, one per task, are not counted)",
        "fractions": fractions,
        "tables": {},
    }
    cols = ["within", "noisy_within", "regret"]
    for name in tables:
        table = load(name)
        draws = [r for n, _, r in results if n == name]
        summary, tests = summarize(draws, fractions)
        ceiling = noise_ceiling(table)
        agreement = {str(f): lowfi_agreement(table, f) for f in fractions}
        report["tables"][name] = {
            "noise_ceiling": ceiling,
            "lowfi_agreement": agreement,
            "summary": summary,
            "paired": tests,
        }
        print(f"\n== {name}, {split} draws: {len(draws)} ==")
        print(
            f"noise ceiling: seed-to-seed within r {ceiling['seed_r_within']:.3f}; "
            f"highest within r against the seed mean {ceiling['max_r_within']:.3f}"
        )
        for f, a in agreement.items():
            print(
                f"low-fi 1/{f} ({a['max_epochs']}/{a['full_max_epochs']} epochs, "
                f"{a['cpu_seconds']:.0f} s CPU for the table): within r with the "
                f"seed mean {a['with_seed_mean']:.3f}, with one seed "
                f"{a['with_each_seed']:.3f}"
            )
        print(f"{'method':22s}" + "".join(f"{c:>16s}" for c in cols))
        for m, e in summary.items():
            print(
                f"{m:22s}"
                + "".join(f"{e[c]['mean']:9.3f} ({e[c]['sd']:.2f})" for c in cols)
            )
        for label, t in tests.items():
            print(
                f"  {label}: {t['mean']:+.3f} (sd {t['sd']:.3f}, p = {t['p']:.3f}; "
                f"{t['n']} draws detect {t['detectable']:.3f})"
            )
    report["wall_seconds"] = time.perf_counter() - start
    report["load_average"] = list(os.getloadavg())
    out = (
        HERE
        / "results"
        / ("low_fidelity.json" if split == "report" else "low_fidelity_tuning.json")
    )
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\n{report['wall_seconds']:.0f} s wall (load average "
        f"{report['load_average']}); written to {out}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    m = sub.add_parser("measure")
    m.add_argument("table", choices=sorted(TABLES))
    m.add_argument("--fraction", type=int, default=4)
    m.add_argument("--n-jobs", type=int, default=1)
    m.add_argument("--cache-dir", default="/tmp/etap_lowfi_cache")
    sc = sub.add_parser("score")
    sc.add_argument("--split", choices=("tuning", "report"), required=True)
    sc.add_argument("--draws", type=int, default=15)
    sc.add_argument("--fractions", default="4,2")
    sc.add_argument("--tables", default="digits_8tasks,ridership_8tasks")
    sc.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.step == "measure":
        measure(args.table, args.fraction, args.n_jobs, args.cache_dir)
    else:
        score(
            args.split,
            args.draws,
            [int(f) for f in args.fractions.split(",")],
            args.tables.split(","),
            args.n_jobs,
        )


if __name__ == "__main__":
    main()
