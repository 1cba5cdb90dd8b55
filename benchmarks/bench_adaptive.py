"""Adaptive measurement (``search_groups``) against random measurement.

On every exhaustive gain table in ``benchmarks/data/`` (every group of the
tables' tasks measured), ``measure`` is simulated by looking the groups up in
the table (the ``gain`` column: the mean over the table's seeds). Each method
spends the same number of trainings (``--n-measured``, 10) and then selects
``n_groups`` groups (budgets 2, 3 and 4); the selection is scored by its
true total gain (from the table), over ``--draws`` draws (``random_state``
0..draws-1):

- ``random``: all trainings on random groups (``n_initial = n_measured``),
  the same predictor and selection as the adaptive search;
- ``exploit``, ``explore``, ``optimistic``, ``pairs``: ``search_groups``'s
  strategies, ``n_initial`` at its default (half the trainings);
- the ceiling: the exhaustive optimum itself (every group measured).

Scores: ``regret`` = optimum's true total minus the selection's (gain summed
over tasks; 0 is best) and ``share`` = how much of the way from a blind
choice to the optimum the selection goes, ``(S - S_blind) / (opt - S_blind)``,
where ``S_blind`` is the mean true total of selections made from random
gains (the optima of these tables are often negative, so ``S / opt`` means
nothing). Paired over draws: the number of draws where a strategy's regret is
below random's, and a Wilcoxon signed-rank p-value.

Usage::

    nice -n 10 python benchmarks/bench_adaptive.py             # the default predictor
    nice -n 10 python benchmarks/bench_adaptive.py --estimator interaction \\
        --out benchmarks/results/adaptive_search_interaction.json
    # ETAPRegressor(affinity=A) with the table's recorded affinity:
    nice -n 10 python benchmarks/bench_adaptive.py --estimator etap \\
        --out benchmarks/results/adaptive_search_etap.json
    nice -n 10 python benchmarks/bench_adaptive.py --noisy     # seed 0 measured,
                                                               # scored on seed 1
    nice -n 10 python benchmarks/bench_adaptive.py --planted   # planted clusters
    # only some tables, merged into the existing JSON:
    nice -n 10 python benchmarks/bench_adaptive.py --tables clusters_8tasks --merge

The searches cost about 1.5 minutes of CPU in all (``cpu_seconds`` in the
JSON); on 2 cores shared with other jobs the first command took 13 minutes.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from sklearn_etap import (
    ETAPRegressor,
    MeasuredGains,
    ResidualRidge,
    all_groups,
    search_groups,
    select_groups,
)

HERE = Path(__file__).resolve().parent
BUDGETS = (2, 3, 4)
STRATEGIES = ("exploit", "explore", "optimistic", "pairs")
N_BLIND = 20
# Predictors to compare (``--estimator``); "default" is search_groups' own.
ESTIMATORS = {
    "default": None,
    "interaction": ResidualRidge(encoding="interaction"),
    # ETAPRegressor's defaults with the table's recorded ETAP affinity
    # (benchmarks/data/affinity_<table>.npz), set per table in bench_table.
    "etap": "etap",
}


def table_estimator(estimator, path):
    """``ETAPRegressor(affinity=A)`` for ``"etap"``, with the table's affinity."""
    if not isinstance(estimator, str):
        return estimator
    name = path.stem.removeprefix("gains_")
    affinity = np.load(path.parent / f"affinity_{name}.npz")["etap"]
    return ETAPRegressor(affinity=affinity)


def load_truth(path, seed=None):
    """``{group: member gains}`` of a table: the seed mean, or one seed's."""
    table = MeasuredGains.load(path)
    y = table.y if seed is None else table.y_per_seed[:, seed]
    truth = {g: y[table.row_group == i] for i, g in enumerate(table.groups)}
    return truth, table.n_tasks


def true_total(groups, truth, n_tasks):
    """The overlap objective of ``groups`` under the true gains: every task
    scored by its best chosen group (a singleton scores 0)."""
    best = np.full(n_tasks, -np.inf)
    for group in groups:
        gains = truth[group] if len(group) > 1 else np.zeros(1)
        for task, gain in zip(group, gains):
            best[task] = max(best[task], gain)
    assert np.isfinite(best).all(), "a selection must cover every task"
    return float(best.sum())


