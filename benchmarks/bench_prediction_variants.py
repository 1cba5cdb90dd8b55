"""Why the prediction defaults are what they are: each variant of ETAP scored
beside the default at 10 training groups.

On every exhaustive table with recorded affinities, the draws of 10 training
groups of ``bench_gain_prediction.py`` (seeds ``1000 * 10 + d``, d < 10, its
tuning draws) and its held-out rows (groups of three or more tasks not
trained): the default ``ETAPRegressor(affinity=A)`` and one variant at a time
(how the affinity was recorded, stage-1 and residual choices, a constant
affinity), each scored by pooled r, within-task r (mean over tasks of r across
that task's held-out groups) and Spearman rho; mean and sd over the draws.

Usage::

    nice -n 10 python benchmarks/bench_prediction_variants.py \\
        --out benchmarks/results/prediction_variants.json
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
from gain_tables import DATA, _group_size, fit_etap, load
from joblib import Parallel, delayed
from pooled_residual import PooledResidualRidge
from scipy import stats
from scoring import within_task_r

from sklearn_etap import ResidualRidge, SplineAffinityRegressor

N_TRAIN_GROUPS = 10
N_DRAWS = 10
METRICS = ("pooled_r", "within_task_r", "spearman")


def variants():
    """The default and the choices behind it."""
    return {
        "etap": fit_etap,
        "etap_every1": lambda *a: fit_etap(*a, key="etap_every1"),
        "etap_control_variate_affinity": lambda *a: fit_etap(
            *a, key="etap_control_variate"
        ),
        "etap_nomomentum": lambda *a: fit_etap(*a, key="etap_nomomentum"),
        "etap_centred": lambda *a: fit_etap(*a, key="etap_centred"),
        "etap_flat_affinity": lambda *a: fit_etap(*a, key="flat"),
        "etap_oof_stage1": lambda *a: fit_etap(*a, cv=5),
        "etap_raw_stage1": lambda *a: fit_etap(*a, center_stage1=False),
        "stage1_alpha_1": lambda *a: fit_etap(
            *a, affinity_estimator=SplineAffinityRegressor(alpha=1.0)
        ),
        "residual_pooled": lambda *a: fit_etap(
            *a, residual_estimator=PooledResidualRidge()
        ),
        "residual_no_size": lambda *a: fit_etap(
            *a, residual_estimator=ResidualRidge(group_size=None)
        ),
        "residual_per_task": lambda *a: fit_etap(
            *a, residual_estimator=ResidualRidge(encoding="per_task")
        ),
        "residual_membership_task": lambda *a: fit_etap(
            *a, residual_estimator=ResidualRidge(encoding="membership+task")
        ),
        "residual_membership": lambda *a: fit_etap(
            *a, residual_estimator=ResidualRidge(encoding="membership")
        ),
    }


def run_draw(name, draw):
    """Every variant on one draw of 10 training groups (the same for all)."""
    warnings.filterwarnings("ignore")
    table, aff = load(name)
    rng = np.random.RandomState(1000 * N_TRAIN_GROUPS + draw)
    chosen = rng.choice(len(table.groups), N_TRAIN_GROUPS, replace=False)
    train = np.isin(table.row_group, chosen)
    test = ~train & (_group_size(table.X).ravel() >= 3)
    X, y, task = table.X, table.y, table.row_task
    args = (X[train], y[train], table.row_group[train], aff)
    result = {}
    for method, fit in variants().items():
        pred = np.asarray(fit(*args)(X), dtype=float)
        result[method] = {
            "pooled_r": float(np.corrcoef(pred[test], y[test])[0, 1]),
            "within_task_r": within_task_r(pred[test], y[test], task[test]),
            "spearman": float(stats.spearmanr(pred[test], y[test])[0]),
        }
    return name, draw, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="table names (default: all)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", help="write the summary to this JSON file")
    args = parser.parse_args(argv)
    names = args.tables or sorted(
        p.stem.removeprefix("affinity_") for p in DATA.glob("affinity_*.npz")
    )
    start = time.perf_counter()
    jobs = [(n, d) for n in names for d in range(N_DRAWS)]
    results = Parallel(n_jobs=args.n_jobs)(delayed(run_draw)(*job) for job in jobs)
    given = sys.argv[1:] if argv is None else argv
    report = {
        "command": " ".join(["python benchmarks/bench_prediction_variants.py", *given]),
        "n_train_groups": N_TRAIN_GROUPS,
        "n_draws": N_DRAWS,
        "tables": {},
    }
    for name in names:
        draws = [r for n, _, r in results if n == name]
        report["tables"][name] = {
            method: {
                metric: {
                    "mean": float(np.mean([d[method][metric] for d in draws])),
                    "sd": float(np.std([d[method][metric] for d in draws])),
                }
                for metric in METRICS
            }
            for method in draws[0]
        }
    report["wall_seconds"] = time.perf_counter() - start
    print(f"within-task r at {N_TRAIN_GROUPS} groups (mean over {N_DRAWS} draws)")
    print(f"{'variant':32s}" + "".join(f" {n[:12]:>12s}" for n in names))
    for method in variants():
        row = "".join(
            f" {report['tables'][n][method]['within_task_r']['mean']:12.3f}"
            for n in names
        )
        print(f"{method:32s}{row}")
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(report, indent=2) + "\n")
        print(f"written to {args.out} ({report['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
