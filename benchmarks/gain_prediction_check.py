"""A first check of gain prediction on the exhaustive tables (not the full benchmark).

For each table in ``benchmarks/data/``: record the affinity with the same model
settings the table was measured with (one extractor fit on the table's training
data, at the default recording interval and at every step), then, 10 times,
draw 10 training groups, fit on their rows and score Pearson r on the rows of
all other groups, for:

- ``etap``: ``make_etap_search`` (the paper's grid, group CV), stage 1 + stage 2
- ``etap_stage1``: the same fitted search's stage 1 alone
- ``etap_membership_task``: the same search with the residual stage on
  ``[u_G | e_t]`` (``ResidualRidge(encoding="membership+task")``)
- ``raw_group_affinity``: ``group_affinity`` itself, no fitting (TAG style)
- ``membership_ridge``: ``Ridge`` on ``[u_G | e_t]`` (the linear surrogate)

beside the table's noise (r between the per-row gains of its two seeds). The
full comparison, with more baselines, ablations and selection, is a later issue.

Usage::

    python benchmarks/gain_prediction_check.py      # ~8 min on 2 cores
"""

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import Ridge

from sklearn_etap import (
    MeasuredGains,
    TorchAffinityExtractor,
    datasets,
    group_affinity,
    make_etap_search,
)

HERE = Path(__file__).resolve().parent
TABLES = (
    "gains_digits_8tasks",
    "gains_ridership_8tasks",
    "gains_mhc1_10tasks_full",
)
N_TRAIN_GROUPS = 10
N_SPLITS = 10


def load_table(name):
    table = MeasuredGains.load(HERE / "data" / f"{name}.csv")
    metadata = json.loads((HERE / "data" / f"{name}.json").read_text())["metadata"]
    return table, metadata


def table_data(metadata):
    """The loader call the table was measured on, e.g. ``load_mhc1(n_tasks=10)``."""
    call = ast.parse(metadata["loader"], mode="eval").body
    loader = getattr(datasets, call.func.attr)  # sklearn_etap.datasets.<loader>
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    return loader(**kwargs)


def table_extractor(metadata, affinity_every):
    params = {}
    for key, value in metadata["extractor_params"].items():
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):  # non-literal values keep the default
            pass
    params.update(affinity="etap", affinity_every=affinity_every, random_state=0)
    params.update(device="cpu", verbose=False)
    return TorchAffinityExtractor(**params)


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def score_splits(A, table):
    X, y, row_group = table.X, table.y, table.row_group
    scores = {
        k: []
        for k in (
            "etap",
            "etap_stage1",
            "etap_membership_task",
            "raw_group_affinity",
            "membership_ridge",
        )
    }
    for seed in range(N_SPLITS):
        rng = np.random.RandomState(seed)
        chosen = rng.choice(len(table.groups), N_TRAIN_GROUPS, replace=False)
        train = np.isin(row_group, chosen)
        search = make_etap_search(A, N_TRAIN_GROUPS)
        search.fit(X[train], y[train], groups=row_group[train])
        stage1, stage2 = search.best_estimator_.predict_stages(X[~train])
        scores["etap"].append(pearson(stage1 + stage2, y[~train]))
        scores["etap_stage1"].append(pearson(stage1, y[~train]))
        with_task = make_etap_search(A, N_TRAIN_GROUPS)
        with_task.estimator.set_params(residual_estimator__encoding="membership+task")
        with_task.fit(X[train], y[train], groups=row_group[train])
        scores["etap_membership_task"].append(
            pearson(with_task.best_estimator_.predict(X[~train]), y[~train])
        )
        scores["raw_group_affinity"].append(
            pearson(group_affinity(A, X[~train]), y[~train])
        )
        ridge = Ridge(alpha=1.0).fit(X[train], y[train])
        scores["membership_ridge"].append(pearson(ridge.predict(X[~train]), y[~train]))
    return {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "all": v}
        for k, v in scores.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=str(HERE / "results" / "gain_prediction_check.json")
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = {
        "command": "python benchmarks/gain_prediction_check.py",
        "n_train_groups": N_TRAIN_GROUPS,
        "n_splits": N_SPLITS,
        "tables": {},
    }
    for name in TABLES:
        table, metadata = load_table(name)
        data = table_data(metadata)
        noise = pearson(table.y_per_seed[:, 0], table.y_per_seed[:, 1])
        entry = {"noise_r_seed0_vs_seed1": noise, "recording": {}}
        for every in (TorchAffinityExtractor().affinity_every, 1):
            start = time.perf_counter()
            ext = table_extractor(metadata, every).fit(data.X_train, data.Y_train)
            scores = score_splits(ext.affinity_, table)
            entry["recording"][f"affinity_every={every}"] = {
                "extractor_fit_seconds": time.perf_counter() - start,
                "pearson_r_on_unseen_groups": scores,
            }
            summary = ", ".join(
                f"{k} {v['mean']:.3f} ({v['std']:.3f})" for k, v in scores.items()
            )
            print(f"{name} affinity_every={every}: {summary}; noise r {noise:.3f}")
        report["tables"][name] = entry
    out = Path(args.out)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