def blind_total(truth, n_tasks, budget):
    """Mean true total of selections made from random gains."""
    rng = np.random.RandomState(0)
    totals = []
    for _ in range(N_BLIND):
        noise = {g: rng.normal(size=len(g)) for g in truth}
        chosen = select_groups(noise, budget, n_tasks=n_tasks).groups
        totals.append(true_total(chosen, truth, n_tasks))
    return float(np.mean(totals))


def run_method(
    method, truth, n_tasks, budget, draw, n_measured, estimator=None, measured=None
):
    """True total of one search's selection; ``measure`` looks groups up in
    ``measured`` (default: ``truth`` itself)."""
    measured = truth if measured is None else measured

    def measure(groups):
        return [measured[g] for g in groups]

    kwargs = {"n_groups": budget, "n_measured": n_measured, "random_state": draw}
    kwargs["estimator"] = estimator
    if method == "random":
        kwargs["n_initial"] = n_measured
    else:
        kwargs["strategy"] = method
    result = search_groups(measure, n_tasks, **kwargs)
    return true_total(result.groups, truth, n_tasks)


def summarize(regrets, optimum, blind):
    regrets = np.asarray(regrets)
    share = 1 - regrets / (optimum - blind)
    return {
        "regret_mean": float(regrets.mean()),
        "regret_std": float(regrets.std()),
        "share_mean": float(share.mean()),
        "regret_per_draw": regrets.tolist(),
    }


def paired(regrets, baseline):
    regrets, baseline = np.asarray(regrets), np.asarray(baseline)
    differences = baseline - regrets
    p = float("nan")
    if np.any(differences != 0):
        p = float(wilcoxon(regrets, baseline).pvalue)
    return {
        "draws_better_than_random": int(np.sum(differences > 0)),
        "draws_worse_than_random": int(np.sum(differences < 0)),
        "wilcoxon_p_vs_random": p,
    }


def bench_table(path, methods, draws, n_measured, estimator, noisy=False):
    estimator = table_estimator(estimator, path)
    truth, n_tasks = load_truth(path, seed=1 if noisy else None)
    measured = load_truth(path, seed=0)[0] if noisy else truth
    entry = {"n_tasks": n_tasks, "n_groups_in_table": len(truth), "budgets": {}}
    for budget in BUDGETS:
        optimum = select_groups(truth, budget, n_tasks=n_tasks).total_gain
        blind = blind_total(truth, n_tasks, budget)
        rows = {}
        for method in methods:
            start = time.process_time()
            regrets = [
                optimum
                - run_method(
                    method, truth, n_tasks, budget, d, n_measured, estimator, measured
                )
                for d in range(draws)
            ]
            rows[method] = summarize(regrets, optimum, blind)
            rows[method]["cpu_seconds"] = time.process_time() - start
        for method in methods:
            if method != "random" and "random" in rows:
                rows[method].update(
                    paired(
                        rows[method]["regret_per_draw"],
                        rows["random"]["regret_per_draw"],
                    )
                )
        # Every group measured: the optimum of the measured table, scored on
        # the truth (the truth's optimum itself when measurements are exact).
        chosen = select_groups(measured, budget, n_tasks=n_tasks).groups
        rows["ceiling"] = summarize(
            [optimum - true_total(chosen, truth, n_tasks)], optimum, blind
        )
        entry["budgets"][str(budget)] = {
            "optimum_total": optimum,
            "blind_total": blind,
            "methods": rows,
        }
        line = "  ".join(
            f"{m} {r['share_mean']:.2f}/{r['regret_mean']:.3f}" for m, r in rows.items()
        )
        print(f"{path.stem} budget {budget} (share/regret): {line}", flush=True)
    return entry


