"""How often 10 draws can show adaptive measurement ahead of random, cell by cell.

Reads the 30-draw runs of ``bench_adaptive.py`` (``--methods random exploit
--draws 30``) and treats each (table, budget) cell's 30 paired regret
differences (exploit minus random, same ``random_state``) as the population
a 10-draw benchmark samples from. For each cell it prints the mean and sd of
the difference, the chance that the mean over 10 draws resampled from those
30 favours exploit, and the number of draws a one-sided paired test at 5%
would need for 80% power if the 30-draw mean were the true effect. The
product over cells is the chance that one 10-draw run shows exploit ahead in
every cell (cells treated as independent).

Usage::

    python benchmarks/adaptive_power.py
    # one run only:
    python benchmarks/adaptive_power.py \
        benchmarks/results/adaptive_search_etap_30draws.json

Writes ``benchmarks/results/adaptive_power.json``.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_RUNS = (
    RESULTS / "adaptive_search_30draws.json",
    RESULTS / "adaptive_search_etap_30draws.json",
)
N_BENCHMARK_DRAWS = 10
N_RESAMPLES = 20_000


def draws_needed(mean, sd, alpha=0.05, power=0.8):
    """Paired draws for a one-sided z-test to detect ``mean`` < 0 (inf if >= 0)."""
    if mean >= 0:
        return float("inf")
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    return float(np.ceil((z * sd / mean) ** 2))


def cell_power(diff, rng):
    """Chance that the mean of 10 of these differences (with replacement) is < 0."""
    samples = rng.choice(diff, size=(N_RESAMPLES, N_BENCHMARK_DRAWS))
    return float(np.mean(samples.mean(axis=1) < 0))


def analyse(path, rng):
    run = json.loads(Path(path).read_text())
    cells = []
    for table, entry in run["tables"].items():
        for budget, cell in entry["budgets"].items():
            methods = cell["methods"]
            diff = np.asarray(methods["exploit"]["regret_per_draw"]) - np.asarray(
                methods["random"]["regret_per_draw"]
            )
            cells.append(
                {
                    "table": table,
                    "budget": int(budget),
                    "n_draws": len(diff),
                    "mean_difference": float(diff.mean()),
                    "sd_difference": float(diff.std(ddof=1)),
                    "p_10_draws_favour_exploit": cell_power(diff, rng),
                    "draws_for_80pc_power": draws_needed(diff.mean(), diff.std(ddof=1)),
                }
            )
    p_all = float(np.prod([c["p_10_draws_favour_exploit"] for c in cells]))
    try:  # repository-relative, so the file does not depend on the checkout
        shown = str(Path(path).resolve().relative_to(HERE.parent))
    except ValueError:
        shown = str(path)
    return {"run": shown, "command": run["command"], "cells": cells, "p_all": p_all}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=[str(p) for p in DEFAULT_RUNS])
    parser.add_argument("--out", default=str(RESULTS / "adaptive_power.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    report = [analyse(path, rng) for path in args.runs]
    for run in report:
        print(f"\n{run['command']}")
        print(
            f"{'table':28s} {'budget':>6s} {'exploit-random':>15s} {'sd':>6s} "
            f"{'P(10 draws favour)':>19s} {'draws for 80%':>14s}"
        )
        for c in run["cells"]:
            print(
                f"{c['table']:28s} {c['budget']:6d} {c['mean_difference']:+15.3f} "
                f"{c['sd_difference']:6.3f} {c['p_10_draws_favour_exploit']:19.2f} "
                f"{c['draws_for_80pc_power']:14.0f}"
            )
        print(
            "chance that one run of 10 draws shows exploit ahead in every cell: "
            f"{run['p_all']:.3f}"
        )
    command = " ".join(
        [
            "python benchmarks/adaptive_power.py",
            *(sys.argv[1:] if argv is None else argv),
        ]
    )
    written = {"command": command, "runs": report}
    Path(args.out).write_text(json.dumps(written, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
