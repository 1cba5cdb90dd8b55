"""A loss per task: multiclass and custom tasks against hand computations."""

import copy
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from small_extractor import small
from torch import nn

from sklearn_etap._affinity.task_types import TaskLoss, TaskSpec, resolve_tasks
from sklearn_etap._affinity.training import masked_task_losses
from sklearn_etap._gains.trivial import trivial_losses
from sklearn_etap.callbacks import TrainingCallback


def absolute_error(output, target):
    return (output - target).abs()


def make_data(n=96, seed=0):
    """A regression, a 3-class and a custom (absolute error) task, with gaps."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    classes = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    Y = np.c_[X[:, 0] - X[:, 2], classes, X[:, 3]]
    Y[rng.rand(n) < 0.2, 1] = np.nan
    Y[rng.rand(n) < 0.2, 2] = np.nan
    return X, Y


TASK_TYPES = ["regression", ("multiclass", 3), absolute_error]


def test_masked_losses_equal_the_torch_losses_on_the_present_rows():
    torch.manual_seed(0)
    outputs = torch.randn(10, 5)  # regression, 3 logits, custom
    labels = torch.tensor([0, 2, 1, 1, 0, 2, 2, 0, 1, 0], dtype=torch.float32)
    Y = torch.stack([torch.randn(10), labels, torch.randn(10)], dim=1)
    present = torch.ones_like(Y)
    present[[1, 4], 1] = 0
    present[[0, 2, 3], 2] = 0
    targets = torch.where(present > 0, Y, torch.zeros_like(Y))
    specs = [TaskSpec("regression"), TaskSpec("multiclass", 3)]
    specs.append(TaskSpec("custom", 1, absolute_error))
    losses, has_label = masked_task_losses(
        outputs, targets, present, TaskLoss(specs, torch.device("cpu"))
    )
    rows = present[:, 1] > 0
    expected = [
        F.mse_loss(outputs[:, 0], Y[:, 0]),
        F.cross_entropy(outputs[rows, 1:4], Y[rows, 1].long()),
        (outputs[:, 4] - Y[:, 2]).abs()[present[:, 2] > 0].mean(),
    ]
    torch.testing.assert_close(losses, torch.stack(expected))
    assert has_label.all()


class FirstStep(TrainingCallback):
    """Keeps the model and the batch of step 0, before the optimizer moves."""

    def on_grads_computed(self, loop, step):
        if step.index == 0:
            self.module = copy.deepcopy(step.module)
            self.X = step.batch.X.clone()
            self.targets = step.batch.targets.clone()
            self.present = step.batch.present.clone()


def test_one_step_affinity_equals_the_hand_formula():
    X, Y = make_data(n=48)
    lr = 0.05
    ext = small(
        task_types=TASK_TYPES,
        batch_size=48,  # one step: the whole data set
        max_epochs=1,
        affinity_every=1,
        learning_rate=lr,
        callbacks=[FirstStep()],
    ).fit(X, Y)
    seen = ext.callbacks_[0]
    module = seen.module
    outputs, _ = module(seen.X)
    present = seen.present
    # each task's mean loss over its labels, written out by hand
    y = seen.targets  # the batch's labels, in its (shuffled) order
    rows = [present[:, t] > 0 for t in range(3)]
    losses = [
        ((outputs[rows[0], 0] - y[rows[0], 0]) ** 2).mean(),
        F.cross_entropy(outputs[rows[1], 1:4], y[rows[1], 1].long()),
        (outputs[rows[2], 4] - y[rows[2], 2]).abs().mean(),
    ]
    params = [p for p in module.encoder.parameters()]
    grads = []
    for loss in losses:
        parts = torch.autograd.grad(loss, params, retain_graph=True)
        grads.append(torch.cat([g.reshape(-1) for g in parts]))
    # first step: no momentum yet, so z[i -> j] = g_j . (lr g_i) / L_j
    expected = np.array(
        [
            [float(grads[j] @ (lr * grads[i]) / losses[j].detach()) for j in range(3)]
            for i in range(3)
        ]
    )
    np.testing.assert_allclose(ext.affinity_, expected, rtol=1e-4, atol=1e-7)
    assert ext.task_types_.tolist() == ["regression", "multiclass", "custom"]
    assert ext.n_outputs_.tolist() == [1, 3, 1]


def test_predictions_of_each_task_type():
    X, Y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = small(task_types=TASK_TYPES).fit(X, Y)
    outputs = ext.predict_outputs(X)
    assert outputs.shape == (len(X), 5)
    predicted = ext.predict(X)
    np.testing.assert_array_equal(predicted[:, 1], outputs[:, 1:4].argmax(axis=1))
    np.testing.assert_array_equal(predicted[:, [0, 2]], outputs[:, [0, 4]])
    proba = ext.predict_proba(X)
    assert proba[0] is None and proba[2] is None
    np.testing.assert_allclose(proba[1].sum(axis=1), 1.0)
    np.testing.assert_allclose(
        proba[1], torch.softmax(torch.as_tensor(outputs[:, 1:4]), 1).numpy()
    )
    # the test loss of the multiclass task is its cross-entropy by hand
    rows = ~np.isnan(Y[:, 1])
    log_p = np.log(proba[1][rows, Y[rows, 1].astype(int)])
    np.testing.assert_allclose(ext.task_losses(X, Y)[1], -log_p.mean(), rtol=1e-6)


def test_bare_multiclass_takes_its_classes_from_the_labels():
    X, Y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = small(task_types=["regression", "multiclass", "regression"]).fit(X, Y)
    assert ext.n_outputs_.tolist() == [1, 3, 1]


def test_task_types_and_heads_are_checked_together():
    X, Y = make_data()
    with pytest.raises(ValueError, match=r"entry \('multiclass', 1\) of task 1"):
        small(task_types=["regression", ("multiclass", 1), "regression"]).fit(X, Y)
    with pytest.raises(ValueError, match="entry 'ordinal' of task 2"):
        small(task_types=["regression", "multiclass", "ordinal"]).fit(X, Y)
    with pytest.raises(ValueError, match=r"task 1 is multiclass but holds .*\[3.0\]"):
        Y_bad = Y.copy()
        Y_bad[0, 1] = 3
        small(task_types=TASK_TYPES).fit(X, Y_bad)
    heads = [nn.Linear(16, 1), nn.Linear(16, 1), nn.Linear(16, 1)]
    with pytest.raises(ValueError, match=r"head of task 1 .* shape \(batch_size, 3\)"):
        small(task_types=TASK_TYPES, heads=heads).fit(X, Y)
    heads[1] = nn.Linear(16, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert small(task_types=TASK_TYPES, heads=heads).fit(X, Y).n_outputs_[1] == 3

    def summed(output, target):
        return (output - target).sum()

    with pytest.raises(ValueError, match="loss of task 2 returned .* shape \\(\\)"):
        small(task_types=["regression", "multiclass", summed]).fit(X, Y)


def test_a_custom_task_with_two_outputs():
    def gaussian_nll(output, target):  # mean and log-variance
        return 0.5 * (output[:, 1] + (target - output[:, 0]) ** 2 / output[:, 1].exp())

    X, Y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = small(task_types=["regression", "multiclass", (gaussian_nll, 2)])
        ext.fit(X, Y)
    assert ext.n_outputs_.tolist() == [1, 3, 2]
    assert np.isfinite(ext.affinity_).all()
    with pytest.raises(ValueError, match="use predict_outputs"):
        ext.predict(X)


def test_trivial_loss_of_a_multiclass_task_is_its_class_prior():
    Y = np.array([[0.0], [1.0], [1.0], [2.0], [np.nan], [1.0]])
    Y_test = np.array([[1.0], [2.0], [0.0]])
    prior = np.array([1, 3, 1]) / 5
    expected = -np.mean(np.log(prior[[1, 2, 0]]))
    np.testing.assert_allclose(
        trivial_losses(Y, Y_test, [("multiclass", 3)]), [expected]
    )
    assert np.isnan(trivial_losses(Y, Y_test, [absolute_error])[0])


def test_resolve_tasks_reads_every_form():
    Y = np.array([[0.0, 1.0, 2.0, 0.5], [1.0, 0.0, 4.0, 0.2]])
    specs = resolve_tasks(
        ["binary", ("multiclass", 4), "multiclass", absolute_error], Y
    )
    assert [(s.kind, s.n_outputs) for s in specs] == [
        ("binary", 1),
        ("multiclass", 4),
        ("multiclass", 5),
        ("custom", 1),
    ]
