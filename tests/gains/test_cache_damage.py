"""A damaged gain-cache entry of any kind is trained again, named in a warning.

Only regular files are read, and never more than an entry can hold: a FIFO,
a link to a device, a directory, a huge or deeply nested file at an entry's
path neither blocks, nor exhausts memory, nor stops the measurement. Losses
no training can give (negative, beyond float32) are refused too.
"""

import json
import os
import threading
import warnings

import numpy as np
import pytest
from test_gains_cache import (
    CountingTraining,
    assert_same_losses,
    entries,
    measure,
)

from sklearn_etap._gains import runner as _runner
from sklearn_etap._gains.cache import StoredTraining, TrainingStore


@pytest.fixture
def measured(tmp_path, make_gain_data):
    data = make_gain_data()
    uncached = measure(data, None)
    measure(data, tmp_path)
    return data, tmp_path, uncached


def single_task_entry(cache_dir):
    return next(
        p for p in entries(cache_dir) if len(json.loads(p.read_text())["losses"]) == 1
    )


def rerun_within(data, cache_dir, monkeypatch, seconds=120):
    """Rerun in a thread, so that a blocking read fails the test, not hangs it."""
    counter = CountingTraining()
    monkeypatch.setattr(_runner, "_fit_and_score", counter)
    outcome = {}

    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                outcome["result"] = measure(data, cache_dir)
            except BaseException as exc:  # reported below
                outcome["error"] = exc
        outcome["warnings"] = [str(w.message) for w in caught]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the measurement blocked on a cache entry"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], counter, outcome["warnings"]


def replace_with_fifo(path):
    path.unlink()
    os.mkfifo(path)


def replace_with_link_to_dev_zero(path):
    path.unlink()
    path.symlink_to("/dev/zero")


def replace_with_directory(path):
    path.unlink()
    path.mkdir()
    (path / "inside.json").write_text("{}")


def replace_with_deep_nesting(path):
    path.write_text("[" * 2000 + "]" * 2000)  # small, but too deep


def replace_with_huge_file(path):
    entry = json.loads(path.read_text())
    path.write_text(json.dumps(entry) + " " * 50_000_000)


@pytest.mark.parametrize(
    "damage, reason",
    [
        pytest.param(replace_with_fifo, "not a regular file", id="fifo"),
        pytest.param(
            replace_with_link_to_dev_zero, "not a regular file", id="dev-zero"
        ),
        pytest.param(replace_with_directory, "is a directory", id="directory"),
        pytest.param(replace_with_deep_nesting, "nested too deeply", id="nesting"),
        pytest.param(replace_with_huge_file, "more than an entry holds", id="huge"),
    ],
)
def test_a_damaged_entry_of_any_kind_is_trained_again(
    measured, monkeypatch, damage, reason
):
    if damage is replace_with_fifo and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    data, cache_dir, uncached = measured
    target = single_task_entry(cache_dir)
    damage(target)

    result, counter, messages = rerun_within(data, cache_dir, monkeypatch)

    assert counter.calls == 1
    assert_same_losses(result, uncached)
    assert any(
        f"cache entry {target}" in m and reason in m and "training it again" in m
        for m in messages
    ), messages
    if damage is replace_with_directory:
        # the retrained entry cannot take the directory's place: said, not hidden
        assert any(
            f"could not store a finished training in the gain cache at {target}" in m
            for m in messages
        ), messages


@pytest.mark.parametrize(
    "losses, reason",
    [([-0.5], "negative losses"), ([1e300], "beyond float32")],
)
def test_losses_no_training_gives_are_refused(measured, monkeypatch, losses, reason):
    data, cache_dir, uncached = measured
    target = single_task_entry(cache_dir)
    entry = json.loads(target.read_text())
    entry["losses"] = losses
    target.write_text(json.dumps(entry))

    result, counter, messages = rerun_within(data, cache_dir, monkeypatch)

    assert counter.calls == 1
    assert_same_losses(result, uncached)
    assert any(
        f"cache entry {target} is invalid" in m and reason in m for m in messages
    )
    # the retrained entry replaced it, with the real loss
    assert json.loads(target.read_text())["losses"] != losses


def test_implausible_losses_are_not_stored(tmp_path):
    from sklearn_etap._gains.cache import check_losses

    store = TrainingStore(tmp_path)
    for losses in ([-1.0], [1e300], [np.nan]):
        assert check_losses(np.array(losses)) is not None
        store.save("abc", StoredTraining(losses))
        assert not (store.folder / "abc.json").exists()
    store.save("abc", StoredTraining([0.25]))
    assert store.load("abc", 1).losses.tolist() == [0.25]
