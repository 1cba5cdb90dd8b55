"""Gain prediction and group selection on every exhaustive table, ETAP vs baselines.

Its draws (seeds ``1000 * n_groups + d``, d < 10) are the ones the defaults
before issue 21 were chosen on: they are tuning draws. The figures the docs
quote for the defaults come from the disjoint report draws of
``bench_within_task.py --split report``, with the official predictor as its
code computes it (``official_predictor.py``; ``official`` here is the older
re-implementation with this library's residual stage), a tuned ridge and the
noisy column.

For every ``benchmarks/data/gains_<table>.csv`` with recorded affinities
(``affinity_<table>.npz``, made by ``benchmarks/record_affinities.py``), at 5,
10 and 20 training groups and at as many as HOA trains pairs (28 of 8 tasks, 45
of 10), 10 draws of the training groups (the same draws for every method): fit
on the training groups' rows, predict every row of the table, and score on the
rows of the held-out groups of three or more tasks (HOA has measured every
pair, so no method is scored on pairs)

- pooled Pearson r and Spearman rho over all held-out rows;
- within-task r: the mean over tasks of Pearson r across that task's
  held-out groups (what ranking groups for one task needs);
- selection regret at budgets 2, 3, 4: the exhaustive optimum of the table's
  true total gain minus the true total gain of the groups ``select_groups``
  picks from the method's predictions of every group (each task scored by
  its best chosen group, as in the paper's Table 4).

Methods: ``etap`` (``ETAPRegressor(affinity=A)`` with the library defaults,
ETAP affinity recorded at the default interval), ``etap_search``
(``make_etap_search``), and the baselines ``task_mean`` (per-task training
mean), ``task_mean_size`` (per-task mean plus a shared slope on group size,
least squares), ``ridge`` (``Ridge()`` on ``[u_G | e_t]``), ``official`` (the
official predictor re-implemented: B-spline stage 1 tuned over the paper's
grid by grouped 5-fold CV, residual stage one ridge per target task, penalty
over 1e-6..1e2 by leave-one-group-out), ``raw_affinity`` (the ETAP group
affinity itself), ``tag`` (TAG's affinity through ETAP's default stages) and
``hoa`` (higher-order approximation: the mean over the other members of the
measured pair gains; it needs every pair trained, stated in the output). At
HOA's number of trainings, ``etap_on_pairs`` is ETAP fitted on those very
pairs. ``etap_subsampled`` (``ETAPRegressor(affinity=A, n_subsamples=20)``)
runs at every size and is scored like the main methods.
``etap_flat_affinity`` (a constant affinity, i.e. the stages without the
affinity: the ablation shown beside the default) is scored on r only.
``etap_search`` and the ablation run at 10 training groups only, to keep the run
within 20 minutes. Why the defaults are what they are (the other variants) is
``bench_prediction_variants.py``'s question.

Every r and regret of the main methods is also scored against each seed's
gains alone (the regret against that seed's own optimum), and the difference
between ``etap`` and the best baseline printed per seed: a difference whose
sign changes with the seed is one the seed noise can hide.

Beside every table: the noise ceiling (r between two seeds' gains, the mean
over pairs of seeds, pooled and within task, and its Spearman-Brown value
for the mean of the table's k seeds,
whose square root bounds the r any predictor can reach against that mean).
A Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, paired over the 10
draws) compares ``etap`` with the best baseline of every metric.

Usage::

    nice -n 10 python benchmarks/bench_gain_prediction.py  # all six tables, 8 to 11 min
    # only some tables, merged into the existing JSON (every table printed):
    nice -n 10 python benchmarks/bench_gain_prediction.py clusters_8tasks --merge

Whether the chosen groups are the planted clusters of a planted table is
``planted_clusters.py``'s question (``benchmarks/results/planted_clusters.json``).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from gain_tables import (  # noqa: F401 - bench_linearized.py imports them from here
    BUDGETS,
    DATA,
    _group_size,
    fit_etap,
    fit_etap_search,
    fit_etap_subsampled,
    fit_official,
    fit_raw_affinity,
    fit_ridge,
    fit_tag,
    fit_task_mean,
    fit_task_mean_size,
    load,
    make_hoa,
    selection_regret,
)
from joblib import Parallel, delayed
from scipy import stats
from scoring import within_task_r

HERE = Path(__file__).resolve().parent
SIZES = (5, 10, 20)
# ... and as many groups as HOA trains pairs (28 of 8 tasks, 45 of 10): the
# comparison with HOA at the same number of trainings
RUNS = (*SIZES, "equal_cost")
N_DRAWS = 10
BASELINES = (
    "task_mean",
    "task_mean_size",
    "ridge",
    "official",
    "raw_affinity",
    "tag",
    "hoa",
)
MAIN = ("etap", "etap_search") + BASELINES
# Scored like the main methods, at every size: the default averaged over fits
# on 20 subsets of 80% of the training groups.
SUBSAMPLED = "etap_subsampled"


# --------------------------------------------------------------------------
# Scoring


def per_seed_scores(pred, table, test):
    """Pooled and within-task r against each seed's held-out gains alone."""
    task = table.row_task[test]
    seeds = table.y_per_seed[test]
    return {
        "pooled_r": [float(np.corrcoef(pred[test], s)[0, 1]) for s in seeds.T],
        "within_task_r": [within_task_r(pred[test], s, task) for s in seeds.T],
    }


