"""``affinity_every="auto"``: the interval grows with the number of tasks and
shrinks for a short planned training; it is resolved from the data's shape."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from small_extractor import small

from sklearn_etap._affinity.recording import (
    MIN_RECORDED_STEPS,
    auto_recording_interval,
)
from sklearn_etap._validation import InvalidParameterError


@pytest.mark.parametrize(
    "n_tasks, n_steps, expected",
    [
        (1, 10_000, 100),
        (10, 10_000, 100),  # issue 21's interval on up to 10 tasks
        (11, 10_000, 110),
        (20, 10_000, 200),
        (40, 10_000, 400),
        (10, 320, 100),  # 4 blocks, the last one partial: issue 21's tables
        (10, 300, 75),  # 3 blocks of 100: the floor of 4 recorded steps binds
        (40, 1_600, 400),
        (40, 1_199, 299),
        (3, 50, 12),  # Linnerud: 15 rows, one batch a step, 50 epochs
        (3, 7, 1),  # shorter than 4 steps a block: every step
        (3, 3, 1),
    ],
)
def test_auto_interval_known_answers(n_tasks, n_steps, expected):
    assert auto_recording_interval(n_tasks, n_steps) == expected


def test_auto_interval_is_monotone_and_records_the_minimum():
    for n_tasks in (1, 5, 10, 25, 40, 100):
        previous = 0
        for n_steps in range(1, 5000, 37):
            every = auto_recording_interval(n_tasks, n_steps)
            assert every >= previous  # longer training: never a shorter interval
            previous = every
            n_blocks = -(-n_steps // every)
            assert n_blocks >= min(n_steps, MIN_RECORDED_STEPS)
            long = max(100, 10 * n_tasks)
            if -(-n_steps // long) >= MIN_RECORDED_STEPS:  # long enough
                assert every == long
            assert every <= max(100, 10 * n_tasks)


def test_auto_fit_records_what_the_resolved_integer_records(make_task_data):
    X, Y = make_task_data()  # 120 rows, batch 32, 4 epochs: 16 planned steps
    auto = small().fit(X, Y)
    assert auto.affinity_every == "auto" and auto.affinity_every_ == 16 // 4
    assert auto.n_recorded_steps_ == 4
    pinned = small(affinity_every=auto.affinity_every_).fit(X, Y)
    assert pinned.affinity_every_ == 4
    assert_array_equal(auto.affinity_, pinned.affinity_)
    again = small().fit(X, Y)
    assert_array_equal(auto.affinity_, again.affinity_)


@pytest.mark.filterwarnings("ignore:Stopped at max_epochs")
def test_auto_counts_the_rows_left_after_the_validation_split(make_task_data):
    X, Y = make_task_data(n_samples=60)
    # 60 rows, 6 held out: 54 fit rows in batches of 8 = 7 a epoch, 10 epochs
    ext = small(batch_size=8, max_epochs=10, early_stopping=True).fit(X, Y)
    assert ext.affinity_every_ == 70 // 4


def test_auto_keeps_the_long_interval_on_a_long_training(make_task_data):
    X, Y = make_task_data(n_samples=64)
    # 64 rows in batches of 8 for 100 epochs: 800 planned steps, 4 tasks
    ext = small(batch_size=8, max_epochs=100, hidden_layer_sizes=(4,)).fit(X, Y)
    assert ext.affinity_every_ == 100 and ext.n_recorded_steps_ == 8


@pytest.mark.parametrize("bad", ["fast", 0, 2.5])
def test_affinity_every_is_validated(make_task_data, bad):
    X, Y = make_task_data()
    with pytest.raises(InvalidParameterError, match="affinity_every"):
        small(affinity_every=bad).fit(X, Y)


def test_auto_interval_is_an_int_with_affinity_none(make_task_data):
    X, Y = make_task_data()
    ext = small(affinity=None).fit(X, Y)
    assert ext.affinity_ is None and isinstance(ext.affinity_every_, int)
    assert np.isfinite(ext.loss_curve_).all()
