"""Callbacks of the extractor's training loop: write your own recorder.

:class:`TrainingCallback` is the base class of every object the training
loop of :class:`~sklearn_etap.TorchAffinityExtractor` notifies; pass
instances as ``TorchAffinityExtractor(callbacks=[...])``. A callback that
declares :meth:`~TrainingCallback.needs_task_gradients` receives every
task's gradient of the shared weights on the steps it asks for, as
:attr:`TrainingStep.task_gradients` in its ``on_grads_computed`` hook.
"""

from ._affinity.callback import TrainingCallback, TrainingStep

__all__ = ["TrainingCallback", "TrainingStep"]
