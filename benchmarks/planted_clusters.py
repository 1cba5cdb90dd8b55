"""Does the pipeline recover the planted clusters of a planted-structure table?

For a gain table whose sidecar records planted ``clusters`` (a table
measured on ``sklearn_etap.datasets.make_task_clusters``), the planted groups
are the clusters plus every other (conflicting) task alone. On the draws of
10 measured groups that ``bench_gain_prediction.py`` uses, each method is
fitted on the measured groups' rows, and groups are selected in partition
mode with the budget the planted groups need (clusters + conflicting
singletons):

- ``etap``: the library's default workflow, ``GroupSelector(ETAPRegressor(
  affinity=A), n_groups=B, mode="partition")`` (ETAP affinity recorded at the
  default interval, ``benchmarks/data/affinity_<table>.npz``);
- ``etap_search``: the same with ``make_etap_search(A, 10)`` as estimator;
- ``etap_flat_affinity``: the default workflow with a constant affinity (1
  for every pair): what the residual stage finds without the affinity;
- the baselines of ``bench_gain_prediction.py`` (fitted by ``gain_tables.py``),
  through ``select_groups`` on their predictions of every group.

Scores per method: the number of draws whose chosen groups are exactly the
planted groups, the number of planted clusters found (chosen as a group), and
the partition regret (the exhaustive partition optimum of the table's true
gains minus the true total of the chosen groups). The table's own partition
optimum is checked against the planted groups first: if they differ, the
table's gains do not make the planted groups the best choice.

Usage::

    nice -n 10 python benchmarks/planted_clusters.py clusters_8tasks \\
        --out benchmarks/results/planted_clusters.json
"""

import argparse
import json
import sys

import numpy as np
from gain_tables import (
    DATA,
    fit_etap_subsampled,
    fit_official,
    fit_raw_affinity,
    fit_ridge,
    fit_tag,
    fit_task_mean_size,
    load,
)

from sklearn_etap import ETAPRegressor, GroupSelector, make_etap_search, select_groups

SUBSAMPLED = "etap_subsampled"
N_TRAIN_GROUPS = 10
N_DRAWS = 10


def planted_groups(name):
    """The planted groups of table ``name`` (clusters, then every other task
    alone), or None if its sidecar records no planted clusters."""
    sidecar = json.loads((DATA / f"gains_{name}.json").read_text())
    clusters = sidecar["metadata"].get("clusters")
    if not clusters:
        return None
    clustered = {t for c in clusters for t in c}
    alone = [(t,) for t in range(sidecar["n_tasks"]) if t not in clustered]
    return [tuple(int(t) for t in c) for c in clusters] + alone


def planted_methods():
    """The methods whose selections the planted-clusters check scores."""
    return {
        "etap": None,  # GroupSelector(ETAPRegressor(affinity=A))
        "etap_search": None,  # GroupSelector(make_etap_search(A, 10))
        "etap_flat_affinity": None,  # the default with a constant affinity
        SUBSAMPLED: fit_etap_subsampled,
        "task_mean_size": fit_task_mean_size,
        "ridge": fit_ridge,
        "official": fit_official,
        "raw_affinity": fit_raw_affinity,
        "tag": fit_tag,
    }


def partition_total(table, groups):
    """True total gain of a partition: each task's gain in its group."""
    return float(
        sum(
            table.gain_of[(tuple(g), t)] if len(g) > 1 else 0.0
            for g in groups
            for t in g
        )
    )


def _select(method, fit, table, aff, train, budget):
    X, y, row_group = table.X, table.y, table.row_group
    if method in ("etap", "etap_flat_affinity", "etap_search"):
        if method != "etap_search":
            key = "etap" if method == "etap" else "flat"
            estimator, params = ETAPRegressor(affinity=aff[key]), {}
        else:
            n_groups = len(np.unique(row_group[train]))
            estimator = make_etap_search(aff["etap"], n_groups)
            params = {"groups": row_group[train]}
        selector = GroupSelector(estimator, n_groups=budget, mode="partition")
        return selector.fit(X[train], y[train], **params).groups_
    pred = np.asarray(fit(X[train], y[train], row_group[train], aff)(X), dtype=float)
    return select_groups(pred, budget, rows=X, mode="partition").groups


