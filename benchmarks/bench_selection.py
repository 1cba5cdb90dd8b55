"""Group-selection solver time against the number of tasks.

For each number of tasks, random but structured gains (ETAP-like: the mean
pairwise affinity of a task to the rest of its group, a small size penalty,
noise) are drawn for every candidate group, then the selection is solved by
MILP (HiGHS) and by branch and bound, in both modes, through the same path
``GroupSelector`` uses (exact pruning, then the solver). Branch and bound
runs under a time limit; a run that hits it is recorded as not optimal.

Run (from the repository root)::

    python benchmarks/bench_selection.py

writes ``benchmarks/results/selection_time.json`` (and ``.png``) and prints,
per number of tasks and budget, the median (max) CPU seconds of each solver
and mode. Two budgets: "tight" (``ceil(n/3) + 1`` groups) and "loose"
(``ceil(2n/3)``). Times are CPU seconds of this process (``process_time``),
less sensitive than wall time to other jobs on a shared machine. The summary
of a written file, without re-running::

    python benchmarks/bench_selection.py \
        --summary benchmarks/results/selection_time.json

The adversarial case, unstructured uniform gains::

    python benchmarks/bench_selection.py --gains uniform \
        --out benchmarks/results/selection_time_uniform.json
"""

import argparse
import json
import os
import platform
import sys
import time
from math import ceil
from pathlib import Path

import numpy as np
import scipy

from sklearn_etap import all_groups
from sklearn_etap._selection.problem import SelectionProblem
from sklearn_etap._selection.pruning import prune_candidates
from sklearn_etap._selection.solvers import solve_selection

RESULTS = Path(__file__).parent / "results"


def max_group_size_for(n_tasks):
    """All groups up to 12 tasks (4095 candidates), then size limits."""
    if n_tasks <= 12:
        return None
    if n_tasks <= 14:
        return 4
    return 3


BUDGETS = {
    # a few groups, as in the paper's use (one slot above n/3)
    "tight": lambda n_tasks: ceil(n_tasks / 3) + 1,
    # two thirds of the tasks: many near-optimal sets, hardest to prove
    "loose": lambda n_tasks: ceil(2 * n_tasks / 3),
}


def budget_for(n_tasks, max_size, kind="tight"):
    return max(BUDGETS[kind](n_tasks), ceil(n_tasks / (max_size or n_tasks)))


def planted_problem(n_tasks, max_size, seed):
    rng = np.random.default_rng(seed)
    affinity = rng.normal(0.0, 0.3, (n_tasks, n_tasks))
    groups = all_groups(n_tasks, min_size=2, max_size=max_size)
    gains = []
    for group in groups:
        idx = list(group)
        block = affinity[np.ix_(idx, idx)]
        to_member = (block.sum(axis=0) - np.diag(block)) / (len(group) - 1)
        penalty = 0.02 * (len(group) - 2)
        gains.append(to_member - penalty + rng.normal(0.0, 0.05, len(group)))
    singletons = [(t,) for t in range(n_tasks)]
    return SelectionProblem.from_lists(
        groups + singletons, gains + [[0.0]] * n_tasks, n_tasks
    )


def uniform_problem(n_tasks, max_size, seed):
    """Unstructured gains, uniform on [-1, 1]: many near-equal selections."""
    rng = np.random.default_rng(seed)
    groups = all_groups(n_tasks, min_size=2, max_size=max_size)
    gains = [rng.uniform(-1.0, 1.0, len(g)) for g in groups]
    singletons = [(t,) for t in range(n_tasks)]
    return SelectionProblem.from_lists(
        groups + singletons, gains + [[0.0]] * n_tasks, n_tasks
    )


GAIN_MODELS = {"planted": planted_problem, "uniform": uniform_problem}


def timed(solver, problem, n_groups, mode, **options):
    start = time.process_time()
    result = solve_selection(problem, n_groups, mode=mode, solver=solver, **options)
    return time.process_time() - start, result


