"""What `etap run` prints about the chosen groups."""

import pytest

from sklearn_etap._cli.report import budget_note, format_groups, selection_note


def summary(total, budget, n_tasks=4):
    return {
        "task_names": [f"t{k}" for k in range(n_tasks)],
        "settings": {"budget": budget, "mode": "overlap"},
        "selection": {
            "predicted_total_gain": total,
            "task_gain": {"t0": 0.0, "t1": 0.1, "t2": -0.2, "t3": 0.4},
            "groups": [
                {
                    "tasks": ["t0"],
                    "predicted_gain": [0.0],
                    "measured_gain": None,
                    "scores_tasks": ["t0"],
                },
                {
                    "tasks": ["t1", "t2", "t3"],
                    "predicted_gain": [0.1, -0.2, 0.4],
                    "measured_gain": [0.3, None, 0.0],
                    "scores_tasks": ["t1", "t2", "t3"],
                },
            ],
        },
    }


def overlap_summary():
    """t2 is served by (t0, t2), not by (t1, t2, t3), though it is in both."""
    return {
        "task_names": ["t0", "t1", "t2", "t3"],
        "settings": {"budget": 2, "mode": "overlap"},
        "selection": {
            "predicted_total_gain": 0.9,
            "task_gain": {"t0": 0.2, "t1": 0.1, "t2": 0.3, "t3": 0.3},
            "groups": [
                {
                    "tasks": ["t0", "t2"],
                    "predicted_gain": [0.2, 0.3],
                    "measured_gain": [0.25, 0.35],
                    "scores_tasks": ["t0", "t2"],
                },
                {
                    "tasks": ["t1", "t2", "t3"],
                    "predicted_gain": [0.1, -0.5, 0.3],
                    "measured_gain": [0.0, -0.4, 0.2],
                    "scores_tasks": ["t1", "t3"],
                },
            ],
        },
    }


def test_groups_print_the_gains_of_the_tasks_they_serve():
    lines = format_groups(summary(0.3, 2))
    assert lines[0].endswith("predicted total gain 0.300:")
    assert lines[2].split() == ["0.000", "-", "t0"]
    # A measured gain is missing for t2, so the group's measured sum is unknown.
    assert lines[3].split() == ["0.300", "-", "t1", "+", "t2", "+", "t3"]
    assert not any("note:" in line for line in lines)


def test_overlap_lines_name_the_served_tasks_and_add_up_to_the_total():
    lines = format_groups(overlap_summary())
    assert lines[2].split() == ["0.500", "0.600", "t0", "+", "t2"]
    # t2 is a member of the second group but served by the first.
    assert lines[3].split() == [
        "0.400",
        "0.200",
        "t1",
        "+",
        "t2",
        "+",
        "t3",
        "->",
        "t1,",
        "t3",
    ]
    group_sums = [float(line.split()[0]) for line in lines[2:4]]
    total = float(lines[4].split()[0])
    assert sum(group_sums) == pytest.approx(total) == pytest.approx(0.9)
    assert lines[4].split()[1] == "total:"


def test_a_forced_negative_grouping_is_pointed_out():
    assert "--budget 4 every task may be trained alone" in budget_note(summary(-1, 2))
    assert budget_note(summary(-1, 4)) == ""  # nothing forced with 4 slots
    assert budget_note(summary(0.5, 2)) == ""


def test_a_selection_cut_by_the_time_limit_states_its_gap():
    assert selection_note({"optimal": True}) == ""
    note = selection_note({"optimal": False, "gap": 0.0123})
    assert "--time-limit" in note and "at most 0.0123 higher" in note