def planted_recovery(table, aff, planted, fits, n_draws=N_DRAWS):
    """Recovery of ``planted`` by every method of ``fits`` (name -> fit
    function of ``gain_tables``; ``etap`` and ``etap_search`` go
    through ``GroupSelector``) over the benchmark's draws of 10 groups."""
    budget = len(planted)
    planted_set = {tuple(g) for g in planted}
    clusters = [g for g in planted if len(g) > 1]
    optimum = select_groups(table.y, budget, rows=table.X, mode="partition")
    report = {
        "planted_groups": [list(g) for g in planted],
        "budget": budget,
        "mode": "partition",
        "n_train_groups": N_TRAIN_GROUPS,
        "n_draws": n_draws,
        "optimum_groups": [list(g) for g in optimum.groups],
        "optimum_is_planted": {tuple(g) for g in optimum.groups} == planted_set,
        "optimum_total": float(optimum.total_gain),
        "planted_total": partition_total(table, planted),
        "draws_measuring_a_planted_cluster": 0,
        "methods": {},
    }
    per_method = {m: {"exact": [], "clusters_found": [], "regret": []} for m in fits}
    for draw in range(n_draws):
        rng = np.random.RandomState(1000 * N_TRAIN_GROUPS + draw)  # as run_draw
        chosen = rng.choice(len(table.groups), N_TRAIN_GROUPS, replace=False)
        train = np.isin(table.row_group, chosen)
        measured = {table.groups[i] for i in chosen}
        report["draws_measuring_a_planted_cluster"] += bool(measured & set(clusters))
        for method, fit in fits.items():
            groups = {tuple(g) for g in _select(method, fit, table, aff, train, budget)}
            entry = per_method[method]
            entry["exact"].append(groups == planted_set)
            entry["clusters_found"].append(sum(c in groups for c in clusters))
            regret = report["optimum_total"] - partition_total(table, groups)
            entry["regret"].append(regret)
    for method, entry in per_method.items():
        regrets = np.array(entry["regret"])
        report["methods"][method] = {
            "exact_draws": int(sum(entry["exact"])),
            "clusters_found_mean": float(np.mean(entry["clusters_found"])),
            "regret_mean": float(regrets.mean()),
            "regret_sd": float(regrets.std()),
            "regret_per_draw": regrets.tolist(),
        }
    return report


def print_recovery(name, report):
    n_clusters = sum(len(g) > 1 for g in report["planted_groups"])
    print(
        f"\n== {name}: planted groups {report['planted_groups']}, partition budget "
        f"{report['budget']}, {report['n_train_groups']} measured groups, "
        f"{report['n_draws']} draws =="
    )
    print(
        f"table's partition optimum {report['optimum_groups']} "
        f"(total {report['optimum_total']:.3f}; is the planted partition: "
        f"{report['optimum_is_planted']}; planted total "
        f"{report['planted_total']:.3f}); draws whose measured groups include a "
        f"planted cluster: {report['draws_measuring_a_planted_cluster']}"
    )
    print(f"{'method':20s} {'exact':>6s} {'clusters found':>15s} {'regret':>14s}")
    for method, e in report["methods"].items():
        print(
            f"{method:20s} {e['exact_draws']:3d}/{report['n_draws']:<2d} "
            f"{e['clusters_found_mean']:9.1f}/{n_clusters:<5d} "
            f"{e['regret_mean']:7.3f} ({e['regret_sd']:.2f})"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="planted table names")
    parser.add_argument("--out", help="write the reports to this JSON file")
    args = parser.parse_args(argv)
    reports = {}
    for name in args.tables:
        planted = planted_groups(name)
        if planted is None:
            parser.error(f"{name} was not measured on make_task_clusters")
        table, aff = load(name)
        reports[name] = planted_recovery(table, aff, planted, planted_methods())
        print_recovery(name, reports[name])
    if args.out:
        given = sys.argv[1:] if argv is None else argv
        command = " ".join(["python benchmarks/planted_clusters.py", *given])
        written = {"command": command, "tables": reports}
        with open(args.out, "w") as f:
            f.write(json.dumps(written, indent=2) + "\n")


if __name__ == "__main__":
    main()
