"""Research recorders the benchmarks pass to the extractor as callbacks.

Helper of ``record_affinities.py`` and ``bench_affinity_overhead.py`` (not a
script). These variants were extractor switches before issue 24; the
benchmarks still measure them, so they live here:

- :class:`RepresentationScoreRecorder`: ``affinity_gradient="representation"``
  as it was, ``z = eta g_i . g_j / L_j`` with ``g`` the gradients of the task
  losses with respect to the encoder's output on the batch. The momentum
  term, which lives in weight space, drops out (the nearest the extractor
  records to the official scripts' ``w_momentum=False``). It recomputes the
  heads on the step's representation (one small forward and backward pass)
  rather than owning the step's backward pass as the switch did, so training
  is exactly plain training.
"""

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap._affinity.recording import AffinityAccumulator
from sklearn_etap._affinity.task_gradients import flatten_tasks, per_task_gradients
from sklearn_etap._affinity.training import masked_task_losses
from sklearn_etap.callbacks import TrainingCallback


class RepresentationScoreRecorder(TrainingCallback):
    """``eta g_i . g_j / L_j`` at every step, ``g`` the representation gradients."""

    replays_forward = True  # the heads' pass gives back any random draw it takes

    def on_train_begin(self, loop):
        n_tasks = loop.data.targets.shape[1]
        self.scores = AffinityAccumulator(n_tasks, loop.data.X.device)

    def on_grads_computed(self, loop, step):
        representation = step.representation.detach().requires_grad_()
        batch = step.batch
        with step.replaying_randomness():
            outputs = step.module.heads(representation)
        losses, _ = masked_task_losses(
            outputs, batch.targets, batch.present, step.is_binary
        )
        G = flatten_tasks(per_task_gradients(losses, [representation]))
        lr = step.optimizer.param_groups[0]["lr"]
        losses = losses.detach()
        self.scores.add(lr * (G @ G.T) / losses[None, :], losses, step.has_label)

    def affinity(self):
        return self.scores.affinity()


def representation_affinity(X, Y, **params):
    """The representation score of a plain training with the extractor's ``params``."""
    params = {**params, "affinity": None, "callbacks": [RepresentationScoreRecorder()]}
    ext = TorchAffinityExtractor(**params).fit(X, Y)
    return ext.callbacks_[0].affinity(), ext
