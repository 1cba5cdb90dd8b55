import os

# Two cores on the CI machines: keep torch from oversubscribing them when
# pytest or joblib runs several things at once.
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch
except ImportError:  # pragma: no cover - torch is a hard dependency
    torch = None
else:
    torch.set_num_threads(1)