def n_pairs(table):
    """How many pairs HOA trains: every pair of the table's tasks."""
    n_tasks = table.X.shape[1] // 2
    return n_tasks * (n_tasks - 1) // 2


def fit_etap_on_pairs(table):
    """ETAP's default fitted on the pairs HOA uses, whatever the draw."""
    pairs = _group_size(table.X).ravel() == 2

    def fit(X, y, row_group, aff):
        return fit_etap(table.X[pairs], table.y[pairs], None, aff)

    return fit


def run_draw(name, size, draw):
    """Every method on one draw of ``size`` training groups (same for all).

    ``size="equal_cost"`` draws as many groups as HOA trains pairs.
    """
    warnings.filterwarnings("ignore")
    table, aff = load(name)
    equal_cost = size == "equal_cost"
    n_train = n_pairs(table) if equal_cost else size
    rng = np.random.RandomState(1000 * n_train + draw)
    chosen = rng.choice(len(table.groups), n_train, replace=False)
    train = np.isin(table.row_group, chosen)
    # HOA has measured every pair, so no method is scored on 2-task groups.
    test = ~train & (_group_size(table.X).ravel() >= 3)
    X, y, task = table.X, table.y, table.row_task
    args = (X[train], y[train], table.row_group[train], aff)
    methods = {
        "etap": fit_etap,
        "etap_search": fit_etap_search,
        "task_mean": fit_task_mean,
        "task_mean_size": fit_task_mean_size,
        "ridge": fit_ridge,
        "official": fit_official,
        "raw_affinity": fit_raw_affinity,
        "tag": fit_tag,
        "hoa": make_hoa(table),
        SUBSAMPLED: fit_etap_subsampled,
        "etap_flat_affinity": lambda *a: fit_etap(*a, key="flat"),
    }
    if size != 10:  # the grid search and the ablation at 10 groups only (time)
        methods = {m: f for m, f in methods.items() if m in (*MAIN, SUBSAMPLED)}
        del methods["etap_search"]
    if equal_cost:
        methods["etap_on_pairs"] = fit_etap_on_pairs(table)
    result = {}
    for method, fit in methods.items():
        start = time.process_time()
        pred = np.asarray(fit(*args)(X), dtype=float)
        entry = {
            "pooled_r": float(np.corrcoef(pred[test], y[test])[0, 1]),
            "within_task_r": within_task_r(pred[test], y[test], task[test]),
            "spearman": float(stats.spearmanr(pred[test], y[test])[0]),
            "cpu_seconds": time.process_time() - start,
        }
        if method in (*MAIN, SUBSAMPLED, "etap_on_pairs"):
            entry["regret"], regret_per_seed = selection_regret(table, pred)
            entry["per_seed"] = per_seed_scores(pred, table, test) | regret_per_seed
        result[method] = entry
    return name, size, draw, result


