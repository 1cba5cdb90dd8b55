"""The tasks' gradients in several backward passes equal those of one pass
(up to float rounding), and the passes are sized by the saved activations."""

import warnings

import numpy as np
import pytest
import torch
from small_extractor import small
from torch import nn

from sklearn_etap._affinity import task_gradients
from sklearn_etap._affinity.task_gradients import (
    SavedActivations,
    per_task_gradients,
    tasks_per_pass,
)


def test_saved_activations_count_activations_not_weights():
    layer = nn.Linear(5, 3)
    x = torch.ones(4, 5)
    with SavedActivations(list(layer.parameters())) as saved:
        y = torch.relu(layer(x))
    # the linear layer saves its input (4 x 5 float32: 80 bytes) and its
    # weight (left out); relu saves its output (4 x 3 float32: 48 bytes)
    assert saved.bytes == 80 + 48
    y.sum().backward()  # the graph is intact
    assert layer.weight.grad is not None


@pytest.mark.parametrize(
    "n_tasks, saved_bytes, expected",
    [(40, None, 40), (40, 0, 40), (40, 84 * 2**20, 1), (40, 21 * 2**20, 6),
     (3, 1, 3), (40, 10**12, 1)],
)  # fmt: skip
def test_tasks_per_pass_keeps_the_activation_gradients_under_the_budget(
    n_tasks, saved_bytes, expected
):
    assert task_gradients.TASK_PASS_BYTES == 128 * 2**20
    assert tasks_per_pass(n_tasks, saved_bytes) == expected


MB = 2**20


@pytest.mark.parametrize(
    "workload, n_tasks, saved_bytes, parameter_bytes, device, expected",
    [
        # benchmarks/results/cnn_recording.json, pass_sizes: a plain pass per
        # task is the cheapest on the CNN, one vectorized pass on the MLPs
        ("CNN 32x32, batch 128", 20, 22_102_000, 4 * 78_692, "cpu", 1),
        ("CNN 32x32, batch 128", 40, 22_125_440, 4 * 79_992, "cpu", 1),
        ("MLP (512, 512), batch 256", 10, 1_147_552, 4 * 301_066, "cpu", 10),
        ("MLP (32, 16), batch 64", 10, 37_152, 4 * 2_778, "cpu", 10),
        ("MLP (2048, 2048), batch 256", 10, 4_293_280, 4 * 4_349_962, "cpu", 10),
        # activations large enough but not outweighing the weights
        ("weights dominate", 40, 3 * MB, 2 * MB, "cpu", 40),
        # only measured on the CPU: a GPU keeps the vectorized passes, capped
        ("CNN on a GPU", 40, 21 * MB, 4 * 78_692, "cuda", 6),
        ("parameters unknown", 40, 21 * MB, None, "cpu", 6),
    ],
)
def test_tasks_per_pass_loops_over_tasks_where_activations_dominate_on_the_cpu(
    workload, n_tasks, saved_bytes, parameter_bytes, device, expected
):
    assert task_gradients.LOOP_SAVED_BYTES == 2 * MB
    assert task_gradients.LOOP_SAVED_PER_PARAMETER_BYTE == 2
    got = tasks_per_pass(n_tasks, saved_bytes, parameter_bytes, device)
    assert got == expected, workload


def test_one_task_a_pass_is_a_plain_backward_pass_per_task(monkeypatch):
    calls = []
    original = torch.autograd.grad

    def spy(*args, **kwargs):
        calls.append(kwargs.get("is_grads_batched", False))
        return original(*args, **kwargs)

    losses, params = conv_losses()
    monkeypatch.setattr(torch.autograd, "grad", spy)
    grads = per_task_gradients(losses, params, tasks_per_pass=1)
    assert calls == [False] * 5
    assert [g.shape for g in grads] == [(5, *p.shape) for p in params]


def conv_losses(n_tasks=5, seed=0):
    torch.manual_seed(seed)
    encoder = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )  # fmt: skip
    head = nn.Linear(4, n_tasks)
    x, y = torch.randn(8, 2, 6, 6), torch.randn(8, n_tasks)
    losses = ((head(encoder(x)) - y) ** 2).mean(dim=0)
    return losses, list(encoder.parameters()) + list(head.parameters())


@pytest.mark.parametrize("per_pass", [1, 2, 4])
def test_passes_of_a_few_tasks_give_the_gradients_of_one_pass(per_pass):
    losses, params = conv_losses()
    one = per_task_gradients(losses, params, retain_graph=True)
    split = per_task_gradients(losses, params, tasks_per_pass=per_pass)
    for a, b in zip(one, split):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b)
    # against one ordinary backward pass per task
    for task in (0, 4):
        losses, params = conv_losses()
        reference = torch.autograd.grad(losses[task], params)
        for grads, ref in zip(split, reference):
            torch.testing.assert_close(grads[task], ref)


