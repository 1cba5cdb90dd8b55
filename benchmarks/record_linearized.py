"""Estimate every group's gain of each exhaustive table by linearization, and store it.

For each ``benchmarks/data/gains_<table>.csv`` this retrains the all-task
extractor with the table's settings (its sidecar's ``extractor_params``,
``random_state=0``, plain training: ``affinity=None``) on the table's
training data, fits ``LinearizedGainEstimator`` (its defaults,
``random_state=0``) on the same data, and writes
``benchmarks/data/linearized_<table>.npz``:

- ``gain``: the estimated gain of every row of the table, in the table's row
  order; ``row_group``, ``row_task`` and ``groups`` (``"0-2-5"`` strings) to
  check the alignment;
- ``alpha``, ``alpha_scores``, ``alphas``, ``n_parameters``, ``n_components``;
- ``train_cpu_seconds`` / ``train_wall_seconds``: the extractor's plain
  training; ``fit_cpu_seconds`` / ``fit_wall_seconds``: the estimator's fit
  (Jacobians, blocks, penalty choice); ``predict_cpu_seconds`` /
  ``predict_wall_seconds``: the estimates of all the table's groups.

Times are process CPU time and wall time of one process with one torch
thread, on a machine shared with other jobs.

Usage::

    nice -n 5 python benchmarks/record_linearized.py               # missing files
    nice -n 5 python benchmarks/record_linearized.py --force digits_8tasks
    # a candidate setting, written elsewhere (bench_within_task.py --linearized-dir)
    PYTHONPATH=. nice -n 5 python benchmarks/record_linearized.py --n-components 128 \
        --out-dir benchmarks/data/linearized_k128
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from record_affinities import table_data, table_extractor, table_metadata

from sklearn_etap import LinearizedGainEstimator, MeasuredGains

DATA = Path(__file__).resolve().parent / "data"
# cheap tables first: the MHC-I table has 11,372 samples and 1,013 groups
ORDER = (
    "clusters_8tasks",
    "digits_8tasks",
    "digits_8tasks_10epochs",
    "ridership_8tasks",
    "appliances_10tasks",
    "mhc1_10tasks_full",
)


def timed(function):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def record(name, estimator_params=None):
    """Estimates of one table's rows and their cost, as the npz's arrays."""
    metadata = table_metadata(name)
    data = table_data(metadata)
    table = MeasuredGains.load(DATA / f"gains_{name}.csv")
    extractor = table_extractor(metadata, affinity=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the table's model
        _, train_cpu, train_wall = timed(
            lambda: extractor.fit(data.X_train, data.Y_train)
        )
    estimator = LinearizedGainEstimator(
        extractor, random_state=0, **(estimator_params or {})
    )
    _, fit_cpu, fit_wall = timed(lambda: estimator.fit(data.X_train, data.Y_train))
    gain, predict_cpu, predict_wall = timed(lambda: estimator.predict(table.X))
    return {
        "gain": gain,
        "row_group": table.row_group,
        "row_task": table.row_task,
        "groups": np.array(["-".join(map(str, g)) for g in table.groups]),
        "alpha": estimator.alpha_,
        "alphas": np.asarray(estimator.alphas, dtype=float),
        "alpha_scores": (
            np.array([]) if estimator.alpha_scores_ is None else estimator.alpha_scores_
        ),
        "n_parameters": estimator.n_parameters_,
        "n_components": estimator.n_components_,
        "train_cpu_seconds": train_cpu,
        "train_wall_seconds": train_wall,
        "fit_cpu_seconds": fit_cpu,
        "fit_wall_seconds": fit_wall,
        "predict_cpu_seconds": predict_cpu,
        "predict_wall_seconds": predict_wall,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="table names (default: all)")
    parser.add_argument("--force", action="store_true", help="re-record existing")
    parser.add_argument(
        "--n-components",
        default=None,
        help="the estimator's n_components (an int, 'auto' or 'None'; default: "
        "the estimator's default)",
    )
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--projection", choices=("dense", "sparse"), default=None)
    parser.add_argument("--out-dir", default=str(DATA))
    args = parser.parse_args(argv)
    params = {}
    if args.n_components is not None:
        value = args.n_components
        params["n_components"] = (
            None if value == "None" else value if value == "auto" else int(value)
        )
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    if args.projection is not None:
        params["projection"] = args.projection
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    available = {p.stem.removeprefix("gains_") for p in DATA.glob("gains_*.csv")}
    names = args.tables or [n for n in ORDER if n in available] + sorted(
        available - set(ORDER)
    )
    for name in names:
        path = out_dir / f"linearized_{name}.npz"
        if path.exists() and not args.force:
            continue
        arrays = record(name, params)
        np.savez(path, **arrays)
        print(
            f"{name}: {arrays['n_parameters']} parameters -> "
            f"{arrays['n_components']} columns, alpha {arrays['alpha']:g}; CPU s: "
            f"training {arrays['train_cpu_seconds']:.1f}, estimator fit "
            f"{arrays['fit_cpu_seconds']:.1f}, {len(np.unique(arrays['row_group']))} "
            f"groups {arrays['predict_cpu_seconds']:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
