"""Runs the "In your own training loop" page's examples as written."""

import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop(name, None)
    module = __import__(name)
    return module.main()


def covers_every_task(groups, n_tasks):
    return sorted({t for g in groups for t in g}) == list(range(n_tasks))


@pytest.mark.slow
def test_plain_pytorch_example(monkeypatch, capsys):
    recorder, result = run_example("own_loop_pytorch", monkeypatch)
    # 450 training images, batch 64: 8 steps an epoch, 10 epochs, one in 5 scored
    assert (recorder.n_steps_, recorder.n_recorded_steps_) == (80, 16)
    off_diagonal = ~np.eye(5, dtype=bool)
    assert np.isfinite(recorder.affinity_[off_diagonal]).all()
    assert len(result.measured) == 6 and len(result.groups) <= 3
    assert covers_every_task(result.groups, 5)
    assert "train together" in capsys.readouterr().out


@pytest.mark.slow
def test_lightning_example(monkeypatch, capsys):
    callback, selector = run_example("own_loop_lightning", monkeypatch)
    recorder = callback.recorder_
    assert (recorder.n_steps_, recorder.n_recorded_steps_) == (80, 16)
    assert np.isfinite(callback.affinity_[~np.eye(5, dtype=bool)]).all()
    assert len(selector.groups_) <= 3 and covers_every_task(selector.groups_, 5)
    assert "train together" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["own_loop_pytorch", "own_loop_lightning"])
def test_examples_use_public_names_only(name):
    """A user's loop needs no private import and no subclass of a library class."""
    import ast

    import sklearn_etap
    import sklearn_etap.lightning

    tree = ast.parse((EXAMPLES / f"{name}.py").read_text())
    imported = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module.startswith("sklearn_etap")
    ]
    assert imported and not any("._" in module for module in imported)
    library = set(sklearn_etap.__all__) | set(sklearn_etap.lightning.__all__)
    bases = {
        base.id
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for base in node.bases
        if isinstance(base, ast.Name)
    }
    assert not bases & library