def test_a_fit_recording_in_passes_of_one_task_trains_the_same_model(monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(96, 5))
    Y = np.c_[X[:, 0], X[:, 1] > 0, X[:, 0] - X[:, 2]]
    per_pass = []
    original = task_gradients.per_task_gradients

    def spy(losses, params, **kwargs):
        per_pass.append(kwargs.get("tasks_per_pass"))
        return original(losses, params, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_pass = small(affinity_every=1).fit(X, Y)
        monkeypatch.setattr(task_gradients, "TASK_PASS_BYTES", 1)
        monkeypatch.setattr(task_gradients, "per_task_gradients", spy)
        split = small(affinity_every=1).fit(X, Y)
    assert per_pass and set(per_pass) == {1}
    # equal up to float32 rounding: a batched matrix product sums in
    # another order for another number of tasks
    np.testing.assert_allclose(split.affinity_, one_pass.affinity_, rtol=1e-5)
    for p, q in zip(split.module_.parameters(), one_pass.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_the_graph_walk_counts_what_the_forward_pass_saved(model):
    """A user's loop builds the graph before the recorder sees it: walking
    the graph must count the bytes SavedActivations counts during the pass."""
    torch.manual_seed(0)
    if model == "mlp":
        net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
        x = torch.randn(10, 6)
    else:
        net = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3),
        )  # fmt: skip
        x = torch.randn(8, 2, 6, 6)
    params = list(net.parameters())
    with SavedActivations(params) as saved:
        losses = (net(x) ** 2).mean(dim=0)
    assert saved.bytes > 0
    assert task_gradients.graph_saved_bytes(losses, params) == saved.bytes
    losses.sum().backward()  # reading the saved tensors left the graph intact


def test_the_own_loop_recorder_splits_passes_as_the_training_loop_does(monkeypatch):
    """Where the saved activations dominate (the rule's thresholds lowered to
    this small conv model), the recorder takes one plain backward pass per
    task, and its affinity equals one vectorized pass's."""
    from sklearn_etap import AffinityRecorder

    def run(loop_threshold):
        monkeypatch.setattr(task_gradients, "LOOP_SAVED_BYTES", loop_threshold)
        torch.manual_seed(0)
        encoder = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        head = nn.Linear(4, 3)
        opt = torch.optim.SGD([*encoder.parameters(), *head.parameters()], lr=0.05)
        rec = AffinityRecorder(encoder.parameters(), 3, every=1)
        calls = []
        original = torch.autograd.grad

        def spy(*args, **kwargs):
            calls.append(kwargs.get("is_grads_batched", False))
            return original(*args, **kwargs)

        monkeypatch.setattr(torch.autograd, "grad", spy)
        for _ in range(3):
            x, y = torch.randn(16, 2, 6, 6), torch.randn(16, 3)
            losses = ((head(encoder(x)) - y) ** 2).mean(dim=0)
            rec.record(losses, opt)
            opt.zero_grad()
            losses.sum().backward()
            opt.step()
        monkeypatch.setattr(torch.autograd, "grad", original)
        return rec.affinity_, calls

    looped, loop_calls = run(loop_threshold=1)
    batched, batch_calls = run(loop_threshold=2**40)
    assert loop_calls == [False] * 9  # 3 steps x 3 tasks, plain passes
    assert batch_calls == [True] * 3  # one vectorized pass a step
    np.testing.assert_allclose(looped, batched, rtol=1e-5, atol=1e-7)


def test_one_pass_per_task_hands_memory_back_every_budget_of_activations(monkeypatch):
    """One plain pass per task frees each pass's activation gradients; the heap
    is trimmed whenever TASK_PASS_BYTES of them have passed, and at the end
    (a missing trim let glibc keep 1.5 GB on the CNN at 64x64)."""
    released = []
    monkeypatch.setattr(
        task_gradients, "release_freed_memory", lambda: released.append(1)
    )
    losses, params = conv_losses(n_tasks=5)
    half = task_gradients.TASK_PASS_BYTES // 2
    per_task_gradients(losses, params, tasks_per_pass=1, saved_bytes=half)
    assert len(released) == 3  # after tasks 2 and 4, then at the end
    released.clear()
    losses, params = conv_losses(n_tasks=5)
    per_task_gradients(losses, params, tasks_per_pass=1, saved_bytes=2 * half)
    assert len(released) == 5  # a budget's worth every task
