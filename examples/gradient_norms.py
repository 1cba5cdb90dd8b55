"""A recorder of your own: every task's gradient norm, as a training callback.

The extractor's training loop notifies callbacks; one that declares
``needs_task_gradients`` receives every task's gradient of the shared
(encoder) weights on the steps it asks for, from the same batched backward
pass that trains the model (no extra pass on a step the affinity recording
also scores).

    python examples/gradient_norms.py
"""

import numpy as np

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap.callbacks import TrainingCallback
from sklearn_etap.datasets import load_digits_tasks


class GradientNormRecorder(TrainingCallback):
    """The norm of every task's shared-weight gradient, on one step in ``every``."""

    def __init__(self, every=10):
        self.every = every

    def on_train_begin(self, loop):
        self.steps, self.norms = [], []

    def needs_task_gradients(self, step_index):
        return step_index % self.every == 0

    def on_grads_computed(self, loop, step):
        if step.index % self.every == 0:
            # (n_tasks, n_shared_weights) -> one norm per task; .cpu() because
            # the model may train on a GPU
            norms = step.task_gradients.norm(dim=1)
            self.steps.append(step.index)
            self.norms.append(norms.cpu().numpy())


def main():
    data = load_digits_tasks(n_tasks=4, max_samples=600)
    ext = TorchAffinityExtractor(
        max_epochs=10, random_state=0, callbacks=[GradientNormRecorder(every=10)]
    )
    ext.fit(data.X_train, data.Y_train)
    recorder = ext.callbacks_[0]  # the copy the fit trained with
    norms = np.array(recorder.norms)  # (n_recorded_steps, n_tasks)
    print(f"{len(recorder.steps)} steps recorded, from step 0 to {recorder.steps[-1]}")
    for task, name in enumerate(data.task_names):
        print(
            f"task {name}: gradient norm {norms[0, task]:.3f} at the first step, "
            f"{norms[-1, task]:.3f} at the last recorded one"
        )
    return ext, norms


if __name__ == "__main__":
    main()
