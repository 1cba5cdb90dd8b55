"""What `etap run` prints about the chosen groups."""

from sklearn_etap._cli.report import budget_note, format_groups


def summary(total, budget, n_tasks=4):
    return {
        "task_names": [f"t{k}" for k in range(n_tasks)],
        "settings": {"budget": budget, "mode": "overlap"},
        "selection": {
            "predicted_total_gain": total,
            "groups": [
                {"tasks": ["t0"], "predicted_gain": [0.0], "measured_gain": None},
                {
                    "tasks": ["t1", "t2", "t3"],
                    "predicted_gain": [0.1, -0.2, 0.4],
                    "measured_gain": [0.3, None, 0.0],
                },
            ],
        },
    }


def test_groups_print_mean_predicted_and_measured_gains():
    lines = format_groups(summary(0.3, 2))
    assert lines[0].endswith("predicted total gain 0.300:")
    assert lines[2].split() == ["0.000", "-", "t0"]
    # Means over the group's tasks; the measured mean skips undefined gains.
    assert lines[3].split() == ["0.100", "0.150", "t1", "+", "t2", "+", "t3"]
    assert not any("note:" in line for line in lines)


def test_a_forced_negative_grouping_is_pointed_out():
    assert "--budget 4 every task may be trained alone" in budget_note(summary(-1, 2))
    assert budget_note(summary(-1, 4)) == ""  # nothing forced with 4 slots
    assert budget_note(summary(0.5, 2)) == ""
