"""The small, fast extractor most affinity tests train (imported by them)."""

from sklearn_etap import TorchAffinityExtractor


def small(**params):
    """A CPU extractor of 4 epochs, batch 32, seed 0, with ``params`` on top."""
    defaults = dict(max_epochs=4, batch_size=32, device="cpu", random_state=0)
    return TorchAffinityExtractor(**{**defaults, **params})
