"""Torch's random state around a training: seeding a fit, replaying a step.

The training loop owns both: :func:`seeded_torch` around the whole fit, and
the state before each step's forward pass, which :func:`replaying_randomness`
replays for callbacks that repeat that pass (TAG's lookaheads, the control
variate's shifted pass) without taking anything from the training's stream.
"""

from contextlib import contextmanager

import torch


@contextmanager
def seeded_torch(seed, device):
    """Torch's global RNG seeded for a fit on ``device`` and restored after it."""
    devices = []
    if device.type == "cuda":
        devices = [
            torch.cuda.current_device() if device.index is None else device.index
        ]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def get_rng_state(device):
    """Torch's random state on the CPU and, for a CUDA ``device``, on that device."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@contextmanager
def replaying_randomness(before_forward, device):
    """Extra forward passes of a step, drawing what the step's own pass drew.

    ``replay()`` (yielded) resets torch's random state to ``before_forward``
    (the state before the step's forward pass: the same dropout masks); on
    exit, even on an error, the state at entry (after that pass) is
    restored, so the extra passes take nothing from the training's stream.
    """
    after_forward = get_rng_state(device)

    def replay():
        set_rng_state(before_forward, device)

    try:
        yield replay
    finally:
        set_rng_state(after_forward, device)
