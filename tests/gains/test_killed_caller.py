"""Workers do not outlive a caller killed hard in the middle of a measurement.

A caller killed with SIGKILL cannot stop its loky workers; each one watches
its parent from its first training on and exits when it is gone, and with
the workers gone their resource trackers exit too.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads processes from /proc"
)

SCRIPT = """
import os, sys, time
sys.path.insert(0, {tests!r})
from conftest import _gain_data
from sklearn_etap import TorchAffinityExtractor, measure_gains


class SlowExtractor(TorchAffinityExtractor):
    def fit(self, X, Y):  # a long training, in a worker
        open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
        time.sleep(600)


X, Y, X_test, Y_test = _gain_data()
measure_gains(SlowExtractor(device="cpu"), X, Y, [(0, 1), (1, 2)], X_test, Y_test,
              n_jobs=2, random_state=0, progress=False)
"""


def _stat(pid):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return state, int(ppid)


def children_of(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(entry.name)
            if stat is not None and stat[1] == pid:
                found.append(int(entry.name))
    return found


def is_running(pid):
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


@pytest.mark.slow
def test_workers_and_trackers_exit_with_a_killed_caller(tmp_path):
    tests = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SCRIPT.format(tests=tests)),
            str(tmp_path),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    started = []
    try:
        deadline = time.monotonic() + 120
        while len(started) < 2 and time.monotonic() < deadline:
            assert caller.poll() is None, "the measurement ended before training"
            started = [int(p.name) for p in tmp_path.iterdir()]
            time.sleep(0.2)
        assert len(started) == 2, "the workers did not start training"
        spawned = children_of(caller.pid)  # workers and resource trackers
        assert set(started) <= set(spawned)
    finally:
        caller.send_signal(signal.SIGKILL)
        caller.wait()
    deadline = time.monotonic() + 20
    while any(map(is_running, spawned)) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in spawned if is_running(pid)]
    for pid in alive:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert alive == [], f"{len(alive)} of {len(spawned)} processes outlived the caller"
