"""A hand-written training loop that trains what ``small()`` extractors train.

The same seed (drawn from ``random_state`` as the extractor draws it), the
same initial weights (the built-in MLP and linear heads, built in the same
order under that seed), the same batches (``torch.randperm`` with a generator
seeded alike) and the same masked per-task losses; used by the recorder tests
and the Lightning tests to compare with the extractor and with each other.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_etap import AffinityRecorder


def extractor_seed(random_state):
    return int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max))


def build_model(n_features, n_tasks, hidden=(32, 16), dropout=0.0):
    """The extractor's default model (ReLU MLP encoder, linear heads); with
    ``dropout``, a dropout layer after every ReLU (training then draws from
    torch's random stream)."""
    layers, n_in = [], n_features
    for n_out in hidden:
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        n_in = n_out
    return nn.Sequential(*layers), nn.Linear(n_in, n_tasks)


def task_losses(outputs, targets, present, is_binary):
    """Mean loss per task over the labels present (0 for a task without any)."""
    squared = (outputs - targets) ** 2
    logistic = F.binary_cross_entropy_with_logits(outputs, targets, reduction="none")
    elementwise = torch.where(is_binary, logistic, squared)
    counts = present.sum(0)
    return (elementwise * present).sum(0) / counts.clamp(min=1), counts > 0


def make_optimizer(name, params, lr, momentum, weight_decay):
    if name == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def train_by_hand(
    X,
    Y,
    *,
    random_state=0,
    max_epochs=4,
    batch_size=32,
    optimizer="sgd",
    learning_rate=0.01,
    momentum=0.9,
    weight_decay=0.0,
    every=20,
    dropout=0.0,
    record=True,
    backward=None,
):
    """Train as ``small(...)`` does; returns ``(encoder, heads, recorder,
    rng_state)``, the last torch's random state after training.

    ``backward(losses, recorded, encoder, heads)``, when given, replaces the
    plain ``losses.sum().backward()``.
    """
    seed = extractor_seed(random_state)
    n_samples, n_tasks = Y.shape
    present = torch.as_tensor(~np.isnan(Y), dtype=torch.float32)
    targets = torch.as_tensor(np.nan_to_num(Y), dtype=torch.float32)
    inputs = torch.tensor(X, dtype=torch.float32)
    is_binary = torch.as_tensor(
        [set(np.unique(c[~np.isnan(c)])) <= {0.0, 1.0} for c in Y.T]
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder, heads = build_model(X.shape[1], n_tasks, dropout=dropout)
        opt = make_optimizer(
            optimizer,
            [*encoder.parameters(), *heads.parameters()],
            learning_rate,
            momentum,
            weight_decay,
        )
        n_batches = -(-n_samples // batch_size)
        rec = None
        if record:
            rec = AffinityRecorder(
                encoder.parameters(),
                n_tasks,
                every=every,
                n_steps=max_epochs * n_batches,
                random_state=random_state,
            )
        generator = torch.Generator().manual_seed(seed)
        for _ in range(max_epochs):
            for batch in torch.randperm(n_samples, generator=generator).split(
                batch_size
            ):
                outputs = heads(encoder(inputs[batch]))
                losses, has_label = task_losses(
                    outputs, targets[batch], present[batch], is_binary
                )
                opt.zero_grad(set_to_none=True)
                recorded = rec is not None and rec.record(
                    losses, opt, has_label=has_label
                )
                if backward is None:
                    losses.sum().backward()
                else:
                    backward(losses, recorded, encoder, heads)
                opt.step()
        rng_after = torch.get_rng_state()
    return encoder, heads, rec, rng_after
