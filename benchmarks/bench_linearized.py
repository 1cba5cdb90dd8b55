"""Linearized gain estimates (LinearizedGainEstimator) on every exhaustive table.

Reads ``benchmarks/data/linearized_<table>.npz`` (made by
``benchmarks/record_linearized.py``: the estimator fitted on the table's
training data around the table's all-task model, no group trained) and scores
it against the measured gains, beside what 10 measured groups buy:

- ``linearized``: the estimate alone (0 groups trained);
- ``size_rule``: per-task mean plus a shared slope on group size, least
  squares on the 10 measured groups (``LinearRegression`` on ``[e_t | |G|]``);
- ``etap``: ``ETAPRegressor(affinity=A)``, the library's default, with the
  table's recorded ETAP affinity (``affinity_<table>.npz``);
- ``etap_flat``: the same with a constant affinity (its ablation);
- ``etap_linearized``: ``ETAPRegressor(affinity=None)`` on
  ``[estimate | u_G | e_t]``: the estimate as stage-1 feature, calibrated by
  the measured groups;
- ``size_rule_linearized``: the size rule plus a slope on the estimate.

Report draws: ``N_DRAWS`` draws of 10 measured groups, seeded
``REPORT_SEED + draw`` (disjoint from the tuning seeds of
``bench_gain_prediction.py``, ``1000 * n_groups + draw`` for draws < 10; no
choice of this estimator was made on any draw: its penalty is chosen on a
split of each table's training data, its grid and projection size were fixed
before). Scores on the held-out groups of 3+ tasks, as
``bench_gain_prediction.py``: within-task r (mean over tasks of r across the
task's held-out rows) and pooled r against the seed-mean gains; a noisy
column (fitted on seed 0's gains, scored on seed 1's); selection regret at
budgets 2-4 against the exhaustive optimum. Beside them the noise ceiling
(seed-to-seed r). ``search_groups`` (10 measurements, the default
``"exploit"`` strategy and random measurement, budget 3) with ETAP and with
the estimate as its prior, measuring seed 0's gains and scored on seed 1's.

Cost: interleaved, CPU time, one thread: one plain training of the table's
model against the estimator's fit and its estimates of all the table's
groups; and 40 tasks (``make_task_clusters``), thousands of candidate groups.

Usage::

    nice -n 5 python benchmarks/bench_linearized.py            # ~15 min shared
    nice -n 5 python benchmarks/bench_linearized.py --skip-cost
    nice -n 5 python benchmarks/bench_linearized.py mhc1_10tasks_full --merge
    nice -n 5 python benchmarks/bench_linearized.py --adaptive-only  # search only
    PYTHONPATH=. nice -n 5 python benchmarks/bench_linearized.py --cost-only auto,128 \
        --cost-repeats 3                                # cost of settings only
"""

import argparse
import json
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_adaptive import run_method
from bench_gain_prediction import (
    BUDGETS,
    fit_task_mean_size,
    load,
    noise_ceiling,
    selection_regret,
    within_task_r,
)
from joblib import Parallel, delayed
from record_affinities import table_data, table_extractor, table_metadata
from record_linearized import ORDER
from scipy.stats import wilcoxon
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_etap import (
    ETAPRegressor,
    LinearizedGainEstimator,
    MeasuredGains,
    TorchAffinityExtractor,
    encode_groups,
    sample_groups,
    select_groups,
)
from sklearn_etap.datasets import make_task_clusters

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
REPORT_SEED = 90_000
N_DRAWS = 30
N_MEASURED = 10
ADAPTIVE_BUDGET = 3
FITTED = ("size_rule", "etap", "etap_flat", "etap_linearized", "size_rule_linearized")
METHODS = ("linearized", *FITTED)
# selection regret (an exact selection per budget) for these only: time
WITH_REGRET = ("linearized", "size_rule", "etap", "etap_linearized")


def load_table(name):
    table, aff = load(name)
    lin = np.load(DATA / f"linearized_{name}.npz")
    assert np.array_equal(lin["row_group"], table.row_group), name
    assert np.array_equal(lin["row_task"], table.row_task), name
    assert list(lin["groups"]) == ["-".join(map(str, g)) for g in table.groups]
    return table, aff, lin["gain"]


class EstimateLookup:
    """Prepends the stored estimate of every group-task row (as a column)."""

    def __init__(self, table, estimate):
        self.of = {row.astype(bool).tobytes(): e for row, e in zip(table.X, estimate)}

    def __call__(self, P):
        P = np.asarray(P, dtype=float)
        column = [self.of[row.astype(bool).tobytes()] for row in P]
        return np.column_stack([column, P])