def noise_ceiling(table):
    """Seed-to-seed r (mean over pairs of seeds) and the ceiling for the k-seed mean."""
    n_seeds = table.y_per_seed.shape[1]
    pairs = [(a, b) for a in range(n_seeds) for b in range(a + 1, n_seeds)]
    seeds = table.y_per_seed
    pooled = float(
        np.mean([np.corrcoef(seeds[:, a], seeds[:, b])[0, 1] for a, b in pairs])
    )
    within = float(
        np.mean(
            [within_task_r(seeds[:, a], seeds[:, b], table.row_task) for a, b in pairs]
        )
    )
    sb = lambda r: n_seeds * r / (1 + (n_seeds - 1) * r)  # noqa: E731  Spearman-Brown
    return {
        "n_seeds": n_seeds,
        "seed_r_pooled": pooled,
        "seed_r_within_task": within,
        "spearman_brown_pooled": sb(pooled),
        "spearman_brown_within_task": sb(within),
        "max_r_pooled": float(np.sqrt(max(sb(pooled), 0))),
        "max_r_within_task": float(np.sqrt(max(sb(within), 0))),
    }


def summarize(draws):
    """Mean and sd over draws of every metric, and Wilcoxon tests."""
    metrics = ("pooled_r", "within_task_r", "spearman")
    methods = [m for m in draws[0] if all(m in d for d in draws)]
    summary = {}
    for m in methods:
        entry = {}
        for metric in metrics:
            values = np.array([d[m][metric] for d in draws])
            entry[metric] = {"mean": float(values.mean()), "sd": float(values.std())}
        if "regret" in draws[0][m]:
            for b in BUDGETS:
                values = np.array([d[m]["regret"][b] for d in draws])
                entry[f"regret_{b}"] = {
                    "mean": float(values.mean()),
                    "sd": float(values.std()),
                }
        entry["cpu_seconds"] = float(np.mean([d[m]["cpu_seconds"] for d in draws]))
        summary[m] = entry
    tests = {}
    keys = list(metrics) + [f"regret_{b}" for b in BUDGETS]
    for key in keys:
        lower_better = key.startswith("regret")
        sign = -1 if lower_better else 1
        best = max(BASELINES, key=lambda m: sign * summary[m][key]["mean"])

        def series(m, key=key):
            if key.startswith("regret"):
                return np.array([d[m]["regret"][int(key[-1])] for d in draws])
            return np.array([d[m][key] for d in draws])

        diff = series("etap") - series(best)
        p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
        tests[key] = {
            "best_baseline": best,
            "mean_difference": float(diff.mean()),
            "p": p,
        }
        if key != "spearman":
            # the same difference scored against each seed's gains alone: if
            # its sign depends on the seed, seed noise can hide it
            tests[key]["mean_difference_per_seed"] = [
                float(
                    np.mean(
                        [
                            d["etap"]["per_seed"][key][s] - d[best]["per_seed"][key][s]
                            for d in draws
                        ]
                    )
                )
                for s in range(len(draws[0]["etap"]["per_seed"][key]))
            ]
    return summary, tests


