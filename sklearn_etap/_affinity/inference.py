"""What a trained multi-task module does: encode, predict, score per task.

The inference half of :class:`~.extractor.TorchAffinityExtractor`, kept apart from
how the module is trained. Every tensor goes to the module's device and comes back
through ``.cpu()`` before ``.numpy()``, so a CUDA-trained model predicts as a CPU one.
"""

import copy
import warnings

import numpy as np
import torch
from sklearn.utils._available_if import available_if
from sklearn.utils.validation import check_is_fitted

from .checks import task_columns
from .data_sources import is_dataset
from .inputs import check_inputs, dataset_labels, scoring_source
from .safeguards import torch_threads
from .task_types import BINARY, MULTICLASS, TaskLoss, TaskSpec, check_scored_labels
from .training import evaluate_task_losses


def _has_classification_tasks(estimator):
    check_is_fitted(estimator)
    return bool(np.isin(estimator.task_types_, (BINARY, MULTICLASS)).any())


class TrainedModelMixin:
    """``transform``, ``predict``, ``predict_proba`` and ``task_losses`` of a
    fitted ``module_``.

    The host estimator sets ``module_``, ``n_tasks_``, ``task_types_`` (and
    the tasks' specifications ``_task_specs``) and ``n_features_in_`` in
    ``fit`` and has ``n_threads`` and ``num_workers`` parameters. Inputs are
    arrays, memory maps or torch Datasets, scored a batch at a time.
    """

    def _module_device(self):
        return next(self.module_.parameters()).device

    def _specs(self):
        specs = getattr(self, "_task_specs", None)
        return specs if specs is not None else [TaskSpec(k) for k in self.task_types_]

    def _task_loss(self):
        return TaskLoss(self._specs(), self._module_device())

    def _inputs(self, X):
        check_is_fitted(self)
        return X if is_dataset(X) else check_inputs(self, X, reset=False)

    def _forward(self, X, batch_size=4096):
        source = scoring_source(
            self._inputs(X), None, self._module_device(), self.num_workers
        )
        outputs, representations = [], []
        self.module_.eval()
        with torch_threads(self.n_threads), torch.no_grad():
            for batch in source.in_order(batch_size):
                out, rep = self.module_(batch.X)
                outputs.append(out.double().cpu())
                representations.append(rep.double().cpu())
        return torch.cat(outputs), torch.cat(representations)

    def transform(self, X):
        """The trained shared encoder's representation of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Inputs to encode (a Dataset's items are ``(x, y)`` pairs; ``y``
            is not used).

        Returns
        -------
        representation : ndarray of shape (n_samples, n_representation)
            The encoder's output for every sample.
        """
        return self._forward(X)[1].numpy()

    def predict(self, X):
        """Per-task predictions, one column per task.

        A regression task's column is its predicted value, a binary task's
        P(class 1), a multiclass task's most probable class (an index, as a
        float), a custom task's output (of a one-output head).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Inputs to predict.

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_tasks)
            One column per task, in the order of the columns of ``Y``.

        Raises
        ------
        ValueError
            When a custom task has several outputs (use
            :meth:`predict_outputs`).
        """
        outputs = self._forward(X)[0]
        return TaskLoss(self._specs(), outputs.device).predict(outputs).numpy()

    @available_if(_has_classification_tasks)
    def predict_proba(self, X):
        """Class probabilities of every binary and multiclass task.

        Available when the model has a binary or multiclass task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Inputs to predict.

        Returns
        -------
        probabilities : list of (ndarray or None)
            One entry per task: an array of shape (n_samples, n_classes)
            for a binary (2 columns: P(0), P(1)) or multiclass task (k
            columns), None for a regression or custom task.
        """
        outputs = self._forward(X)[0]
        loss = TaskLoss(self._specs(), outputs.device)
        probabilities = [loss.probabilities(outputs, t) for t in range(loss.n_tasks)]
        return [None if p is None else p.numpy() for p in probabilities]

    def predict_outputs(self, X):
        """The heads' raw outputs: values, logits, a custom task's outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Inputs to predict.

        Returns
        -------
        outputs : ndarray of shape (n_samples, n_outputs)
            Every task's outputs side by side, in the order of the tasks
            (``n_outputs_[t]`` columns for task ``t``).
        """
        return self._forward(X)[0].numpy()

    def task_losses(self, X, Y=None):
        """Mean loss of every task of the trained model on ``(X, Y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Inputs to score; a Dataset's items are ``(x, y)`` pairs.
        Y : array-like of shape (n_samples, n_tasks) or (n_samples,), default=None
            NaN marks a missing label. None when ``X`` is a Dataset.

        Returns
        -------
        losses : ndarray of shape (n_tasks,)
            Every task's own loss over the labels present: MSE (in the
            units of ``Y``) for regression tasks, binary cross-entropy for
            binary tasks, cross-entropy for multiclass tasks, the task's
            loss function for custom tasks; NaN for a task with no label.

        Raises
        ------
        ValueError
            When a binary task's labels are not all 0 or 1, or a multiclass
            task's are not its class indices.

        Warns
        -----
        RuntimeWarning
            When a task has no label (its loss is NaN).
        """
        X = self._inputs(X)
        if is_dataset(X):
            Y = dataset_labels(X, Y, self.num_workers, require_labels=False)
            n_samples = len(X)
        else:
            Y = task_columns(Y)
            n_samples = X.shape[0]
        if Y.shape != (n_samples, self.n_tasks_):
            raise ValueError(
                f"Y has shape {Y.shape}; expected ({n_samples}, {self.n_tasks_}): "
                "one row per sample of X and one column per task the model was "
                "trained on."
            )
        _check_scored_labels(Y, self._specs())
        device = self._module_device()
        source = scoring_source(X, Y, device, self.num_workers)
        self.module_.eval()
        with torch_threads(self.n_threads):
            return evaluate_task_losses(self.module_, source, self._task_loss())

    @property
    def _n_features_out(self):
        """Size of the representation (names ``get_feature_names_out``)."""
        shape = getattr(self, "_input_shape", None) or (self.n_features_in_,)
        probe = torch.zeros((1, *shape), device=self._module_device())
        with torch.no_grad():
            return self.module_.encoder(probe).shape[1]

    def __getstate__(self):
        state = super().__getstate__()
        module = state.get("module_")
        if module is not None and self._module_device().type != "cpu":
            state = dict(state)
            state["module_"] = copy.deepcopy(module).to("cpu")
            state["device_"] = torch.device("cpu")
        return state


def _check_scored_labels(Y, specs):
    """Refuse labels the tasks cannot score; warn about unlabelled tasks."""
    check_scored_labels(Y, specs)
    empty = np.flatnonzero(np.isnan(Y).all(axis=0)).tolist()
    if empty:
        warnings.warn(
            f"task(s) {empty} have no label in Y (all NaN), so their loss is NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