def run_one(problem, n_groups, kind, mode, seed, max_size, args):
    n_tasks = problem.n_tasks
    kept = len(prune_candidates(problem, n_groups, mode))
    milp_time, milp_result = timed("milp", problem, n_groups, mode)
    bnb_time, bnb_result = timed(
        "branch_and_bound", problem, n_groups, mode, time_limit=args.time_limit
    )
    gap = milp_result.value - bnb_result.value
    if bnb_result.optimal and abs(gap) > 1e-6:
        raise AssertionError(f"solvers disagree: n={n_tasks} {mode} {gap}")
    print(
        f"{n_tasks:>3} {max_size or n_tasks:>4} {len(problem.candidates):>5} "
        f"{kept:>5} {n_groups:>3} {kind:>6} {mode:>9} {milp_time:>8.3f} "
        f"{bnb_time:>8.3f} {bnb_result.optimal!s:>7} {gap:>8.4f}",
        flush=True,
    )
    return {
        "n_tasks": n_tasks,
        "max_group_size": max_size,
        "n_candidates": len(problem.candidates),
        "n_after_pruning": kept,
        "budget": kind,
        "n_groups": n_groups,
        "mode": mode,
        "seed": seed,
        "milp_seconds": milp_time,
        "milp_optimal": milp_result.optimal,
        "bnb_seconds": bnb_time,
        "bnb_optimal": bnb_result.optimal,
        "optimum": milp_result.value,
        "bnb_gap": gap,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-tasks", type=int, nargs="+", default=list(range(6, 21, 2)))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument(
        "--budgets", nargs="+", choices=sorted(BUDGETS), default=["tight", "loose"]
    )
    parser.add_argument("--gains", choices=sorted(GAIN_MODELS), default="planted")
    parser.add_argument("--out", default=str(RESULTS / "selection_time.json"))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--summary", metavar="JSON", help="print the summary of a written file"
    )
    args = parser.parse_args(argv)
    if args.summary:
        summarize(json.loads(Path(args.summary).read_text())["rows"])
        return

    rows = []
    header = (
        f"{'n':>3} {'max':>4} {'cand':>5} {'kept':>5} {'B':>3} {'budget':>6} "
        f"{'mode':>9} "
        f"{'milp_s':>8} {'bnb_s':>8} {'bnb_opt':>7} {'gap':>8}"
    )
    print(header)
    for n_tasks in args.n_tasks:
        max_size = max_group_size_for(n_tasks)
        for seed in range(args.seeds):
            problem = GAIN_MODELS[args.gains](n_tasks, max_size, seed)
            for kind in args.budgets:
                n_groups = budget_for(n_tasks, max_size, kind)
                for mode in ["overlap", "partition"]:
                    rows.append(
                        run_one(problem, n_groups, kind, mode, seed, max_size, args)
                    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": " ".join(
            ["python", "benchmarks/bench_selection.py", *(argv or sys.argv[1:])]
        ),
        "gains": args.gains,
        "bnb_time_limit_seconds": args.time_limit,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "rows": rows,
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out}")
    summarize(rows)
    if not args.no_plot:
        plot(rows, out.with_suffix(".png"), args.time_limit, args.gains)


def summarize(rows):
    """Median (max) seconds per number of tasks, budget, solver and mode."""
    optimal = sum(r["bnb_optimal"] for r in rows)
    agree = sum(r["bnb_optimal"] and abs(r["bnb_gap"]) <= 1e-6 for r in rows)
    print(
        f"\n{len(rows)} runs; branch and bound proved optimality in {optimal} and "
        f"matched the MILP's optimum in {agree}."
    )
    slower = sum(r["bnb_seconds"] > r["milp_seconds"] for r in rows)
    worst = max(rows, key=lambda r: r["bnb_seconds"])
    print(
        f"total CPU seconds: MILP {sum(r['milp_seconds'] for r in rows):.1f}, "
        f"branch and bound {sum(r['bnb_seconds'] for r in rows):.1f}; branch and "
        f"bound slower in {slower} runs; its slowest run: {worst['n_tasks']} tasks, "
        f"{worst['budget']} budget, {worst['mode']}, {worst['bnb_seconds']:.3f} s "
        f"(MILP {worst['milp_seconds']:.3f} s)."
    )
    print("median (max) CPU seconds:")
    print(
        "| n tasks | max size | candidates | budget | B | MILP overlap | B&B overlap "
        "| MILP partition | B&B partition |"
    )
    print("| --- " * 9 + "|")
    keys = sorted({(r["n_tasks"], r["budget"]) for r in rows})
    for n_tasks, budget in keys:
        subset = [r for r in rows if r["n_tasks"] == n_tasks and r["budget"] == budget]
        cells = []
        for mode in ("overlap", "partition"):
            for key in ("milp_seconds", "bnb_seconds"):
                times = [r[key] for r in subset if r["mode"] == mode]
                cells.append(f"{np.median(times):.3f} ({max(times):.3f})")
        first = subset[0]
        print(
            f"| {n_tasks} | {first['max_group_size'] or 'all'} | "
            f"{first['n_candidates']} | {budget} | {first['n_groups']} | "
            + " | ".join(cells)
            + " |"
        )


def plot(rows, path, time_limit, gains):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = [b for b in BUDGETS if any(r["budget"] == b for r in rows)]
    fig, axes = plt.subplots(
        len(budgets), 2, figsize=(10, 3.6 * len(budgets)), sharey=True, squeeze=False
    )
    for row_axes, budget in zip(axes, budgets):
        for ax, mode in zip(row_axes, ["overlap", "partition"]):
            subset = [r for r in rows if r["mode"] == mode and r["budget"] == budget]
            ns = sorted({r["n_tasks"] for r in subset})
            for key, label in [
                ("milp_seconds", "MILP (HiGHS)"),
                ("bnb_seconds", "branch and bound"),
            ]:
                times = [[r[key] for r in subset if r["n_tasks"] == n] for n in ns]
                line = ax.plot(
                    ns, [np.median(t) for t in times], marker="o", label=label
                )
                ax.fill_between(
                    ns,
                    [min(t) for t in times],
                    [max(t) for t in times],
                    color=line[0].get_color(),
                    alpha=0.2,
                )
            if not all(r["bnb_optimal"] for r in subset):
                ax.axhline(time_limit, color="grey", ls=":", label="B&B time limit")
            ax.set_yscale("log")
            ax.set_xlabel("number of tasks")
            ax.set_title(f"mode={mode!r}, {budget} budget")
        row_axes[0].set_ylabel("solve time (s)")
    axes[0, 0].legend(title="median; band = min..max")
    fig.suptitle(
        "candidates: all groups up to 12 tasks; max group size 4 at 14, 3 at 16-20\n"
        f"budget: tight = ceil(n/3) + 1, loose = ceil(2n/3); {gains} gains"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
