"""The gain cache: plain JSON, validated, atomic, keyed by what defines a run."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from sklearn_etap import TorchAffinityExtractor, TrivialPredictorWarning, measure_gains
from sklearn_etap._gains import cache as _cache
from sklearn_etap._gains import runner as _runner
from sklearn_etap._gains.cache import estimator_key
from sklearn_etap._gains.extractor_params import OVERRIDDEN_PARAMS

TRAIN_ONE_MODEL = _runner._fit_and_score
GROUPS = [(0, 1), (1, 2)]
N_TRAININGS = 3 + len(GROUPS)  # STL models of tasks 0..2, then the groups


def make_extractor(**params):
    settings = {"hidden_layer_sizes": (8,), "max_epochs": 3, "batch_size": 16}
    return TorchAffinityExtractor(device="cpu", **{**settings, **params})


class CountingTraining:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return TRAIN_ONE_MODEL(*args)


def measure(data, cache_dir, extractor=None, **kwargs):
    X, Y, X_test, Y_test = data
    return measure_gains(
        extractor or make_extractor(),
        X,
        Y,
        GROUPS,
        X_test,
        Y_test,
        random_state=0,
        cache_dir=cache_dir,
        progress=False,
        **kwargs,
    )


def entries(cache_dir):
    return sorted(Path(cache_dir).glob("format*/*.json"))


def assert_same_losses(a, b):
    np.testing.assert_array_equal(a.stl_loss_per_seed, b.stl_loss_per_seed)
    np.testing.assert_array_equal(a.mtl_loss_per_seed, b.mtl_loss_per_seed)


@pytest.fixture
def measured(tmp_path, make_gain_data):
    """A finished, cached measurement: (data, cache_dir, uncached result)."""
    data = make_gain_data()
    uncached = measure(data, None)
    measure(data, tmp_path)
    assert len(entries(tmp_path)) == N_TRAININGS
    return data, tmp_path, uncached


def rerun_counting(data, cache_dir, monkeypatch):
    counter = CountingTraining()
    monkeypatch.setattr(_runner, "_fit_and_score", counter)
    return measure(data, cache_dir), counter


def test_entries_are_plain_json_numbers(measured):
    _, cache_dir, uncached = measured
    stored = sorted(
        tuple(json.loads(path.read_text())["losses"]) for path in entries(cache_dir)
    )
    expected = sorted(
        [(loss,) for loss in uncached.stl_loss[:3]]
        + [tuple(uncached.mtl_loss[:2]), tuple(uncached.mtl_loss[2:])]
    )
    assert stored == expected


class Planted:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_planted_pickle_never_runs(measured, monkeypatch, tmp_path_factory):
    data, cache_dir, uncached = measured
    marker = tmp_path_factory.mktemp("evidence") / "pickle_ran"
    payload = pickle.dumps(Planted(marker))
    target = entries(cache_dir)[0]
    target.write_bytes(payload)
    # the old joblib.Memory layout held pickles too: they are never read
    old = cache_dir / "joblib" / "sklearn_etap" / "abc" / "output.pkl"
    old.parent.mkdir(parents=True)
    old.write_bytes(payload)

    with pytest.warns(UserWarning) as record:
        result, counter = rerun_counting(data, cache_dir, monkeypatch)

    assert not marker.exists()
    messages = [str(w.message) for w in record]
    assert any(f"cache entry {target} is invalid" in m for m in messages)
    assert any("1 training(s) stored by another version" in m for m in messages)
    assert counter.calls == 1
    assert_same_losses(result, uncached)


def edit_losses(change):
    def damage(raw):
        entry = json.loads(raw)
        entry["losses"] = change(entry["losses"])
        return json.dumps(entry).encode()

    return damage


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="half a file"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: b"\xff\xfe\x00garbage", id="not text"),
        pytest.param(lambda raw: b"[1.0, 2.0]", id="not an object"),
        pytest.param(edit_losses(lambda losses: losses + [1.5]), id="wrong shape"),
        pytest.param(edit_losses(lambda losses: [float("nan")]), id="non-finite"),
        pytest.param(edit_losses(lambda losses: ["1.0"]), id="strings"),
        pytest.param(edit_losses(lambda losses: None), id="no list"),
    ],
)
def test_a_damaged_entry_is_trained_again_with_a_warning(measured, monkeypatch, damage):
    data, cache_dir, uncached = measured
    # the single-task entry (one loss) of some task
    target = next(
        p for p in entries(cache_dir) if len(json.loads(p.read_text())["losses"]) == 1
    )
    target.write_bytes(damage(target.read_bytes()))

    with pytest.warns(UserWarning, match="is invalid .*training it again"):
        result, counter = rerun_counting(data, cache_dir, monkeypatch)
    assert counter.calls == 1
    assert_same_losses(result, uncached)

    # the retrained entry replaced the damaged one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # three epochs learn little: that warning is not the one looked for
        warnings.simplefilter("ignore", TrivialPredictorWarning)
        _, counter = rerun_counting(data, cache_dir, monkeypatch)
    assert counter.calls == 0


def test_a_right_shaped_entry_under_another_key_is_refused(measured, monkeypatch):
    data, cache_dir, uncached = measured
    single = [
        p for p in entries(cache_dir) if len(json.loads(p.read_text())["losses"]) == 1
    ]
    # a valid entry of another training, copied over this one's file
    single[1].write_bytes(single[0].read_bytes())

    with pytest.warns(UserWarning, match="claims another key"):
        result, counter = rerun_counting(data, cache_dir, monkeypatch)
    assert counter.calls == 1
    assert_same_losses(result, uncached)


def test_another_library_version_retrains_and_says_how_many(measured, monkeypatch):
    data, cache_dir, uncached = measured
    real = _cache.versions()
    monkeypatch.setattr(_cache, "versions", lambda: {**real, "sklearn_etap": "9.9"})

    with pytest.warns(UserWarning, match=rf"holds {N_TRAININGS} training\(s\) stored"):
        result, counter = rerun_counting(data, cache_dir, monkeypatch)
    assert counter.calls == N_TRAININGS
    assert_same_losses(result, uncached)


def test_a_failed_write_leaves_no_entry(tmp_path, make_gain_data, monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt("killed while renaming")

    monkeypatch.setattr(_cache.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        measure(make_gain_data(), tmp_path)
    assert list(tmp_path.rglob("*.json")) == []
    assert list(tmp_path.rglob("*.part")) == []


def encoder_v1(n_features):
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU())


def encoder_v2(n_features):
    return nn.Sequential(nn.Linear(n_features, 8), nn.Tanh())


def test_key_follows_the_code_of_user_encoders_and_heads():
    # an edited function under the same name is another training
    edited = encoder_v2
    edited.__qualname__ = edited.__name__ = "encoder_v1"
    try:
        assert estimator_key(make_extractor(encoder=encoder_v1)) != estimator_key(
            make_extractor(encoder=edited)
        )
    finally:
        edited.__qualname__ = edited.__name__ = "encoder_v2"
    assert estimator_key(make_extractor(encoder=encoder_v1)) == estimator_key(
        make_extractor(encoder=encoder_v1)
    )
    # a lambda is keyed by its code and what it closes over
    width = 3
    a = estimator_key(make_extractor(heads=lambda n: nn.Linear(n, 1)))
    b = estimator_key(make_extractor(heads=lambda n: nn.Linear(n, width)))
    assert a != b
    # the parameters measure_gains overrides are the ones the key leaves out
    base = estimator_key(make_extractor())
    for name, value in {
        "affinity": None,
        "random_state": 7,
        "verbose": True,
        "n_threads": 2,
    }.items():
        assert name in OVERRIDDEN_PARAMS
        assert estimator_key(make_extractor(**{name: value})) == base


def recursive_encoder_factory(width):
    def encoder(n_features, depth=0):
        if depth:
            return nn.Linear(n_features, width)
        return encoder(n_features, depth + 1)  # refers to itself via its closure

    return encoder


def test_key_of_a_self_referring_closure_follows_its_cells():
    key = estimator_key(make_extractor(encoder=recursive_encoder_factory(4)))
    assert key == estimator_key(make_extractor(encoder=recursive_encoder_factory(4)))
    assert key != estimator_key(make_extractor(encoder=recursive_encoder_factory(5)))


def test_a_lambda_head_caches_without_pickling(tmp_path, make_gain_data, monkeypatch):
    data = make_gain_data()
    ext = make_extractor(heads=lambda n: nn.Linear(n, 1))
    first = measure(data, tmp_path, extractor=ext)
    counter = CountingTraining()
    monkeypatch.setattr(_runner, "_fit_and_score", counter)
    again = measure(data, tmp_path, extractor=ext)
    assert counter.calls == 0
    assert_same_losses(again, first)


def source_less_encoder(scale):
    return type(  # a class made where no source file holds it
        "Encoder",
        (nn.Module,),
        {
            "__init__": lambda self, n: (
                nn.Module.__init__(self),
                setattr(self, "lin", nn.Linear(n, 4)),
            )[0],
            "forward": (lambda self, x: self.lin(x))
            if scale == 1
            else (lambda self, x: 2 * self.lin(x)),
        },
    )


def test_a_class_without_readable_source_is_keyed_by_its_code():
    # Its source cannot be read, but its compiled code can: it is keyed, not
    # refused, and an edit to its forward is another training.
    key = estimator_key(make_extractor(encoder=source_less_encoder(1)))
    assert key == estimator_key(make_extractor(encoder=source_less_encoder(1)))
    assert key != estimator_key(make_extractor(encoder=source_less_encoder(2)))


SCRIPT = """
import sys, time
import numpy as np
sys.path.insert(0, {tests!r})
from conftest import _gain_data
from sklearn_etap import TorchAffinityExtractor, TrivialPredictorWarning, measure_gains
from sklearn_etap._gains import runner

