"""A cached training is reused only when nothing it depends on changed.

Each test is a change the gain cache once missed (it returned the old gains):
the key now describes what can be observed of a parameter (weights, plain
attributes, compiled code, the helpers and globals that code reads), so each
change is another key; what cannot be observed is refused by name.
"""

import functools
import importlib
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_etap import TorchAffinityExtractor, measure_gains
from sklearn_etap._gains import runner as _runner
from sklearn_etap._gains.cache import estimator_key

TRAIN_ONE_MODEL = _runner._fit_and_score


def make_extractor(**params):
    settings = {"hidden_layer_sizes": (8,), "max_epochs": 3, "batch_size": 16}
    return TorchAffinityExtractor(device="cpu", **{**settings, **params})


def key(**params):
    return estimator_key(make_extractor(**params))


class ScaledEncoder(nn.Module):
    def __init__(self, n_features, scale=1.0):
        super().__init__()
        self.linear = nn.Linear(n_features, 8)
        self.scale = scale  # a plain attribute, not in the state dict

    def forward(self, x):
        return self.scale * torch.relu(self.linear(x))


def scaled_encoder(scale, n_features=5):  # the gain data have 5 features
    torch.manual_seed(0)  # the same weights every time
    return ScaledEncoder(n_features, scale=scale)


def test_a_module_attribute_read_in_forward_is_in_the_key():
    assert key(encoder=scaled_encoder(1.0)) == key(encoder=scaled_encoder(1.0))
    assert key(encoder=scaled_encoder(1.0)) != key(encoder=scaled_encoder(3.0))


def test_a_module_attribute_change_retrains(tmp_path, make_gain_data, monkeypatch):
    X, Y, X_test, Y_test = make_gain_data()

    def run(scale):
        return measure_gains(
            make_extractor(encoder=scaled_encoder(scale)),
            X,
            Y,
            [(0, 1)],
            X_test,
            Y_test,
            random_state=0,
            cache_dir=tmp_path,
            progress=False,
        )

    run(1.0)
    calls = []
    monkeypatch.setattr(
        _runner, "_fit_and_score", lambda *a: calls.append(1) or TRAIN_ONE_MODEL(*a)
    )
    cached = run(3.0)
    assert len(calls) == 3  # both single-task models and the group: all new
    monkeypatch.setattr(_runner, "_fit_and_score", TRAIN_ONE_MODEL)
    uncached = measure_gains(
        make_extractor(encoder=scaled_encoder(3.0)),
        X,
        Y,
        [(0, 1)],
        X_test,
        Y_test,
        random_state=0,
        progress=False,
    )
    np.testing.assert_array_equal(cached.mtl_loss_per_seed, uncached.mtl_loss_per_seed)


WIDTH = 8


def global_width_encoder(n_features):
    return nn.Sequential(nn.Linear(n_features, WIDTH), nn.ReLU())


def test_a_module_global_read_by_a_factory_is_in_the_key(monkeypatch):
    before = key(encoder=global_width_encoder)
    assert key(encoder=global_width_encoder) == before
    monkeypatch.setitem(globals(), "WIDTH", 32)
    assert key(encoder=global_width_encoder) != before


HELPER_MODULE = """
from torch import nn


def activation():
    return nn.{activation}()


def encoder(n_features):
    return nn.Sequential(nn.Linear(n_features, 8), activation())
"""


def test_an_edited_helper_function_body_is_in_the_key(tmp_path, monkeypatch):
    path = tmp_path / "user_factories_for_keys.py"
    # The edits keep the file's size and may keep its modification second, so
    # a cached .pyc would be reloaded as fresh: write none, keep none.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def edit(activation):
        path.write_text(HELPER_MODULE.format(activation=activation))
        shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)

    edit("ReLU")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_factories_for_keys")
    try:
        before = key(encoder=module.encoder)
        # only the helper's body changes; the factory's source is the same
        edit("Tanh")
        module = importlib.reload(module)
        assert key(encoder=module.encoder) != before
        edit("ReLU")
        module = importlib.reload(module)
        assert key(encoder=module.encoder) == before
    finally:
        sys.modules.pop("user_factories_for_keys", None)


def test_two_lambdas_on_one_line_have_different_keys():
    plain, squashed = [lambda r: nn.Linear(r, 1), lambda r: nn.Sequential(nn.Linear(r, 1), nn.Tanh())]  # fmt: skip # noqa: E501
    assert key(heads=plain) != key(heads=squashed)
    assert key(heads=plain) == key(heads=plain)


INTERACTIVE = """
import torch
from torch import nn
from sklearn_etap import TorchAffinityExtractor
from sklearn_etap._gains.cache import estimator_key


class Encoder(nn.Module):  # typed at the prompt: no source file
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 8)

    def forward(self, x):
        return {factor} * self.linear(x)


torch.manual_seed(0)
ext = TorchAffinityExtractor(encoder=Encoder(), hidden_layer_sizes=(8,), device="cpu")
print(estimator_key(ext))
"""


@pytest.mark.slow
def test_an_interactive_class_changed_between_processes_changes_the_key():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(INTERACTIVE.format(factor=f))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for f in (2, 3, 2)
    ]
    keys = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        keys.append(out.strip())
    # the same class in two processes: one key (the cache is reused) ...
    assert keys[0] == keys[2]
    # ... an edited one: another key (it is trained again)
    assert keys[0] != keys[1]


def encoder_with(n_features, handle=None):
    return nn.Linear(n_features, 8)


class OpaqueHandle:
    """Like a C handle: no __dict__, no pickle (clone copies it as is)."""

    __slots__ = ()

    def __deepcopy__(self, memo):
        return self

    def __reduce_ex__(self, protocol):
        raise TypeError("cannot pickle an OpaqueHandle")


def test_a_value_the_key_cannot_observe_is_refused_by_name(tmp_path, make_gain_data):
    X, Y, X_test, Y_test = make_gain_data()
    unobservable = functools.partial(encoder_with, handle=OpaqueHandle())
    with pytest.raises(
        ValueError, match=r"encoder=.*cannot be pickled.*cache_dir=None"
    ):
        measure_gains(
            make_extractor(encoder=unobservable),
            X,
            Y,
            [(0, 1)],
            X_test,
            Y_test,
            random_state=0,
            cache_dir=tmp_path,
            progress=False,
        )


class SlottedWidth:
    __slots__ = ("width",)

    def __init__(self, width):
        self.width = width


def encoder_of(n_features, config):
    return nn.Linear(n_features, config.width)


def test_objects_with_slots_are_keyed_by_their_slot_values():
    def with_width(width):
        return key(encoder=functools.partial(encoder_of, config=SlottedWidth(width)))

    assert with_width(8) == with_width(8)
    assert with_width(8) != with_width(16)
