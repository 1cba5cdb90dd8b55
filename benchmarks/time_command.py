"""Time one command with ``/usr/bin/time -v`` and keep the figures as JSON.

Usage::

    nice -n 5 python benchmarks/time_command.py \\
        --out benchmarks/results/shapes_cnn_example.json \\
        -- python examples/shapes_cnn.py

Runs the command from the repository root, records the load average before
and after (the machine is shared), what ``/usr/bin/time -v`` reports (wall
clock, user and system seconds of the command and of the children it waited
for, the largest resident set, the share of a CPU it got) and the last lines
of its standard output, and writes them with the exact command to ``--out``.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_FIELDS = {
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall_clock",
    "User time (seconds)": "user_seconds",
    "System time (seconds)": "system_seconds",
    "Maximum resident set size (kbytes)": "max_rss_kbytes",
    "Percent of CPU this job got": "percent_cpu",
}


def usr_bin_time(stderr):
    """The figures of ``/usr/bin/time -v``'s report (at the end of stderr)."""
    found = {}
    for line in stderr.splitlines():
        label, _, value = line.strip().rpartition(": ")
        if label in TIME_FIELDS:
            found[TIME_FIELDS[label]] = value
    return found


def wall_seconds(clock):
    """``h:mm:ss`` or ``m:ss.ss`` as seconds."""
    seconds = 0.0
    for part in clock.split(":"):
        seconds = 60 * seconds + float(part)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"]
    if not command:
        parser.error("give the command to time after --")
    load_before = os.getloadavg()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, cwd=ROOT
    )
    load_after = os.getloadavg()
    figures = usr_bin_time(done.stderr)
    result = {
        "command": "python benchmarks/time_command.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "timed_command": " ".join(command),
        "returncode": done.returncode,
        "usr_bin_time": figures,
        "wall_seconds": round(wall_seconds(figures.get("wall_clock", "nan")), 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
        "machine": f"{os.cpu_count()} cores, shared with other jobs "
        "(see the load averages)",
        "stdout_tail": done.stdout.replace("\r", "\n").splitlines()[-8:],
        "stderr_tail": done.stderr[-800:] if done.returncode else "",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("returncode", "usr_bin_time")}))
    print("\n".join(result["stdout_tail"]))
    print(f"wrote {args.out}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
