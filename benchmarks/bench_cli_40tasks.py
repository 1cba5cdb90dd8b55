"""`etap run --dataset shapes --quiet` with the defaults: 40 tasks end to end.

Usage::

    nice -n 5 python benchmarks/bench_cli_40tasks.py

Runs ``/usr/bin/time -v python -m sklearn_etap run --dataset shapes --quiet
--out DIR`` in a subprocess with no training flags (the run's own scaling of
the groups measured and the budget for 40 tasks applies) and records the wall
time, and what ``/usr/bin/time -v`` reports (its wall clock, user and system
seconds of the command and the children it waited for, and the largest
resident set of one of them: the figures the README quotes);
the CPU time and the resident memory of the run's whole process tree (the
command and its training workers, which it does not always wait for, so
``getrusage`` misses them), sampled from ``/proc`` every half second: CPU
as the sum of each process's last seen user + system time, memory as the
largest sum of the tree's resident sets and the largest single process;
the load average before and after (the machine is shared), the steps'
times from ``summary.json``, the settings the run chose, how many
single-task models failed to beat the trivial predictor, and the report's
first line. Writes
``benchmarks/results/cli_40tasks.json`` (``--out`` to change).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from time_command import usr_bin_time

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
COMMAND = (
    "/usr/bin/time -v python -m sklearn_etap run --dataset shapes --quiet --out DIR"
)


TICKS = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def process_tree(root):
    """``root`` and all its descendants' pids (Linux ``/proc``)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return pids


def cpu_and_rss(pid):
    """(user + system seconds, resident MB) of one process, or None once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        statm = Path(f"/proc/{pid}/statm").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS, int(statm.split()[1]) * PAGE_MB


def run(out):
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "sklearn_etap", "run"]
    command += ["--dataset", "shapes", "--quiet", "--out", str(out)]
    load_before = os.getloadavg()
    start = time.perf_counter()
    cpu, peak_tree, peak_one = {}, 0.0, 0.0
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        reader = ThreadPoolExecutor(2)
        stdout = reader.submit(process.stdout.read)
        stderr = reader.submit(process.stderr.read)
        while process.poll() is None:
            tree = 0.0
            for pid in process_tree(process.pid):
                seen = cpu_and_rss(pid)
                if seen is not None:
                    cpu[pid] = seen[0]
                    tree += seen[1]
                    peak_one = max(peak_one, seen[1])
            peak_tree = max(peak_tree, tree)
            time.sleep(0.5)
        done = subprocess.CompletedProcess(
            command, process.returncode, stdout.result(), stderr.result()
        )
        reader.shutdown()
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    record = {
        "run_command": COMMAND,
        "returncode": done.returncode,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(sum(cpu.values()), 1),
        "processes_seen": len(cpu),
        "peak_rss_tree_mb": round(peak_tree, 1),
        "peak_rss_one_process_mb": round(peak_one, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "first_line": (done.stdout.splitlines() or [""])[0],
        "stdout": done.stdout,
        "stderr_tail": done.stderr[-500:] if done.returncode else "",
        "usr_bin_time": usr_bin_time(done.stderr),
    }
    if done.returncode == 0:
        summary = json.loads((out / "summary.json").read_text())
        trivial = summary.get("trivial") or {}
        record.update(
            n_tasks=len(summary["task_names"]),
            n_train_samples=summary["n_train_samples"],
            n_test_samples=summary["n_test_samples"],
            n_features=summary["n_features"],
            groups=summary["settings"]["groups"],
            budget=summary["settings"]["budget"],
            max_group_size=summary["settings"].get("max_group_size"),
            epochs=summary["settings"]["epochs"],
            seconds=summary["seconds"],
            selection_optimal=summary["selection"].get("optimal"),
            selection_gap=summary["selection"].get("gap"),
            single_task_models_flagged=trivial.get("stl_flagged"),
            out_of_fold_pearson_r=summary["prediction"].get("out_of_fold_pearson_r"),
        )
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_40tasks.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="etap-40tasks-") as folder:
        record = run(Path(folder) / "report")
    result = {
        "command": "nice -n 5 python benchmarks/bench_cli_40tasks.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, shared with other jobs "
        "(see the load averages)",
        **record,
    }
    print(
        f"rc {record['returncode']}: {record['wall_seconds']:.0f} s wall, "
        f"{record['cpu_seconds']:.0f} s CPU, "
        f"peak RSS {record['peak_rss_tree_mb']:.0f} MB "
        f"(largest process {record['peak_rss_one_process_mb']:.0f} MB), "
        f"load {record['load_average_before'][0]:.1f} -> "
        f"{record['load_average_after'][0]:.1f}; steps {record.get('seconds')}"
    )
    print("/usr/bin/time -v:", record["usr_bin_time"])
    print(record["first_line"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
