"""``etap``: the command line. ``etap run`` does the whole job."""

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from .. import __version__
from .atomic import check_out, staged_report
from .data import UsageError, builtin_datasets, load_builtin, load_table
from .inputs import describe_features, feature_summary
from .training import (
    add_training_options,
    check_training_options,
    training_warnings_reported_once,
)

DESCRIPTION = """\
Which tasks to train together. `etap run` records task affinities in one
multi-task training run, measures the gains of a few random groups, fits ETAP
on them, chooses the best groups under a budget, prints them and writes a
report folder. Default: the built-in digits data (10 tasks), offline."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"etap: error: {message}\n")


def build_parser():
    parser = _Parser(prog="etap", description=DESCRIPTION)
    parser.add_argument(
        "--version", action="version", version=f"etap (sklearn-etap) {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    run = commands.add_parser(
        "run",
        help="the whole job: affinities, gains, ETAP, selection, report",
        description=DESCRIPTION,
    )
    source = run.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=sorted(builtin_datasets()),
        default="digits",
        help="built-in dataset (default: digits; shapes: 40 binary attributes of "
        "drawn images, generated offline; mhc1, ridership and appliances need the "
        "datasets extra, see the docs)",
    )
    source.add_argument(
        "--data",
        metavar="FILE",
        help="your own table: .csv, .parquet, or .npz (1-D arrays as columns, or "
        "2-D X and Y)",
    )
    run.add_argument(
        "--target",
        action="append",
        metavar="COL",
        help="a target column of --data, one task each (repeat: --target a "
        "--target b); 0/1 or two-class columns are binary tasks, others regression",
    )
    run.add_argument(
        "--feature",
        action="append",
        metavar="COL",
        help="a feature column of --data (repeatable; default: every other "
        "numeric column)",
    )
    run.add_argument(
        "--groups",
        type=int,
        default=None,
        metavar="N",
        help="groups to measure (default: 8, or 2 sqrt(number of tasks) when "
        "larger, and every group when there are fewer: 2 tasks have one)",
    )
    run.add_argument(
        "--budget",
        type=int,
        default=None,
        metavar="B",
        help="most groups to choose (default: 3, or as many as covering the "
        "tasks needs when more)",
    )
    run.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="longest the group selection may take; at the limit the best "
        "grouping found is used and its gap to the optimum reported (60)",
    )
    run.add_argument(
        "--mode",
        choices=["overlap", "partition"],
        default="overlap",
        help="overlap: chosen groups may share tasks; partition: disjoint groups",
    )
    run.add_argument(
        "--measure",
        choices=["random", "adaptive"],
        default="random",
        help="which groups to measure: random (default; gives an unbiased check "
        "of the predictions) or adaptive (search_groups: half at random, then the "
        "groups ETAP would choose, refitting ETAP's defaults every round; slower)",
    )
    run.add_argument(
        "--linearized",
        action="store_true",
        help="also check whether the linearized gain estimate "
        "(LinearizedGainEstimator: gains without training) agrees with the "
        "measured groups for this model, in the printout and the report (off by "
        "default: it costs more than the rest of a quick run)",
    )
    run.add_argument("--seed", type=int, default=0, help="random seed (0)")
    run.add_argument(
        "--jobs", type=int, default=-1, help="parallel trainings (-1: all cores)"
    )
    run.add_argument(
        "--device", default="auto", help="torch device: auto (CUDA if any), cpu, cuda"
    )
    run.add_argument(
        "--out",
        default="etap-report",
        metavar="DIR",
        help="report folder (etap-report)",
    )
    run.add_argument(
        "--epochs",
        "--max-epochs",
        dest="epochs",
        type=int,
        default=None,
        metavar="E",
        help="training epochs of every model (default: the extractor's, 50)",
    )
    run.add_argument(
        "--max-samples",
        type=int,
        default=None,
        metavar="N",
        help="use a random subset of at most N rows (quick runs)",
    )
    run.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="keep every finished training in DIR; a run stopped midway and "
        "started again with the same DIR (and the same settings) trains only "
        "what is missing",
    )
    talk = run.add_mutually_exclusive_group()
    talk.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars or step messages: only the result",
    )
    talk.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="say more: which group serves each task, and every feature",
    )
    add_training_options(run)
    return parser


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _check_options(options):
    if options.data is None and (options.target or options.feature):
        raise UsageError("--target and --feature describe --data FILE; give it too.")
    if options.epochs is not None and options.epochs < 1:
        raise UsageError(f"--epochs {options.epochs}: train at least 1 epoch.")
    if options.max_samples is not None and options.max_samples < 10:
        raise UsageError(f"--max-samples {options.max_samples}: keep at least 10.")
    if options.jobs == 0:
        raise UsageError("--jobs 0: give a positive number, or -1 for all cores.")
    check_out(options.out)
    if options.cache_dir is not None and Path(options.cache_dir).exists():
        if not Path(options.cache_dir).is_dir():
            raise UsageError(
                f"--cache-dir {options.cache_dir} is a file; give a folder."
            )
    if not options.time_limit > 0:
        raise UsageError(f"--time-limit {options.time_limit:g}: give a positive time.")
    check_training_options(options)


def run(options):
    """``etap run``: returns the exit status."""
    from .job import run_job
    from .report import format_groups, format_tasks, write_report

    start = time.perf_counter()
    options.quiet = options.quiet or options.verbose < 0
    # Step messages go to stderr with the progress bars: stdout is the result,
    # whose first line compares the recommendation with the reference answers.
    say = (
        (lambda *a: None)
        if options.quiet
        else (lambda text: print(text, file=sys.stderr, flush=True))
    )
    _check_options(options)
    if options.data is None:
        data = load_builtin(
            options.dataset, max_samples=options.max_samples, seed=options.seed
        )
    else:
        data = load_table(
            options.data,
            options.target,
            options.feature,
            max_samples=options.max_samples,
            seed=options.seed,
        )
    say(
        f"data: {options.data or options.dataset}, {len(data.task_names)} tasks, "
        f"{data.X_train.shape[0]} training and {data.X_test.shape[0]} test samples"
    )
    if options.data is not None:
        for line in describe_features(data, full=options.verbose > 0):
            say(line)
    with staged_report(options.out) as staging:
        options.staging = staging
        # The grid search's messages join the step messages on stderr.
        with (
            training_warnings_reported_once(),
            contextlib.redirect_stdout(sys.stderr),
        ):
            summary, plots, gains = run_job(data, options, say)
        summary["features"] = feature_summary(data)
        summary["seconds"]["total"] = round(time.perf_counter() - start, 2)
        write_report(staging, summary, plots, gains)
    print("\n".join(format_groups(summary)))
    if options.verbose:
        print("\n".join(format_tasks(summary)))
    print(
        f"report: {options.out}/report.html "
        f"(done in {time.perf_counter() - start:.0f} s)"
    )
    return 0


def main(argv=None):
    """Entry point of the ``etap`` console script; returns the exit status."""
    parser = build_parser()
    options = parser.parse_args(argv)
    # A kill by SIGTERM unwinds like Ctrl-C: the unfinished report folder is
    # removed and the finished trainings stay in --cache-dir.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(options)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _main(options):
    try:
        return run(options)
    except UsageError as exc:
        print(f"etap: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout left (`etap run | head -1`), after the report
        # was written: end quietly, as a shell tool killed by SIGPIPE does,
        # and keep Python from reporting the pipe again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (ValueError, TypeError, ImportError, OSError) as exc:
        # The library's own checks say what is wrong with the input.
        print(f"etap: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("etap: interrupted", file=sys.stderr)
        return 130