def planted_clusters():
    """Two planted clusters of 4 tasks: a same-cluster partner adds 0.1 to a
    task's gain, a member of the other cluster takes 0.15 off. The best two
    groups are the clusters."""
    clusters = [(0, 1, 2, 3), (4, 5, 6, 7)]
    cluster = {t: i for i, c in enumerate(clusters) for t in c}
    return {
        g: np.array(
            [
                0.1 * sum(cluster[s] == cluster[t] for s in g if s != t)
                - 0.15 * sum(cluster[s] != cluster[t] for s in g)
                for t in g
            ]
        )
        for g in all_groups(8)
    }, clusters


def bench_planted(draws):
    """How often each method picks the planted clusters (budget 2)."""
    truth, clusters = planted_clusters()
    interaction = ResidualRidge(encoding="interaction")
    methods = {
        "random": {"n_initial": None},
        "exploit": {},
        "optimistic": {"strategy": "optimistic"},
        "random+interaction": {"n_initial": None, "estimator": interaction},
        "exploit+interaction": {"estimator": interaction},
        "optimistic+interaction": {"strategy": "optimistic", "estimator": interaction},
    }
    report = {}
    for n_measured in (10, 15):
        rows = {}
        for name, kwargs in methods.items():
            kwargs = dict(kwargs)
            if "n_initial" in kwargs:
                kwargs["n_initial"] = n_measured
            found = [
                search_groups(
                    lambda groups: [truth[g] for g in groups],
                    8,
                    n_groups=2,
                    n_measured=n_measured,
                    random_state=draw,
                    **kwargs,
                ).groups
                == clusters
                for draw in range(draws)
            ]
            rows[name] = int(sum(found))
        report[str(n_measured)] = rows
        line = "  ".join(f"{m} {k}/{draws}" for m, k in rows.items())
        print(f"planted clusters, {n_measured} trainings, found: {line}", flush=True)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", help="table names (default: all)")
    parser.add_argument("--methods", nargs="*", default=["random", *STRATEGIES])
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--n-measured", type=int, default=10)
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default="default")
    parser.add_argument(
        "--noisy",
        action="store_true",
        help="measure returns seed 0's gains, scored on seed 1's "
        "(writes adaptive_search_noisy.json)",
    )
    parser.add_argument(
        "--planted",
        action="store_true",
        help="only the planted-cluster table (writes adaptive_search_planted.json)",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "adaptive_search.json"))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other tables of the output JSON, replace or add these",
    )
    args = parser.parse_args(argv)
    # The exact command, also when main() is called with an argument list (the
    # interaction run once recorded none of its flags that way).
    command = " ".join(
        [
            "python benchmarks/bench_adaptive.py",
            *(sys.argv[1:] if argv is None else argv),
        ]
    )
    if args.planted:
        out = HERE / "results" / "adaptive_search_planted.json"
        report = {
            "command": command,
            "draws": args.draws,
            "found_planted_clusters": bench_planted(args.draws),
        }
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {out}")
        return
    if args.noisy and args.out == parser.get_default("out"):
        args.out = str(HERE / "results" / "adaptive_search_noisy.json")
    paths = sorted((HERE / "data").glob("gains_*.csv"))
    if args.tables:
        wanted = {t if t.startswith("gains_") else f"gains_{t}" for t in args.tables}
        paths = [p for p in paths if p.stem in wanted]
    report = {
        "command": command,
        "n_measured": args.n_measured,
        "estimator": args.estimator,
        "noisy": args.noisy,
        "draws": args.draws,
        "budgets": list(BUDGETS),
        "default_strategy": search_groups.__wrapped__.__kwdefaults__["strategy"],
        "tables": {},
    }
    start = time.perf_counter()
    for path in paths:
        report["tables"][path.stem] = bench_table(
            path,
            args.methods,
            args.draws,
            args.n_measured,
            ESTIMATORS[args.estimator],
            noisy=args.noisy,
        )
    seconds = time.perf_counter() - start
    out = Path(args.out)
    if args.merge and out.exists():
        merged = json.loads(out.read_text())
        merged["tables"].update(report["tables"])
        merged.setdefault("merged", []).append(
            {"command": report["command"], "wall_seconds": seconds}
        )
        report = merged
    else:
        report["wall_seconds"] = seconds
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