def fitters(aff, lookup):
    def size_rule_linearized(X, y):
        def features(P):
            n = P.shape[1] // 2
            return np.column_stack([P[:, n:], P[:, :n].sum(1), lookup(P)[:, 0]])

        model = LinearRegression(fit_intercept=False).fit(features(X), y)
        return lambda P: model.predict(features(P))

    return {
        "size_rule": lambda X, y: fit_task_mean_size(X, y, None, aff),
        "etap": lambda X, y: ETAPRegressor(affinity=aff["etap"]).fit(X, y).predict,
        "etap_flat": lambda X, y: ETAPRegressor(affinity=aff["flat"]).fit(X, y).predict,
        "etap_linearized": lambda X, y: (
            lambda model: lambda P: model.predict(lookup(P))
        )(ETAPRegressor().fit(lookup(X), y)),
        "size_rule_linearized": size_rule_linearized,
    }


def score(pred, y, task):
    return {
        "pooled_r": float(np.corrcoef(pred, y)[0, 1]),
        "within_task_r": within_task_r(pred, y, task),
    }


def run_draw(name, draw):
    warnings.filterwarnings("ignore")
    table, aff, estimate = load_table(name)
    lookup = EstimateLookup(table, estimate)
    rng = np.random.RandomState(REPORT_SEED + draw)
    chosen = rng.choice(len(table.groups), N_MEASURED, replace=False)
    train = np.isin(table.row_group, chosen)
    test = ~train & (table.X[:, : table.X.shape[1] // 2].sum(1) >= 3)
    X, task = table.X, table.row_task
    seed0, seed1 = table.y_per_seed[:, 0], table.y_per_seed[:, 1]
    out = {"linearized": score(estimate[test], table.y[test], task[test])}
    out["linearized"]["noisy_within_task_r"] = within_task_r(
        estimate[test], seed1[test], task[test]
    )
    out["linearized"]["regret"] = selection_regret(table, estimate)[0]
    for method, fit in fitters(aff, lookup).items():
        start = time.process_time()
        pred = np.asarray(fit(X[train], table.y[train])(X), dtype=float)
        noisy = np.asarray(fit(X[train], seed0[train])(X), dtype=float)
        out[method] = score(pred[test], table.y[test], task[test])
        out[method]["noisy_within_task_r"] = within_task_r(
            noisy[test], seed1[test], task[test]
        )
        if method in WITH_REGRET:
            out[method]["regret"] = selection_regret(table, pred)[0]
        out[method]["cpu_seconds"] = time.process_time() - start
    return name, draw, out


def run_adaptive(name, draw):
    """search_groups measuring seed 0's gains, scored on seed 1's, budget 3."""
    warnings.filterwarnings("ignore")
    table, aff, estimate = load_table(name)
    lookup = EstimateLookup(table, estimate)
    n_tasks = table.X.shape[1] // 2

    def truth_of(y):
        return {g: y[table.row_group == i] for i, g in enumerate(table.groups)}

    measured, truth = truth_of(table.y_per_seed[:, 0]), truth_of(table.y_per_seed[:, 1])
    optimum = table.optimum_seed[1][ADAPTIVE_BUDGET]
    estimators = {
        "etap": ETAPRegressor(affinity=aff["etap"]),
        "etap_linearized": make_pipeline(
            FunctionTransformer(lookup, check_inverse=False), ETAPRegressor()
        ),
    }
    out = {}
    for label, estimator in estimators.items():
        for strategy in ("random", "exploit"):
            total = run_method(
                strategy,
                truth,
                n_tasks,
                ADAPTIVE_BUDGET,
                draw,
                N_MEASURED,
                estimator,
                measured=measured,
            )
            out[f"{label}_{strategy}"] = optimum - total
    chosen = select_groups(estimate, ADAPTIVE_BUDGET, rows=table.X).groups
    best = np.full(n_tasks, -np.inf)
    for group in chosen:
        gains = truth[tuple(group)] if len(group) > 1 else np.zeros(1)
        for t, g in zip(group, gains):
            best[t] = max(best[t], g)
    out["linearized_no_training"] = optimum - float(best.sum())
    return name, draw, out


def summarize(draws):
    summary = {}
    for method in METHODS:
        entry = {}
        for metric in ("pooled_r", "within_task_r", "noisy_within_task_r"):
            values = np.array([d[method][metric] for d in draws])
            entry[metric] = {"mean": float(values.mean()), "sd": float(values.std())}
        for b in BUDGETS if method in WITH_REGRET else ():
            values = np.array([d[method]["regret"][b] for d in draws])
            entry[f"regret_{b}"] = float(values.mean())
        summary[method] = entry
    return summary


def standalone_all_rows(table, estimate):
    """The estimate against every row of the table (no draw: nothing fitted)."""
    out = score(estimate, table.y, table.row_task)
    out["per_seed_within_task_r"] = [
        within_task_r(estimate, s, table.row_task) for s in table.y_per_seed.T
    ]
    return out


def cpu(function, *args):
    start = time.process_time()
    result = function(*args)
    return result, time.process_time() - start


def table_cost(name, repeats):
    """Interleaved: plain training, then the estimator's fit and estimates
    (``repeats`` times, medians; once for tables of 10 tasks: time)."""
    metadata = table_metadata(name)
    data = table_data(metadata)
    P = MeasuredGains.load(DATA / f"gains_{name}.csv").X
    repeats = repeats if P.shape[1] <= 16 else 1
    rows = []
    for _ in range(repeats):
        extractor = table_extractor(metadata, affinity=None)
        _, train = cpu(extractor.fit, data.X_train, data.Y_train)
        estimator = LinearizedGainEstimator(extractor, random_state=0)
        _, fit = cpu(estimator.fit, data.X_train, data.Y_train)
        _, predict = cpu(estimator.predict, P)
        rows.append((train, fit, predict))
    train, fit, predict = np.median(rows, axis=0)
    return {
        "repeats": repeats,
        "train_cpu_seconds": float(train),
        "fit_cpu_seconds": float(fit),
        "predict_all_groups_cpu_seconds": float(predict),
        "n_rows": int(len(P)),
        "fit_over_train": float(fit / train),
        "fit_and_predict_over_train": float((fit + predict) / train),
    }


def setting(text):
    """``"auto"``, ``"None"`` or an int: an ``n_components`` value."""
    return None if text == "None" else text if text == "auto" else int(text)


def table_costs(name, components, repeats, fit_only=False):
    """Interleaved, per repeat: one plain training of the table's model, then
    the estimator's fit and its estimates of all the table's groups at every
    ``n_components`` setting (fresh estimators: nothing cached)."""
    metadata = table_metadata(name)
    data = table_data(metadata)
    P = MeasuredGains.load(DATA / f"gains_{name}.csv").X
    order = np.random.RandomState(0)
    train, fit, predict = [], {c: [] for c in components}, {c: [] for c in components}
    loads = [list(__import__("os").getloadavg())]
    for _ in range(repeats):
        extractor = table_extractor(metadata, affinity=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train.append(cpu(extractor.fit, data.X_train, data.Y_train)[1])
            for c in order.permutation(components):
                est = LinearizedGainEstimator(
                    extractor, n_components=setting(c), random_state=0
                )
                fit[c].append(cpu(est.fit, data.X_train, data.Y_train)[1])
                predict[c].append(np.nan if fit_only else cpu(est.predict, P)[1])
        loads.append(list(__import__("os").getloadavg()))
    train = np.array(train)
    out = {
        "repeats": repeats,
        "n_groups": int(len(np.unique(P[:, : P.shape[1] // 2], axis=0))),
        "train_cpu_seconds": train.tolist(),
        "train_median": float(np.median(train)),
        "load_average": loads,
        "settings": {},
    }
    for c in components:
        f, p = np.array(fit[c]), np.array(predict[c])
        ratio, both = f / train, (f + p) / train
        out["settings"][c] = {
            "fit_cpu_seconds": f.tolist(),
            "predict_all_groups_cpu_seconds": p.tolist(),
            "fit_over_train_paired_median": float(np.median(ratio)),
            "fit_over_train_paired_range": [float(ratio.min()), float(ratio.max())],
            "fit_and_predict_over_train_paired_median": float(np.median(both)),
        }
    return out


def cost_only(
    names, components, repeats, path=RESULTS / "linearized_cost.json", fit_only=False
):
    warm = make_task_clusters(200, random_state=0)  # torch's first-call costs
    TorchAffinityExtractor(max_epochs=1, affinity=None, random_state=0).fit(
        warm.X_train, warm.Y_train
    )
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "timing": "process CPU seconds, one torch thread; per repeat one plain "
        "training, then every setting's fit and estimates of all groups in a "
        "shuffled order; ratios paired within a repeat",
        "tables": {},
    }
    for name in names:
        entry = table_costs(name, components, repeats, fit_only)
        report["tables"][name] = entry
        print(f"{name}: plain training {entry['train_median']:.3f} s (median)")
        for c, e in entry["settings"].items():
            print(
                f"  n_components={c}: fit {np.median(e['fit_cpu_seconds']):.3f} s, "
                f"all {entry['n_groups']} groups "
                f"{np.median(e['predict_all_groups_cpu_seconds']):.3f} s; fit / "
                f"training {e['fit_over_train_paired_median']:.2f} "
                f"[{e['fit_over_train_paired_range'][0]:.2f}, "
                f"{e['fit_over_train_paired_range'][1]:.2f}], (fit + groups) / "
                f"training {e['fit_and_predict_over_train_paired_median']:.2f}",
                flush=True,
            )
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {path}")


def score_dirs(directories, path):
    """Within-task r of stored estimates on all rows of the groups of 3+ tasks
    (against the seed-mean gains): draw-independent, since nothing is fitted."""
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "within_task_r_all_rows_3plus": {},
    }
    for directory in directories:
        scores = {}
        for name in ORDER:
            file = Path(directory) / f"linearized_{name}.npz"
            if not file.exists():
                continue
            table = MeasuredGains.load(DATA / f"gains_{name}.csv")
            keep = table.X[:, : table.X.shape[1] // 2].sum(axis=1) >= 3
            gain = np.load(file)["gain"]
            scores[name] = float(
                within_task_r(gain[keep], table.y[keep], table.row_task[keep])
            )
        report["within_task_r_all_rows_3plus"][str(directory)] = scores
        print(directory, {k: round(v, 3) for k, v in scores.items()})
    Path(path).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {path}")


def many_tasks_cost(n_candidates=2000):
    """40 tasks (8 planted clusters of 5), the default (32, 16) MLP, 10 epochs."""
    data = make_task_clusters(
        2000, n_clusters=8, tasks_per_cluster=5, n_conflicting=0, random_state=0
    )
    extractor = TorchAffinityExtractor(
        max_epochs=10, affinity=None, device="cpu", random_state=0
    )
    _, train = cpu(lambda: extractor.fit(data.X_train, data.Y_train))
    estimator = LinearizedGainEstimator(extractor, random_state=0)
    _, fit = cpu(lambda: estimator.fit(data.X_train, data.Y_train))
    groups = sample_groups(40, n_candidates, random_state=0, max_size=8)
    P = encode_groups(groups, 40)
    _, predict = cpu(lambda: estimator.predict(P))
    _, again = cpu(lambda: estimator.predict(P))
    return {
        "n_tasks": 40,
        "n_train_samples": int(data.X_train.shape[0]),
        "n_parameters": int(estimator.n_parameters_),
        "n_components": int(estimator.n_components_),
        "n_candidate_groups": n_candidates,
        "train_cpu_seconds": train,
        "fit_cpu_seconds": fit,
        "predict_cpu_seconds": predict,
        "milliseconds_per_group": 1000 * predict / n_candidates,
        "predict_again_cached_cpu_seconds": again,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--cost-repeats", type=int, default=2)
    parser.add_argument(
        "--adaptive-only",
        action="store_true",
        help="rerun only the search_groups comparison, into the existing JSON",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="update these tables in the existing results JSON (others kept)",
    )
    parser.add_argument(
        "--cost-only",
        default=None,
        metavar="SETTINGS",
        help="only the cost, of these comma-separated n_components settings "
        "(e.g. auto,128), into benchmarks/results/linearized_cost.json",
    )
    parser.add_argument("--cost-out", default=str(RESULTS / "linearized_cost.json"))
    parser.add_argument("--fit-only", action="store_true", help="cost: skip groups")
    parser.add_argument(
        "--score-dirs",
        default=None,
        help="comma-separated directories of linearized_<table>.npz: print their "
        "within-task r on all rows, into benchmarks/results/linearized_settings.json",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = args.tables or [n for n in ORDER if (DATA / f"linearized_{n}.npz").exists()]
    if args.score_dirs:
        return score_dirs(
            args.score_dirs.split(","), RESULTS / "linearized_settings.json"
        )
    if args.cost_only:
        return cost_only(
            names,
            args.cost_only.split(","),
            args.cost_repeats,
            args.cost_out,
            args.fit_only,
        )
    jobs = [(n, d) for n in names for d in range(N_DRAWS)]
    if args.adaptive_only:
        return adaptive_only(names, jobs, args.n_jobs)
    started = time.perf_counter()
    draws = Parallel(n_jobs=args.n_jobs)(delayed(run_draw)(n, d) for n, d in jobs)
    adaptive = Parallel(n_jobs=args.n_jobs)(
        delayed(run_adaptive)(n, d) for n, d in jobs
    )
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "n_draws": N_DRAWS,
        "report_seeds": f"{REPORT_SEED} + draw, draw < {N_DRAWS}",
        "n_measured_groups": N_MEASURED,
        "load_average_at_start": list(np.round(__import__("os").getloadavg(), 1)),
        "tables": {},
    }
    for name in names:
        table, _, estimate = load_table(name)
        lin = np.load(DATA / f"linearized_{name}.npz")
        mine = [d for n, _, d in draws if n == name]
        ad = [d for n, _, d in adaptive if n == name]
        report["tables"][name] = {
            "noise_ceiling": noise_ceiling(table),
            "standalone_all_rows": standalone_all_rows(table, estimate),
            "alpha": float(lin["alpha"]),
            "n_parameters": int(lin["n_parameters"]),
            "n_components": int(lin["n_components"]),
            "summary": summarize(mine),
            "adaptive_budget3_regret_vs_seed1": adaptive_summary(ad),
        }
    report["draw_wall_seconds"] = time.perf_counter() - started
    if not args.skip_cost:
        report["cost"] = {n: table_cost(n, args.cost_repeats) for n in names}
        report["cost"]["40_tasks"] = many_tasks_cost()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "linearized.json"
    if args.merge and path.exists():
        old = json.loads(path.read_text())
        report["tables"] = {**old["tables"], **report["tables"]}
        report["cost"] = {**old.get("cost", {}), **report.get("cost", {})}
        report["command"] = old["command"] + " ; " + report["command"]
    path.write_text(json.dumps(report, indent=1))
    print_report(report)


def adaptive_summary(draws):
    """Mean regret per search, the per-draw regrets, and the paired Wilcoxon
    test of exploiting with the estimate against exploiting with ETAP."""
    out = {k: float(np.mean([d[k] for d in draws])) for k in draws[0]}
    out["per_draw"] = {k: [float(d[k]) for d in draws] for k in draws[0]}
    diff = np.array(out["per_draw"]["etap_linearized_exploit"]) - np.array(
        out["per_draw"]["etap_exploit"]
    )
    out["exploit_linearized_minus_etap"] = {
        "mean": float(diff.mean()),
        "draws_lower": int(np.sum(diff < 0)),
        "draws_higher": int(np.sum(diff > 0)),
        "wilcoxon_p": float(wilcoxon(diff).pvalue) if np.any(diff) else 1.0,
    }
    return out


def adaptive_only(names, jobs, n_jobs):
    adaptive = Parallel(n_jobs=n_jobs)(delayed(run_adaptive)(n, d) for n, d in jobs)
    path = RESULTS / "linearized.json"
    report = json.loads(path.read_text())
    for name in names:
        summary = adaptive_summary([d for n, _, d in adaptive if n == name])
        report["tables"][name]["adaptive_budget3_regret_vs_seed1"] = summary
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    report["command"] += " ; " + command
    path.write_text(json.dumps(report, indent=1))
    print_report(report)


def print_report(report):
    print(f"{report['command']}\n{report['n_draws']} report draws, 10 measured groups")
    for name, entry in report["tables"].items():
        c, s = entry["noise_ceiling"], entry["standalone_all_rows"]
        print(
            f"\n== {name} ({entry['n_parameters']} parameters, alpha "
            f"{entry['alpha']:g}) ==\nnoise ceiling: seed-to-seed r "
            f"{c['seed_r_pooled']:.2f} pooled / {c['seed_r_within_task']:.2f} within"
            f"\nestimate on all rows: pooled {s['pooled_r']:.2f}, within "
            f"{s['within_task_r']:.2f}"
        )
        print(f"{'method':22s} pooled   within (sd)     noisy within  regret 2/3/4")
        for method, e in entry["summary"].items():
            print(
                f"{method:22s} {e['pooled_r']['mean']:6.3f}  "
                f"{e['within_task_r']['mean']:6.3f} ({e['within_task_r']['sd']:.3f})"
                f"  {e['noisy_within_task_r']['mean']:6.3f}        "
                + " / ".join(
                    f"{e[f'regret_{b}']:.3f}" for b in BUDGETS if f"regret_{b}" in e
                )
            )
        print(
            "search_groups, budget 3, regret vs seed 1:",
            entry["adaptive_budget3_regret_vs_seed1"].get(
                "exploit_linearized_minus_etap"
            ),
            {
                k: round(v, 3)
                for k, v in entry["adaptive_budget3_regret_vs_seed1"].items()
                if isinstance(v, float)
            },
        )
    for name, e in report.get("cost", {}).items():
        print(
            name, {k: round(v, 3) if isinstance(v, float) else v for k, v in e.items()}
        )


if __name__ == "__main__":
    main()