mode = sys.argv[1]
if mode == "hang":
    train, calls = runner._fit_and_score, []

    def hang_after_three(*args):
        if len(calls) == 3:
            time.sleep(600)
        calls.append(1)
        return train(*args)

    runner._fit_and_score = hang_after_three
X, Y, X_test, Y_test = _gain_data()
ext = TorchAffinityExtractor(
    hidden_layer_sizes=(8,), max_epochs=3, batch_size=16, device="cpu"
)
gains = measure_gains(ext, X, Y, {groups!r}, X_test, Y_test, random_state=0,
                      cache_dir={cache!r}, progress=False)
np.save(sys.argv[2], gains.mtl_loss_per_seed)
"""


def run_script(cache_dir, mode, out):
    tests = str(Path(__file__).resolve().parents[1])
    code = textwrap.dedent(SCRIPT).format(
        tests=tests, groups=GROUPS, cache=str(cache_dir)
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", code, mode, str(out)], env=env)


@pytest.mark.slow
def test_a_hard_kill_loses_no_finished_training(tmp_path, make_gain_data, monkeypatch):
    cache_dir = tmp_path / "cache"
    process = run_script(cache_dir, "hang", tmp_path / "never.npy")
    deadline = time.monotonic() + 120
    while len(entries(cache_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(entries(cache_dir)) == 3

    data = make_gain_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # three epochs learn little: that warning is not the one looked for
        warnings.simplefilter("ignore", TrivialPredictorWarning)
        result, counter = rerun_counting(data, cache_dir, monkeypatch)
    assert counter.calls == N_TRAININGS - 3
    assert_same_losses(result, measure(data, None))


@pytest.mark.slow
def test_two_processes_on_one_cache_agree(tmp_path, make_gain_data, monkeypatch):
    cache_dir = tmp_path / "cache"
    outs = [tmp_path / "a.npy", tmp_path / "b.npy"]
    processes = [run_script(cache_dir, "plain", out) for out in outs]
    assert [p.wait(timeout=300) for p in processes] == [0, 0]
    np.testing.assert_array_equal(np.load(outs[0]), np.load(outs[1]))
    assert len(entries(cache_dir)) == N_TRAININGS
    assert list(cache_dir.rglob("*.part")) == []

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # three epochs learn little: that warning is not the one looked for
        warnings.simplefilter("ignore", TrivialPredictorWarning)
        result, counter = rerun_counting(make_gain_data(), cache_dir, monkeypatch)
    assert counter.calls == 0
    np.testing.assert_array_equal(result.mtl_loss_per_seed, np.load(outs[0]))
