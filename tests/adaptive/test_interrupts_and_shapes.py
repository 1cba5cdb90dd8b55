"""search_groups loses nothing to an interrupt and names misshapen gains."""

import numpy as np
import pytest

from sklearn_etap import GroupMeasurementError, search_groups


def table_measure(calls, interrupt_at=None):
    def measure(groups):
        calls.append(list(groups))
        if len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return [[0.5 if set(g) <= {0, 1, 2} else -0.2 for _ in g] for g in groups]

    return measure


def test_an_interrupt_carries_what_was_measured_and_resumes():
    settings = dict(n_groups=3, n_measured=8, random_state=0)
    full_calls = []
    full = search_groups(table_measure(full_calls), 5, **settings)

    calls = []
    with pytest.raises(KeyboardInterrupt) as info:
        search_groups(table_measure(calls, interrupt_at=5), 5, **settings)
    partial = info.value.partial
    assert partial.n_measured == 4
    assert list(partial.measured) == [tuple(c[0]) for c in full_calls[:4]]
    assert info.value.groups == [tuple(g) for g in calls[4]]
    assert any("measured=" in note for note in info.value.__notes__)

    resumed_calls = []
    resumed = search_groups(
        table_measure(resumed_calls), 5, measured=partial.measured, **settings
    )
    # only what was missing is measured, and the result is the same
    assert [tuple(c[0]) for c in resumed_calls] == [tuple(c[0]) for c in full_calls[4:]]
    assert resumed.groups == full.groups
    assert resumed.total_gain == full.total_gain


def test_gains_of_shape_n_by_1_are_explained():
    def measure(groups):
        return [np.full((len(g), 1), 0.1) for g in groups]

    with pytest.raises(GroupMeasurementError, match=r"gains of shape \(\d, 1\).*1-D array.*np\.ravel"):  # fmt: skip # noqa: E501
        search_groups(measure, 5, n_groups=3, n_measured=4, random_state=0)
