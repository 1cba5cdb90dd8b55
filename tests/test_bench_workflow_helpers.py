"""The bookkeeping of the CNN workflow benchmark and the command timer: the
true total of a selection and the figures read from ``/usr/bin/time -v``."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples")]

import bench_cnn_workflow  # noqa: E402
import time_command  # noqa: E402

TIME_REPORT = """\
trainings: 100%|##########| 19/19
\tCommand being timed: "python examples/shapes_cnn.py"
\tUser time (seconds): 221.85
\tSystem time (seconds): 9.04
\tPercent of CPU this job got: 53%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 7:11.25
\tMaximum resident set size (kbytes): 855148
\tExit status: 0
"""


def test_true_total_sums_each_task_gain_in_the_group_that_scores_it():
    # overlap: task 1 is in two chosen groups and scored by (1, 2); task 3 alone
    groups = [(3,), (0, 1), (1, 2)]
    task_group = [1, 2, 2, 0]
    gain_of = {((0, 1), 0): 0.1, ((0, 1), 1): -0.5, ((1, 2), 1): 0.2, ((1, 2), 2): 0.3}
    total = bench_cnn_workflow.true_total(groups, task_group, gain_of)
    assert total == pytest.approx(0.1 + 0.2 + 0.3)


def test_true_total_needs_the_measured_gain_of_every_grouped_task():
    with pytest.raises(KeyError):
        bench_cnn_workflow.true_total([(0, 1)], [0, 0], {((0, 1), 0): 0.1})


def test_usr_bin_time_figures_are_read_from_its_report():
    figures = time_command.usr_bin_time(TIME_REPORT)
    assert figures == {
        "user_seconds": "221.85",
        "system_seconds": "9.04",
        "percent_cpu": "53%",
        "wall_clock": "7:11.25",
        "max_rss_kbytes": "855148",
    }
    assert time_command.wall_seconds(figures["wall_clock"]) == pytest.approx(431.25)
    assert time_command.wall_seconds("1:02:03") == 3723


def test_budget_is_one_group_more_than_covering_needs():
    assert [bench_cnn_workflow.budget(n) for n in (3, 20, 40)] == [2, 8, 15]
