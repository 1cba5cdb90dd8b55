"""The CNN workload of issue 25, shared by ``bench_cnn.py`` and ``gpu_check.py``.

The model is ``examples/shapes_cnn.py``'s ``ShapesResNet`` (what users copy is
what is timed); the data come from :func:`sklearn_etap.datasets.make_shapes`.
The reference is :func:`plain_fit`: a hand-written PyTorch loop over the same
model (the encoder and one linear head per task, stored as one
``nn.Linear``), the same data, batch size and optimizer (SGD, lr 0.01,
momentum 0.9: the extractor's defaults), the same loss (the sum over tasks of
each task's mean binary cross-entropy) and a fresh random order every epoch.
"""

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this checkout's package, not whichever copy is installed
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from shapes_cnn import ShapesResNet  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_etap import TorchAffinityExtractor  # noqa: E402

BATCH_SIZE = 128
LEARNING_RATE = 0.01
MOMENTUM = 0.9


def extractor(device, *, max_epochs, seed=0, **params):
    """The extractor on the workload: ``ShapesResNet`` encoder, default heads."""
    settings = dict(
        encoder=ShapesResNet,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        momentum=MOMENTUM,
        max_epochs=max_epochs,
        device=device,
        n_threads=None,  # the caller sets torch's threads once
        random_state=seed,
    )
    return TorchAffinityExtractor(**{**settings, **params})


def plain_fit(X, Y, device, *, max_epochs, seed=0):
    """Train the same model with a hand-written loop; return it.

    Like ``fit``, it starts from the (memory-mapped) arrays: the rows are
    copied into one tensor on ``device`` and batches are taken from it.
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    encoder = ShapesResNet(X.shape[1])
    head = nn.Linear(encoder.n_representation, Y.shape[1])
    model = nn.Sequential(encoder, head).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    inputs = torch.tensor(np.asarray(X), dtype=torch.float32, device=device)
    targets = torch.tensor(np.asarray(Y), dtype=torch.float32, device=device)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(max_epochs):
        order = torch.randperm(len(inputs), generator=generator).to(device)
        for start in range(0, len(inputs), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            logits = model(inputs[rows])
            loss = F.binary_cross_entropy_with_logits(
                logits, targets[rows], reduction="none"
            )
            optimizer.zero_grad(set_to_none=True)
            loss.mean(dim=0).sum().backward()
            optimizer.step()
    return model


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(run, device):
    """``run()``'s wall and process CPU seconds, with the load average around it."""
    load_before = os.getloadavg()[0]
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    synchronize(device)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def machine():
    """What the figures were measured on."""
    import platform

    return {
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "load_average_1_5_15": list(os.getloadavg()),
        "shared": "2 cores shared by 6 helper sessions working at once",
    }
