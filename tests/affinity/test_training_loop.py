"""The training loop's pieces and what the extractor reports about a training."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from small_extractor import small
from torch import nn

from sklearn_etap._affinity.early_stopping import EarlyStopping
from sklearn_etap._affinity.safeguards import torch_threads


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    module = nn.Linear(1, 1, bias=False)
    stopper = EarlyStopping(n_iter_no_change=2, tol=0.1)
    decisions = []
    # scores by epoch; 0.95 is no improvement on 1.0 within tol=0.1
    for epoch, (score, weight) in enumerate([(1.0, 1.0), (0.5, 2.0), (0.45, 3.0)]):
        module.weight.data.fill_(weight)
        decisions.append(stopper.update(score, module, epoch))
    module.weight.data.fill_(4.0)
    decisions.append(stopper.update(0.7, module, 3))
    assert decisions == [False, False, False, True]
    assert stopper.best_epoch == 1 and stopper.best_score == 0.5
    stopper.restore(module)
    assert module.weight.item() == 2.0


def test_early_stopping_restore_before_any_update_changes_nothing():
    module = nn.Linear(1, 1)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    EarlyStopping(3, 0.0).restore(module)
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key])


class ThreadProbe(nn.Module):
    """An encoder that records torch's thread count at every forward pass."""

    seen = []

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 4)

    def forward(self, X):
        ThreadProbe.seen.append(torch.get_num_threads())
        return self.linear(X)


@pytest.mark.parametrize("n_threads, inside", [(1, 1), (2, 2), (None, 3)])
def test_n_threads_bounds_torch_inside_and_is_restored(
    make_task_data, n_threads, inside
):
    X, Y = make_task_data()
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        ThreadProbe.seen = []
        ext = small(encoder=ThreadProbe, n_threads=n_threads).fit(X, Y)
        assert torch.get_num_threads() == 3
        for method in (ext.predict, ext.transform):
            method(X)
            assert torch.get_num_threads() == 3
        ext.task_losses(X, Y)
        assert torch.get_num_threads() == 3
        assert ThreadProbe.seen and set(ThreadProbe.seen) == {inside}
    finally:
        torch.set_num_threads(previous)


def test_thread_setting_is_restored_when_the_block_raises():
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with pytest.raises(RuntimeError), torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)


def test_a_training_that_blows_up_warns_naming_its_tasks(make_task_data):
    X, Y = make_task_data()
    with pytest.warns(
        ConvergenceWarning,
        match=r"training loss of task 0 \([\d.]+ -> [\d.e+]+\).* blew up",
    ):
        small(optimizer="adam", learning_rate=1e3).fit(X, Y)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_sound_training_does_not_warn(make_task_data, optimizer):
    X, Y = make_task_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(optimizer=optimizer, max_epochs=10).fit(X, Y)


def test_nan_affinity_warns_naming_the_task_with_few_labels(make_task_data):
    X, Y = make_task_data(n_samples=400)
    Y[3:, 2] = np.nan  # task 2 has 3 labels
    with pytest.warns(
        UserWarning, match=r"task\(s\) \[2\] had no label in any recorded batch"
    ):
        # one recorded step in 100: a single step among 52
        ext = small(affinity_every=100).fit(X, Y)
    assert np.isnan(ext.affinity_[2]).all() and np.isnan(ext.affinity_[:, 2]).all()


def test_y_without_columns_is_named(make_task_data):
    X, _ = make_task_data()
    with pytest.raises(ValueError, match=r"Y has shape \(120, 0\): no task column"):
        small().fit(X, np.zeros((120, 0)))
