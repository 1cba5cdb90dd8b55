"""Stage 1 of the pipeline: one multi-task training run that records task affinity.

``extractor`` (the public estimator) and ``inference`` (what a trained model
does); ``inputs`` (arrays, memory maps, Datasets) and ``data_sources`` (the
last two streamed a batch at a time); ``task_types`` (each task's loss:
regression, binary, multiclass, custom); ``modules`` (the built-in MLP and the
user's encoder); ``training``
(the one training loop), which calls the hooks of ``callback``'s
``TrainingCallback`` objects and takes per-task gradients through
``task_gradients``, with torch's random state in ``randomness``. Callbacks:
the recorders (``recording``: ETAP and TAG, sampled one step in k;
``control_variate``; their score in ``scores``), ``early_stopping``,
``progress`` and the divergence check of ``safeguards``; ``fit_callbacks``
chooses them from the extractor's parameters, ``fit_warnings`` says what a
finished fit should know. ``user_recorder``: the same ETAP recording in a
user's own training loop (``AffinityRecorder``).
"""

from .extractor import TorchAffinityExtractor
from .user_recorder import AffinityRecorder

__all__ = ["AffinityRecorder", "TorchAffinityExtractor"]
