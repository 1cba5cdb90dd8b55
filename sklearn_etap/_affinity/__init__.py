"""Stage 1 of the pipeline: one multi-task training run that records task affinity.

``extractor`` (the public estimator), ``modules`` (the built-in MLP and the user's
encoder), ``training`` (the one training loop), ``recording`` (ETAP and TAG scores).
"""

from .extractor import TorchAffinityExtractor

__all__ = ["TorchAffinityExtractor"]
