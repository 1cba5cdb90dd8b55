"""ETAP's score for every supported optimizer setting against its definition.

The definition: z[i -> j] = -g_j . (theta_after_i - theta) / L_j, where
theta_after_i are the shared weights after ``optimizer.step()`` on a deep copy
of the model and optimizer whose ``.grad`` holds task i's gradient alone. The
score is linear in the step, so this is exact; the tests ask for agreement to
float64 rounding, with one and with two parameter groups of different
learning rates and weight decays, on the optimizer's first step and after a
few steps (momentum buffers and moments built up).
"""

import copy
import inspect

import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from sklearn_etap import AffinityRecorder
from sklearn_etap._affinity.scores import etap_scores, flat, task_updates

N_TASKS = 3


def sgd(**options):
    return lambda groups: torch.optim.SGD(groups, **options)


def adam(**options):
    return lambda groups: torch.optim.Adam(groups, **options)


def adamw(**options):
    return lambda groups: torch.optim.AdamW(groups, **options)


SETTINGS = {
    "sgd": sgd(lr=0.1),
    "sgd_momentum_decay": sgd(lr=0.1, momentum=0.9, weight_decay=0.05),
    "sgd_dampening": sgd(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05),
    "sgd_nesterov": sgd(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
    "adam_l2": adam(lr=0.01, weight_decay=0.05),
    "adam_amsgrad": adam(lr=0.01, betas=(0.8, 0.9), amsgrad=True, weight_decay=0.05),
    "adamw": adamw(lr=0.01, weight_decay=0.1),
    "adamw_amsgrad": adamw(lr=0.01, weight_decay=0.1, amsgrad=True, eps=1e-3),
}
if "decoupled_weight_decay" in inspect.signature(torch.optim.Adam).parameters:
    SETTINGS["adam_decoupled"] = adam(
        lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    )


def make_model(seed=0):
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.Tanh())
    heads = nn.Linear(5, N_TASKS)
    return nn.ModuleDict({"encoder": encoder, "heads": heads}).double()


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(16, 4, generator=g, dtype=torch.float64)
    return X, torch.randn(16, N_TASKS, generator=g, dtype=torch.float64)


def task_losses(model, X, Y):
    return ((model["heads"](model["encoder"](X)) - Y) ** 2).mean(0)


def param_groups(model, name, n_groups):
    """One group, or two: the encoder's weights (decayed) and its biases with
    the heads (no decay, another learning rate, eps and momentum or betas)."""
    if n_groups == 1:
        return model.parameters()
    weights = [p for n, p in model["encoder"].named_parameters() if "weight" in n]
    biases = [p for n, p in model["encoder"].named_parameters() if "bias" in n]
    other = {"lr": 0.03, "weight_decay": 0.0, "eps": 1e-6, "betas": (0.7, 0.95)}
    if name.startswith("sgd"):
        other = {"lr": 0.03, "weight_decay": 0.0}
        if name != "sgd":
            other["momentum"] = 0.5
    return [
        {"params": weights},
        {"params": biases + [*model["heads"].parameters()], **other},
    ]


def train(model, optimizer, n_steps):
    for k in range(n_steps):
        optimizer.zero_grad()
        task_losses(model, *batch(100 + k)).sum().backward()
        optimizer.step()


def gradients(model, X, Y):
    shared = list(model["encoder"].parameters())
    losses = task_losses(model, X, Y)
    rows = [flat(torch.autograd.grad(L, shared, retain_graph=True)) for L in losses]
    return torch.stack(rows), losses.detach(), shared


def brute_force_updates(model, optimizer, G):
    """theta_after_i - theta: task i's gradient alone through optimizer.step()
    on deep copies (the heads get no gradient)."""
    n_shared = len(list(model["encoder"].parameters()))
    before = flat([p.detach() for p in model["encoder"].parameters()])
    rows = []
    for g in G:
        model_i, optimizer_i = copy.deepcopy((model, optimizer))
        shared_i = list(model_i["encoder"].parameters())
        assert len(shared_i) == n_shared
        optimizer_i.zero_grad(set_to_none=True)
        offset = 0
        for p in shared_i:
            p.grad = g[offset : offset + p.numel()].view_as(p).clone()
            offset += p.numel()
        optimizer_i.step()
        rows.append(flat([p.detach() for p in shared_i]) - before)
    return torch.stack(rows)


