"""The training loop's hooks: what callbacks see, in what order, and what they
cannot change; the user-guide example of a recorder written as a callback."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from small_extractor import small

from sklearn_etap.callbacks import TrainingCallback

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class HookLog(TrainingCallback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, loop):
        self.calls.append("train_begin")

    def on_step_begin(self, loop, step_index):
        self.calls.append(("step_begin", step_index))

    def needs_task_gradients(self, step_index):
        self.calls.append(("needs", step_index))
        return False

    def on_grads_computed(self, loop, step):
        self.calls.append(("grads", step.index, step.task_gradients is None))

    def on_step_end(self, loop, step):
        self.calls.append(("step_end", step.index))

    def on_epoch_end(self, loop, epoch, task_losses):
        self.calls.append(("epoch_end", epoch, loop.history.n_steps))

    def on_train_end(self, loop):
        self.calls.append("train_end")


def test_hooks_are_called_in_order(make_task_data):
    X, Y = make_task_data(64)  # 2 steps of 32 per epoch
    ext = small(max_epochs=2, affinity=None, callbacks=[HookLog()]).fit(X, Y)
    step = [("step_begin", 0), ("needs", 0), ("grads", 0, True), ("step_end", 0)]

    def at(k):
        return [(c[0], k, *c[2:]) for c in step]

    expected = ["train_begin", *at(0), *at(1), ("epoch_end", 0, 2)]
    expected += [*at(2), *at(3), ("epoch_end", 1, 4), "train_end"]
    assert ext.callbacks_[0].calls == expected


class GradientCheck(TrainingCallback):
    """Asks for the per-task gradients of every other step and checks them
    against one backward pass per task of a fresh forward on the same batch."""

    def __init__(self):
        self.checked = 0

    def needs_task_gradients(self, step_index):
        return step_index % 2 == 1

    def on_grads_computed(self, loop, step):
        if step.index % 2 == 0:
            return
        out, _ = step.module(step.batch.X)
        present = step.batch.present
        sq = (out - step.batch.targets) ** 2 * present
        losses = sq.sum(0) / present.sum(0).clamp(min=1)
        by_hand = torch.stack(
            [
                torch.cat(
                    [
                        g.reshape(-1)
                        for g in torch.autograd.grad(
                            losses[t], step.shared_params, retain_graph=True
                        )
                    ]
                )
                for t in range(len(losses))
            ]
        )
        assert_allclose(step.task_gradients, by_hand, rtol=1e-4, atol=1e-6)
        training = torch.cat([p.grad.reshape(-1) for p in step.shared_params])
        assert_allclose(training, step.task_gradients.sum(0), rtol=1e-4, atol=1e-6)
        self.checked += 1


def test_a_callback_gets_every_tasks_gradient_on_the_steps_it_asks_for(
    make_task_data,
):
    X, Y = make_task_data()
    Y = np.where(np.isnan(Y), Y, Y + 0.5)  # regression only: the hand loss is MSE
    ext = small(
        affinity=None, task_types="regression", callbacks=[GradientCheck()]
    ).fit(X, Y)
    assert ext.callbacks_[0].checked == ext.n_steps_ // 2 == 8


def test_callbacks_are_parameters_kept_as_given_and_cloned(make_task_data):
    X, Y = make_task_data()
    log = HookLog()
    ext = small(affinity=None, callbacks=[log])
    assert ext.get_params()["callbacks"] == [log]
    copy = clone(ext)
    assert copy.callbacks[0] is not log and isinstance(copy.callbacks[0], HookLog)
    ext.fit(X, Y)
    assert log.calls == []  # fit trains with a copy, the parameter stays as given
    assert ext.callbacks_[0] is not log and ext.callbacks_[0].calls


def test_callbacks_must_derive_from_the_base_class(make_task_data):
    X, Y = make_task_data()

    class NotACallback:
        def on_step_end(self, loop, step):
            pass

    with pytest.raises(TypeError, match="TrainingCallback"):
        small(callbacks=[NotACallback()]).fit(X, Y)


def test_stop_training_ends_after_the_epoch(make_task_data):
    X, Y = make_task_data()

    class StopAfterTwo(TrainingCallback):
        def on_epoch_end(self, loop, epoch, task_losses):
            loop.stop_training = epoch == 1

    ext = small(max_epochs=5, affinity=None, callbacks=[StopAfterTwo()]).fit(X, Y)
    assert ext.n_iter_ == len(ext.loss_curve_) == 2


def test_replay_needs_the_declaration(make_task_data):
    X, Y = make_task_data()

    class Undeclared(TrainingCallback):
        def on_grads_computed(self, loop, step):
            with step.replaying_randomness():
                pass

    with pytest.raises(RuntimeError, match="replays_forward"):
        small(callbacks=[Undeclared()]).fit(X, Y)


def test_observing_callback_leaves_the_training_bit_identical(make_task_data):
    """A callback asking for nothing changes nothing (the loop's plain path)."""
    X, Y = make_task_data()
    with_log = small(callbacks=[HookLog()]).fit(X, Y)
    without = small().fit(X, Y)
    assert_array_equal(with_log.loss_curve_, without.loss_curve_)
    assert_array_equal(with_log.affinity_, without.affinity_)


def test_user_guide_example_recorder(monkeypatch, capsys):
    """Runs examples/gradient_norms.py (the docs' example) as written."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("gradient_norms", None)
    import gradient_norms

    ext, norms = gradient_norms.main()
    recorder = ext.callbacks_[0]
    assert recorder.steps == list(range(0, ext.n_steps_, 10))
    assert norms.shape == (len(recorder.steps), ext.n_tasks_)
    assert np.isfinite(norms).all() and (norms > 0).all()
    assert "steps recorded" in capsys.readouterr().out
    # the affinity recording asked for its own steps beside the example's
    assert ext.affinity_ is not None and ext.n_recorded_steps_ > 0