def print_table(name, size, summary, tests, ceiling):
    print(f"\n== {name}, {size} training groups (mean (sd) over {N_DRAWS} draws) ==")
    print(
        f"noise ceiling: seed-to-seed r {ceiling['seed_r_pooled']:.2f} pooled, "
        f"{ceiling['seed_r_within_task']:.2f} within task; highest r reachable "
        f"against the {ceiling.get('n_seeds', 2)}-seed mean "
        f"{ceiling['max_r_pooled']:.2f} pooled, "
        f"{ceiling['max_r_within_task']:.2f} within task"
    )
    header = f"{'method':26s} {'pooled r':>12s} {'within r':>12s} {'spearman':>12s}"
    header += "".join(f" {'regret@' + str(b):>13s}" for b in BUDGETS)
    print(header)
    for m, e in summary.items():
        line = f"{m:26s}"
        for metric in ("pooled_r", "within_task_r", "spearman"):
            line += f" {e[metric]['mean']:6.3f} ({e[metric]['sd']:.2f})"
        for b in BUDGETS:
            if f"regret_{b}" in e:
                r = e[f"regret_{b}"]
                line += f" {r['mean']:6.3f} ({r['sd']:.2f})"
        print(line)
    for key, t in tests.items():
        per_seed = t.get("mean_difference_per_seed")
        seeds = ""
        if per_seed:
            seeds = "; against each seed alone " + " / ".join(
                f"{d:+.3f}" for d in per_seed
            )
        print(
            f"  wilcoxon etap vs best baseline on {key}: {t['best_baseline']}, "
            f"mean difference {t['mean_difference']:+.3f}, p = {t['p']:.3f}{seeds}"
        )


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["tables"])
    fig, axes = plt.subplots(2, len(names), figsize=(4 * len(names), 7), squeeze=False)
    for j, name in enumerate(names):
        for i, metric in enumerate(("pooled_r", "within_task_r")):
            ax = axes[i, j]
            table = report["tables"][name]
            xs = [*SIZES, table["hoa_pair_trainings"]]
            for m in ("etap", "official", "task_mean_size", "ridge", "tag", "hoa"):
                means = [
                    table["sizes"][str(s)]["summary"][m][metric]["mean"] for s in RUNS
                ]
                ax.plot(xs, means, marker="o", label=m, lw=2.5 if m == "etap" else 1)
            ceiling = report["tables"][name]["noise_ceiling"]
            key = "max_r_pooled" if i == 0 else "max_r_within_task"
            ax.axhline(ceiling[key], color="grey", ls="--", label="noise ceiling")
            ax.set_title(f"{name}: {metric}", fontsize=9)
            ax.set_xlabel("training groups")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="table names (default: all)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "gain_prediction.json"))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other tables of --out, replace or add these, print all",
    )
    args = parser.parse_args(argv)
    names = args.tables or sorted(
        p.stem.removeprefix("affinity_") for p in DATA.glob("affinity_*.npz")
    )
    start = time.perf_counter()
    jobs = [(n, s, d) for n in names for s in RUNS for d in range(N_DRAWS)]
    results = Parallel(n_jobs=args.n_jobs)(delayed(run_draw)(*job) for job in jobs)
    command = " ".join(["python benchmarks/bench_gain_prediction.py", *sys.argv[1:]])
    report = {
        "command": command,
        "sizes": RUNS,
        "n_draws": N_DRAWS,
        "budgets": BUDGETS,
        "tables": {},
    }
    out = Path(args.out)
    if args.merge and out.exists():
        report = json.loads(out.read_text())
        report.setdefault("merged", []).append(command)
    for name in names:
        table, aff = load(name)
        ceiling = noise_ceiling(table)
        entry = {
            "noise_ceiling": ceiling,
            "hoa_pair_trainings": n_pairs(table),
            "optimum": table.optimum,
            "sizes": {},
        }
        for size in RUNS:
            draws = [r for n, s, _, r in results if n == name and s == size]
            summary, tests = summarize(draws)
            entry["sizes"][str(size)] = {"summary": summary, "wilcoxon": tests}
        report["tables"][name] = entry
    for name in sorted(report["tables"]) if args.merge else names:
        print_report(name, report["tables"][name])
    seconds = time.perf_counter() - start
    report["wall_seconds" if not args.merge else "merge_wall_seconds"] = seconds
    out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, out.with_suffix(".png"))
    print(f"\n{seconds:.0f} s; written to {out} and .png")


def print_report(name, entry):
    ceiling = entry["noise_ceiling"]
    pairs = entry["hoa_pair_trainings"]
    for size in RUNS:
        result = entry["sizes"][str(size)]
        label = f"{pairs} (as many as hoa's pairs)" if size == "equal_cost" else size
        print_table(name, label, result["summary"], result["wilcoxon"], ceiling)
    print(
        f"hoa needs all {pairs} pairs of {ceiling_tasks(pairs)} tasks trained "
        f"(against 5/10/20/{pairs} groups for the others); etap_on_pairs is "
        "etap fitted on those pairs"
    )


def ceiling_tasks(n_pairs):
    """The number of tasks with ``n_pairs`` pairs."""
    return int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))


if __name__ == "__main__":
    main()
