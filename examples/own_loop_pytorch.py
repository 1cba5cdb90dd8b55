"""ETAP in your own PyTorch training loop, end to end.

1. Train your multi-task model as you always do, with an ``AffinityRecorder``
   fed each step's per-task losses before ``backward()``: ETAP's affinity.
2. Wrap the same training in a ``measure(groups)`` callable: it trains one
   model per group (and each task alone, once) and returns every member's
   gain on the test split.
3. ``search_groups`` spends a budget of measured groups and chooses the
   groups to train.

Nothing here imports from the package's private modules or subclasses its
classes.

    python examples/own_loop_pytorch.py
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from sklearn_etap import AffinityRecorder, search_groups
from sklearn_etap.datasets import load_digits_tasks

EPOCHS, BATCH_SIZE = 10, 64


def make_model(n_features, n_tasks):
    """A shared MLP encoder and one linear head (logit) per task."""
    encoder = nn.Sequential(
        nn.Linear(n_features, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU()
    )
    return encoder, nn.Linear(16, n_tasks)


def task_losses(encoder, heads, X, Y):
    """Every task's mean binary cross-entropy on the batch: shape (n_tasks,)."""
    logits = heads(encoder(X))
    return F.binary_cross_entropy_with_logits(logits, Y, reduction="none").mean(0)


def train(X, Y, *, seed=0, record_every=None):
    """The user's own training loop; records the affinity with ``record_every``."""
    torch.manual_seed(seed)
    encoder, heads = make_model(X.shape[1], Y.shape[1])
    params = [*encoder.parameters(), *heads.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    recorder = None
    if record_every is not None:
        recorder = AffinityRecorder(
            encoder.parameters(),  # the shared weights
            n_tasks=Y.shape[1],
            every=record_every,
            n_steps=EPOCHS * math.ceil(len(X) / BATCH_SIZE),
            random_state=seed,
        )
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(X)).split(BATCH_SIZE):
            losses = task_losses(encoder, heads, X[batch], Y[batch])
            optimizer.zero_grad()
            if recorder is not None:
                recorder.record(losses, optimizer)  # before backward() and step()
            losses.sum().backward()
            optimizer.step()
    return encoder, heads, recorder


def make_measure(X_train, Y_train, X_test, Y_test):
    """``measure(groups)``: member gains, (L_alone - L_group) / L_alone, on test."""
    alone = {}

    def test_losses(columns):
        encoder, heads, _ = train(X_train, Y_train[:, columns])
        with torch.no_grad():
            return task_losses(encoder, heads, X_test, Y_test[:, columns]).tolist()

    def measure(groups):
        gains = {}
        for group in groups:
            for task in group:
                if task not in alone:
                    alone[task] = test_losses([task])[0]
            together = test_losses(list(group))
            gains[group] = [
                (alone[task] - loss) / alone[task]
                for task, loss in zip(group, together)
            ]
        return gains

    return measure


def main():
    torch.set_num_threads(1)
    data = load_digits_tasks(n_tasks=5, max_samples=600)
    X_train, Y_train, X_test, Y_test = (
        torch.as_tensor(data[key]) for key in ("X_train", "Y_train", "X_test", "Y_test")
    )
    _, _, recorder = train(X_train, Y_train, record_every=5)
    print(f"recorded {recorder.n_recorded_steps_} of {recorder.n_steps_} steps")
    result = search_groups(
        make_measure(X_train, Y_train, X_test, Y_test),
        n_tasks=Y_train.shape[1],
        n_groups=3,
        n_measured=6,
        affinity=recorder.affinity_,
        random_state=0,
    )
    for group, gains, measured in zip(result.groups, result.gains, result.is_measured):
        names = ", ".join(data.task_names[t] for t in group)
        if len(group) == 1:
            print(f"train alone: {names}")
        else:
            kind = "measured" if measured else "predicted"
            mean = sum(gains) / len(gains)
            print(f"train together: {names} ({kind} mean gain {mean:+.3f})")
    return recorder, result


if __name__ == "__main__":
    main()
