"""select_groups: the selection from gains the user already has."""

import numpy as np
import pytest

from sklearn_etap import encode_groups, select_groups


def test_select_groups_input_forms_agree():
    gains = {(0, 1): [0.3, 0.2], (1, 2): [0.5, -0.2], (0, 1, 2): [0.1, 0.1, 0.1]}
    as_dicts = {g: dict(zip(g, v)) for g, v in gains.items()}
    rows = encode_groups(list(gains), 3)
    flat = np.concatenate(list(gains.values()))
    results = [
        select_groups(gains, 2),
        select_groups(as_dicts, 2),
        select_groups(flat, 2, rows=rows),
    ]
    for res in results:
        assert res.groups == [(1, 2), (0, 1, 2)]
        assert np.isclose(res.total_gain, 0.7)
        np.testing.assert_allclose(res.task_gain, [0.1, 0.5, 0.1])


def test_select_groups_adds_singletons_for_missing_tasks():
    res = select_groups({(0, 1): [0.2, 0.3]}, 2, n_tasks=3)
    assert res.groups == [(2,), (0, 1)]
    assert np.isclose(res.total_gain, 0.5)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: select_groups({(0, 1): [0.2]}, 2),
            ValueError,
            "2 members but 1 gains",
        ),
        (
            lambda: select_groups({(0, 1): {0: 0.2}}, 2),
            ValueError,
            "one\\s+gain for each",
        ),
        (
            lambda: select_groups({(0, 1): [0.2, np.nan]}, 2),
            ValueError,
            "task 1 in group",
        ),
        (
            lambda: select_groups({(0, 1): [0.2, 0.1]}, 0),
            ValueError,
            r"'n_groups' parameter of select_groups must be an int in the range "
            r"\[1, inf\)",
        ),
        (lambda: select_groups([0.1, 0.2], 2), TypeError, "mapping"),
        (lambda: select_groups({3: [0.1]}, 2), TypeError, "keys must be groups"),
        (
            lambda: select_groups({(0, 1): [0.1, 0.2], (1, 0): [0.1, 0.2]}, 2),
            ValueError,
            "more than once",
        ),
        (
            lambda: select_groups([0.1], 2, rows=encode_groups([(0, 1)], 2)),
            ValueError,
            "one gain per group-task row",
        ),
        (
            lambda: select_groups(
                {(0, 1): [0.2, 0.1]}, 2, n_tasks=3, include_singletons=False
            ),
            ValueError,
            r"task\(s\) \[2\] appear in no candidate",
        ),
        (
            lambda: select_groups({(0, 1): [0.2, 0.1], (2, 3): [0, 0]}, 1),
            ValueError,
            "n_groups=1 is too small",
        ),
        (
            lambda: select_groups(
                {(0, 1): [1, 1], (1, 2): [1, 1]},
                2,
                mode="partition",
                include_singletons=False,
            ),
            ValueError,
            "no selection of at most 2",
        ),
    ],
)
def test_select_groups_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------- scikit-learn checks


# Messages that used to name an argument the caller never passed (n_tasks).


def test_float_task_keys_are_named_as_keys_of_gains():
    with pytest.raises(TypeError) as info:
        select_groups({(0.0, 1.0): [0.2, 0.1]}, 2)
    message = str(info.value)
    assert message == (
        "gains has the key (0.0, 1.0), which holds 0.0; task indices in its "
        "keys must be integers such as (0, 2)."
    )
    assert "n_tasks" not in message


def test_empty_gains_are_named_as_gains():
    with pytest.raises(ValueError, match="^gains is empty") as info:
        select_groups({}, 2)
    assert "n_tasks must" not in str(info.value)
    # With the number of tasks given, no gains means every task alone.
    selection = select_groups({}, 3, n_tasks=3)
    assert selection.groups == [(0,), (1,), (2,)]
    assert selection.total_gain == 0.0


def test_out_of_range_keys_are_named_as_keys_of_gains():
    with pytest.raises(
        ValueError, match=r"^group 1 of the keys of gains \(1, 5\) holds task index 5"
    ):
        select_groups({(0, 1): [0.2, 0.1], (1, 5): [0.1, 0.1]}, 2, n_tasks=3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_groups": 1.5}, "n_groups"),
        ({"n_tasks": 0}, "n_tasks"),
        ({"mode": "disjoint"}, "mode"),
        ({"solver": "greedy"}, "solver"),
        ({"prune": "yes"}, "prune"),
        ({"include_singletons": 1.0}, "include_singletons"),
    ],
)
def test_select_groups_parameters_are_validated_by_name(kwargs, name):
    call = {"gains": {(0, 1): [0.2, 0.1]}, "n_groups": 2, **kwargs}
    with pytest.raises(ValueError, match=f"^The '{name}' parameter of select_groups"):
        select_groups(**call)