def build(name, n_groups, n_steps):
    model = make_model()
    optimizer = SETTINGS[name](param_groups(model, name, n_groups))
    train(model, optimizer, n_steps)
    return model, optimizer


@pytest.mark.parametrize("n_steps", [0, 3], ids=["first_step", "after_3_steps"])
@pytest.mark.parametrize("n_groups", [1, 2], ids=["1_group", "2_groups"])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_score_is_the_definition_by_optimizer_step(name, n_groups, n_steps):
    model, optimizer = build(name, n_groups, n_steps)
    G, losses, shared = gradients(model, *batch(0))
    expected_updates = brute_force_updates(model, optimizer, G)
    assert expected_updates.abs().max() > 0
    expected = -(expected_updates @ G.T) / losses[None, :]
    assert_allclose(
        task_updates(G, optimizer, shared).numpy(),
        expected_updates.numpy(),
        rtol=1e-9,
        atol=1e-14,
    )
    assert_allclose(
        etap_scores(G, losses, optimizer, shared).numpy(),
        expected.numpy(),
        rtol=1e-9,
        atol=1e-14,
    )


@pytest.mark.parametrize(
    "name", ["sgd_dampening", "sgd_nesterov", "adam_amsgrad", "adamw"]
)
def test_a_parameter_without_optimizer_state_yet(name):
    """The last encoder layer got no gradient in the first steps: its momentum
    buffer and moments start at this step, while the first layer's are three
    steps old (per-parameter step counts and dampening)."""
    model = make_model()
    optimizer = SETTINGS[name](model.parameters())
    late = list(model["encoder"][2].parameters())
    for k in range(3):
        optimizer.zero_grad()
        task_losses(model, *batch(100 + k)).sum().backward()
        for p in late:
            p.grad = None
        optimizer.step()
    assert all(p not in optimizer.state or not optimizer.state[p] for p in late)
    G, losses, shared = gradients(model, *batch(0))
    expected = brute_force_updates(model, optimizer, G)
    assert_allclose(
        task_updates(G, optimizer, shared).numpy(),
        expected.numpy(),
        rtol=1e-9,
        atol=1e-14,
    )
    assert_allclose(
        etap_scores(G, losses, optimizer, shared).numpy(),
        (-(expected @ G.T) / losses[None, :]).numpy(),
        rtol=1e-9,
        atol=1e-14,
    )


def assert_same_state(a, b):
    """Equal nested optimizer state dicts, tensors bit for bit."""
    if torch.is_tensor(a):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_state(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("name", ["sgd_dampening", "adam_amsgrad", "adamw"])
def test_recorder_scores_the_definition_and_leaves_the_optimizer_alone(name):
    """Two parameter groups: the recorder's affinity after one scored step is
    the definition's score, and the optimizer's state, the weights and
    ``.grad`` are as they were."""
    model, optimizer = build(name, 2, 3)
    optimizer.zero_grad(set_to_none=True)
    G, losses, _ = gradients(model, *batch(0))
    expected = -(brute_force_updates(model, optimizer, G) @ G.T) / losses[None, :]
    state = copy.deepcopy(optimizer.state_dict())
    weights = [p.detach().clone() for p in model.parameters()]
    rec = AffinityRecorder(model["encoder"].named_parameters(), N_TASKS, every=1)
    assert rec.record(task_losses(model, *batch(0)), optimizer)
    assert_allclose(rec.affinity_, expected.numpy(), rtol=1e-9, atol=1e-14)
    assert_same_state(optimizer.state_dict(), state)
    for p, before in zip(model.parameters(), weights):
        assert torch.equal(p.detach(), before) and p.grad is None


def test_an_unsupported_optimizer_is_refused_at_the_first_step():
    """Checked at the first call, not only at the first scored step."""
    model = make_model()
    rec = AffinityRecorder(model["encoder"].parameters(), N_TASKS, every=100)
    losses = task_losses(model, *batch(0))
    with pytest.raises(TypeError, match="NAdam"):
        rec.record(losses, torch.optim.NAdam(model.parameters()))
    heads_only = torch.optim.AdamW(model["heads"].parameters())
    with pytest.raises(ValueError, match=r"number 0 \(shape \(6, 4\)\)"):
        rec.record(losses, heads_only)
