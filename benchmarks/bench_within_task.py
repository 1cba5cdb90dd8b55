"""Within-task gain prediction on tuning or report draws: does the affinity count?

One question: from 10 (or 5, 20) measured groups, how well does each method
rank a task's held-out groups (within-task r: the mean over tasks of Pearson r
across the task's held-out groups of 3+ tasks), and how much of that comes
from the affinity (each affinity-based method beside its constant-affinity
ablation and the group-size rule)?

Draws. ``--split tuning`` draws the training groups with seeds
``TUNING_BASE + 1000 * n_groups + d``, ``--split report`` with
``REPORT_BASE + 1000 * n_groups + d``: disjoint from each other and from the
seeds ``bench_gain_prediction.py`` used (``1000 * n_groups + d``, d < 10), on
which the former defaults were chosen. Defaults are chosen on tuning draws;
the docs quote report draws.

Columns, per method (mean over draws):

- ``within`` / ``pooled``: r against the mean of the table's seeds;
- ``noisy within``: fitted on one seed's gains, scored against another
  seed's (mean over the ordered pairs of seeds): what a user with one
  measurement per group gets, against gains measured afresh;
- ``regret@3`` (``--regret``): the exhaustive optimum (budget 3) minus the
  true total gain of the groups ``select_groups`` picks; noisy: picked from
  the fit on one seed, scored on another seed's gains against its optimum.

Beside every table: the noise ceiling (seed-to-seed within-task r; with k
seeds, sqrt of its Spearman-Brown value bounds r against the seed mean), and
for the default against the size rule and the constant-affinity ablation the
paired difference over draws (mean, sd, Wilcoxon p) and the smallest
difference 30 draws would detect (two-sided 5%, power 80%: 2.8 sd / sqrt(n)).

Methods (``--methods``, comma-separated; ``main`` for the default set):

- ``size_rule``: per-task mean + shared slope on group size (least squares);
- ``task_mean``: per-task mean;
- ``ridge_tuned``: ``Ridge`` on ``[u_G | e_t]``, alpha over logspace(-4, 4, 17)
  by grouped 5-fold CV;
- ``official`` / ``official_flat``: ``official_predictor.OfficialPredictor``
  on the no-momentum affinity (``etap_nomomentum``) / a constant one;
- ``etap``: ``ETAPRegressor(affinity=A)`` with the library's defaults;
- ``etap_paper_scaling``: the same on the raw group affinity (the library's
  default since the per-task scalings were tried and dropped: now the same
  model as ``etap``; the row is kept so the result files stay comparable);
- ``etap_flat``: a constant affinity (no affinity information; with a
  constant feature stage 1 predicts 0 whatever its scaling or estimator, so
  this one ablation serves every ``etap*`` method);
- ``s1_<name>``: stage-1 candidates (tried on the within-task scaled
  affinity when that was the library's default; now on the raw one);
- ``col_<name>``: stage 1 on the column-standardized affinity
  (``affinity_scaling.ScaledAffinityETAP``: the benchmark's copy of the
  library's deprecated ``affinity_scaling``);
- ``aff_<key>``: the default on another recording of the table
  (``etap_sampled``, ``etap_every1``, ``etap_nomomentum``, ``tag``);
- ``recording_intervals``: ``aff_every<k>_s<seed>``, the default on the
  affinity sampled at one step in k with extractor seed ``seed``
  (``benchmarks/data/recordings_<table>.npz``, from
  ``bench_recording_cost.py record``), to choose ``affinity_every``;
- ``linearized`` / ``etap_linearized`` / ``etap_linearized_flat``: the
  issue-27 linearized gain estimate (``benchmarks/data/linearized_<table>.npz``)
  standalone, and as ETAP's stage-1 feature.

Usage::

    nice -n 5 python benchmarks/bench_within_task.py --split tuning --draws 20
    nice -n 5 python benchmarks/bench_within_task.py --split report --draws 30
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from affinity_scaling import ScaledAffinityETAP
from joblib import Parallel, delayed
from official_predictor import OfficialPredictor
from pooled_residual import PooledResidualRidge
from scipy import stats
from scoring import true_total, within_task_r
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_etap import (
    ETAPRegressor,
    MeasuredGains,
    ResidualRidge,
    SplineAffinityRegressor,
    group_affinity,
    select_groups,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
TUNING_BASE = 500_000
REPORT_BASE = 900_000
BUDGET = 3

MAIN = (
    "etap",
    "etap_paper_scaling",
    "etap_flat",
    "official",
    "official_flat",
    "size_rule",
    "task_mean",
    "ridge_tuned",
)


# --------------------------------------------------------------------------
# Methods: fit(X, y, groups, table) -> predict(X) for every row of the table.


def _onehot(X):
    return X[:, X.shape[1] // 2 :]


def _size(X):
    return X[:, : X.shape[1] // 2].sum(axis=1, keepdims=True)


def fit_size_rule(X, y, g, table):
    model = LinearRegression(fit_intercept=False)
    model.fit(np.hstack([_onehot(X), _size(X)]), y)
    return lambda Xn: model.predict(np.hstack([_onehot(Xn), _size(Xn)]))


def fit_task_mean(X, y, g, table):
    onehot = _onehot(X)
    counts = onehot.sum(axis=0)
    means = np.divide(onehot.T @ y, counts, out=np.zeros(len(counts)), where=counts > 0)
    means[counts == 0] = y.mean()
    return lambda Xn: _onehot(Xn) @ means


def fit_ridge_tuned(X, y, g, table):
    search = GridSearchCV(
        Ridge(),
        {"alpha": np.logspace(-4, 4, 17)},
        cv=GroupKFold(min(5, len(np.unique(g)))),
        scoring="neg_mean_squared_error",
    ).fit(X, y, groups=g)
    return search.best_estimator_.predict


def official(key):
    def fit(X, y, g, table):
        A = table.aff[key]
        model = OfficialPredictor().fit(group_affinity(A, X), X, y)
        return lambda Xn: model.predict(group_affinity(A, Xn), Xn)

    return fit


def etap(key="etap", **params):
    def fit(X, y, g, table):
        return ETAPRegressor(affinity=table.aff[key], **params).fit(X, y).predict

    return fit


def scaled(scaling, key="etap", **params):
    """The default on the affinity scaled per target task (the benchmark's copy)."""

    def fit(X, y, g, table):
        return ScaledAffinityETAP(table.aff[key], scaling, **params).fit(X, y).predict

    return fit


def stage1_candidates():
    """Stage-1 estimators tried on the within-task scaled affinity."""
    return {
        "s1_spline": etap(affinity_estimator=SplineAffinityRegressor()),
        "s1_spline_alpha1": etap(affinity_estimator=SplineAffinityRegressor(alpha=1)),
        "s1_linear_ols": etap(affinity_estimator=LinearRegression()),
        "s1_linear_ridgecv": etap(
            affinity_estimator=RidgeCV(alphas=np.logspace(-3, 3, 13))
        ),
        "s1_linear_spline": etap(
            affinity_estimator=SplineAffinityRegressor(degree=1, n_knots=2)
        ),
        "s1_linear_ols_oof": etap(affinity_estimator=LinearRegression(), cv=5),
        "s1_linear_ols_uncentred_y": etap(
            affinity_estimator=LinearRegression(), center_stage1=False
        ),
    }


def column_candidates():
    """Stage 1 on the column-standardized affinity, and stage-2 encodings."""
    linear = SplineAffinityRegressor(degree=1, n_knots=2)
    out = {
        "col_spline": scaled("column"),
        "col_linear_spline": scaled("column", affinity_estimator=linear),
        "col_linear_ols": scaled("column", affinity_estimator=LinearRegression()),
    }
    for encoding in ("pooled", "membership+task"):
        # "pooled" is deprecated in the library: the benchmark's own copy.
        stage2 = (
            PooledResidualRidge()
            if encoding == "pooled"
            else ResidualRidge(encoding=encoding)
        )
        out[f"flat_{encoding}"] = etap(key="flat", residual_estimator=stage2)
        out[f"col_linear_spline_{encoding}"] = scaled(
            "column", affinity_estimator=linear, residual_estimator=stage2
        )
    wide = ResidualRidge(alphas=tuple(10.0**k for k in range(-6, 9)))
    out["flat_alphas_to_1e8"] = etap(key="flat", residual_estimator=wide)
    out["paper_alphas_to_1e8"] = etap(residual_estimator=wide)
    for key in ("etap_every1", "etap_nomomentum"):
        out[f"col_linear_spline_{key}"] = scaled(
            "column", key=key, affinity_estimator=linear
        )
    return out


RECORDINGS = (
    "etap_sampled",
    "etap_control_variate",
    "etap_every50",
    "etap_every1",
    "etap_nomomentum",
    "tag",
)


def recordings():
    """The default on another recording (skipped where the npz lacks it)."""
    return {f"aff_{k}": etap(key=k) for k in RECORDINGS}


def linearized_methods():
    def standalone(X, y, g, table):
        return lambda Xn: table.linearized[table.row_index(Xn)]

    def stacked(flat, scaling=None):
        def fit(X, y, g, table):
            def feature(Xn):
                est = table.linearized[table.row_index(Xn)]
                return np.hstack([np.ones((len(Xn), 1)) if flat else est[:, None], Xn])

            model = (
                ETAPRegressor(affinity=None)
                if scaling is None
                else ScaledAffinityETAP(None, scaling)
            )
            model.fit(feature(X), y)
            return lambda Xn: model.predict(feature(Xn))

        return fit

    return {
        "linearized": standalone,
        "etap_linearized": stacked(False),
        "etap_linearized_flat": stacked(True),
        "etap_linearized_within": stacked(False, "within_task"),
    }


def recording_intervals(names=None):
    """The default on the recordings of ``bench_recording_cost.py record``.

    ``aff_every<k>_s<seed>``: sampling alone at one step in k, extractor seed
    ``seed`` (every key of the first table's ``recordings_<table>.npz``).
    """
    if names is None:
        files = sorted(DATA.glob("recordings_*.npz"))
        names = sorted(np.load(files[0]).files) if files else []
    return {f"aff_{k}": etap(key=k) for k in names}


def method_fit(name):
    """The fit function of a method; ``aff_<key>`` for any recording key."""
    methods = all_methods()
    if name in methods:
        return methods[name]
    if name.startswith("aff_"):
        return etap(key=name[4:])
    raise KeyError(name)


def all_methods():
    return {
        "etap": etap(),
        "etap_paper_scaling": etap(),
        "etap_flat": etap(key="flat"),
        "official": official("etap_nomomentum"),
        "official_flat": official("flat"),
        "official_default_affinity": official("etap"),
        "size_rule": fit_size_rule,
        "task_mean": fit_task_mean,
        "ridge_tuned": fit_ridge_tuned,
        **stage1_candidates(),
        **column_candidates(),
        **recordings(),
        **linearized_methods(),
    }


# --------------------------------------------------------------------------
# Tables and scoring


def load(name, linearized_dir=DATA):
    measured = MeasuredGains.load(DATA / f"gains_{name}.csv")
    t = SimpleNamespace(
        name=name,
        X=measured.X,
        y=measured.y,
        seeds=measured.y_per_seed,
        groups=[tuple(g) for g in measured.groups],
        row_group=measured.row_group,
        row_task=measured.row_task,
    )
    raw = np.load(DATA / f"affinity_{name}.npz")
    t.aff = {k: raw[k] for k in raw.files if not k.endswith("_seconds")}
    # extra recordings (bench_recording_cost.py record): every<k>_s<seed>
    extra = DATA / f"recordings_{name}.npz"
    if extra.exists():
        more = np.load(extra)
        t.aff.update({k: more[k] for k in more.files})
    n = t.aff["etap"].shape[0]
    t.aff["flat"] = (~np.eye(n, dtype=bool)).astype(float)
    lin = Path(linearized_dir) / f"linearized_{name}.npz"
    t.linearized = None
    if lin.exists():
        t.linearized = load_linearized(lin, t)
    index = {row.tobytes(): i for i, row in enumerate(t.X.astype(np.int8))}
    t.row_index = lambda Xn: np.array(
        [index[row.tobytes()] for row in Xn.astype(np.int8)]
    )
    return t


def load_linearized(path, table):
    """Per-row linearized gain estimates, aligned with the table's rows."""
    raw = np.load(path)
    est = np.asarray(raw["gain"], dtype=float)
    same = len(est) == len(table.X) and np.array_equal(raw["row_task"], table.row_task)
    if not same:
        raise ValueError(f"{path} is not aligned with the rows of {table.name}")
    return est


def gains_and_optimum(table, y):
    gain_of = {
        (table.groups[g], int(t)): float(v)
        for g, t, v in zip(table.row_group, table.row_task, y)
    }
    return gain_of, float(select_groups(y, BUDGET, rows=table.X).total_gain)


def regret(table, pred, y_score):
    gain_of, optimum = gains_and_optimum(table, y_score)
    chosen = select_groups(pred, BUDGET, rows=table.X).groups
    return optimum - true_total(gain_of, chosen)


def draw_seed(split, size, draw):
    base = TUNING_BASE if split == "tuning" else REPORT_BASE
    return base + 1000 * size + draw


def run_draw(name, split, size, draw, methods, with_regret, linearized_dir=DATA):
    warnings.filterwarnings("ignore")
    table = load(name, linearized_dir)
    rng = np.random.RandomState(draw_seed(split, size, draw))
    chosen = rng.choice(len(table.groups), size, replace=False)
    train = np.isin(table.row_group, chosen)
    test = ~train & (_size(table.X).ravel() >= 3)
    X, task, g = table.X, table.row_task, table.row_group
    n_seeds = table.seeds.shape[1]
    pairs = [(a, b) for a in range(n_seeds) for b in range(n_seeds) if a != b]
    out = {}
    for method in methods:
        fit = method_fit(method)
        if method.startswith(("linearized", "etap_linearized")) and (
            table.linearized is None
        ):
            continue
        if method.startswith("aff_") and method[4:] not in table.aff:
            continue
        start = time.process_time()
        pred = np.asarray(fit(X[train], table.y[train], g[train], table)(X), float)
        entry = {
            "within": within_task_r(pred[test], table.y[test], task[test]),
            "pooled": float(np.corrcoef(pred[test], table.y[test])[0, 1]),
        }
        # Noisy: fit on seed a's gains, score on seed b's.
        seed_preds = [
            np.asarray(fit(X[train], table.seeds[train, a], g[train], table)(X), float)
            for a in range(n_seeds)
        ]
        entry["noisy_within"] = float(
            np.mean(
                [
                    within_task_r(seed_preds[a][test], table.seeds[test, b], task[test])
                    for a, b in pairs
                ]
            )
        )
        if with_regret:
            entry["regret"] = regret(table, pred, table.y)
            entry["noisy_regret"] = float(
                np.mean(
                    [regret(table, seed_preds[a], table.seeds[:, b]) for a, b in pairs]
                )
            )
        entry["cpu_seconds"] = time.process_time() - start
        out[method] = entry
    return name, size, draw, out


def noise_ceiling(table):
    k = table.seeds.shape[1]
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    r = float(
        np.mean(
            [
                within_task_r(table.seeds[:, a], table.seeds[:, b], table.row_task)
                for a, b in pairs
            ]
        )
    )
    sb = k * r / (1 + (k - 1) * r)
    return {
        "n_seeds": k,
        "seed_r_within": r,
        "max_r_within": float(np.sqrt(max(sb, 0))),
    }


def paired(draws, a, b, key="within"):
    d = np.array([x[a][key] - x[b][key] for x in draws if a in x and b in x])
    if len(d) < 2:
        return None
    p = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    sd = float(d.std(ddof=1))
    return {
        "mean": float(d.mean()),
        "sd": sd,
        "p": p,
        "n": len(d),
        "detectable": float(2.8 * sd / np.sqrt(len(d))),
    }


def summarize(draws):
    methods = [m for m in draws[0]]
    summary = {}
    for m in methods:
        keys = [k for k in draws[0][m] if k != "cpu_seconds"]
        summary[m] = {
            k: {
                "mean": float(np.mean([d[m][k] for d in draws])),
                "sd": float(np.std([d[m][k] for d in draws])),
            }
            for k in keys
        }
        summary[m]["cpu_seconds"] = float(np.mean([d[m]["cpu_seconds"] for d in draws]))
    tests = {}
    for a, b in [
        ("etap", "size_rule"),
        ("etap", "etap_flat"),
        ("etap", "etap_paper_scaling"),
        ("etap", "official"),
        ("official", "official_flat"),
        ("col_linear_spline", "etap_flat"),
        ("etap_linearized", "etap_flat"),
        ("etap_linearized_within", "etap_flat"),
        ("etap_linearized", "size_rule"),
        ("etap_linearized", "etap"),
        ("linearized", "size_rule"),
    ]:
        for key in ("within", "noisy_within"):
            res = paired(draws, a, b, key)
            if res is not None:
                tests[f"{a} - {b} ({key})"] = res
    return summary, tests


def print_table(name, size, summary, tests, ceiling, n):
    print(f"\n== {name}, {size} training groups, {n} draws ==")
    print(
        f"noise ceiling: seed-to-seed within r {ceiling['seed_r_within']:.3f}; "
        f"highest within r against the {ceiling['n_seeds']}-seed mean "
        f"{ceiling['max_r_within']:.3f}"
    )
    cols = ["within", "noisy_within", "pooled", "regret", "noisy_regret"]
    print(f"{'method':28s}" + "".join(f"{c:>14s}" for c in cols))
    for m, e in summary.items():
        line = f"{m:28s}"
        for c in cols:
            line += f"{e[c]['mean']:8.3f} ({e[c]['sd']:.2f})" if c in e else " " * 14
        print(line)
    for label, t in tests.items():
        print(
            f"  {label}: {t['mean']:+.3f} (sd {t['sd']:.3f}, p = {t['p']:.3f}; "
            f"{t['n']} draws detect {t['detectable']:.3f})"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*")
    parser.add_argument("--split", choices=("tuning", "report"), required=True)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--sizes", default="10")
    parser.add_argument("--methods", default="main")
    parser.add_argument("--regret", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--linearized-dir",
        default=str(DATA),
        help="where linearized_<table>.npz are (default: benchmarks/data)",
    )
    args = parser.parse_args(argv)
    names = args.tables or sorted(
        p.stem.removeprefix("affinity_") for p in DATA.glob("affinity_*.npz")
    )
    methods = []
    for m in args.methods.split(","):
        if m == "main":
            methods += list(MAIN)
        elif m == "stage1":
            methods += list(stage1_candidates())
        elif m == "column":
            methods += list(column_candidates())
        elif m == "recordings":
            methods += list(recordings())
        elif m == "linearized":
            methods += list(linearized_methods())
        elif m == "recording_intervals":
            methods += list(recording_intervals())
        else:
            methods.append(m)
    unknown = {
        m for m in methods if m not in all_methods() and not m.startswith("aff_")
    }
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    methods = list(dict.fromkeys(methods))
    sizes = [int(s) for s in args.sizes.split(",")]
    start = time.perf_counter()
    jobs = [(n, s, d) for n in names for s in sizes for d in range(args.draws)]
    results = Parallel(n_jobs=args.n_jobs)(
        delayed(run_draw)(
            n, args.split, s, d, methods, args.regret, args.linearized_dir
        )
        for n, s, d in jobs
    )
    command = " ".join(["python benchmarks/bench_within_task.py", *sys.argv[1:]])
    report = {
        "command": command,
        "split": args.split,
        "seeds": f"{TUNING_BASE if args.split == 'tuning' else REPORT_BASE}"
        " + 1000 * n_groups + draw",
        "n_draws": args.draws,
        "tables": {},
    }
    for name in names:
        table = load(name)
        ceiling = noise_ceiling(table)
        entry = {"noise_ceiling": ceiling, "sizes": {}}
        for size in sizes:
            draws = [r for n, s, _, r in results if n == name and s == size]
            summary, tests = summarize(draws)
            entry["sizes"][str(size)] = {"summary": summary, "paired": tests}
            print_table(name, size, summary, tests, ceiling, len(draws))
        report["tables"][name] = entry
    seconds = time.perf_counter() - start
    report["wall_seconds"] = seconds
    report["load_average"] = list(__import__("os").getloadavg())
    out = Path(
        args.out or HERE / "results" / f"within_task_{args.split}_{args.methods}.json"
    )
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\n{seconds:.0f} s (load average {report['load_average']}); written to {out}"
    )


if __name__ == "__main__":
    main()
