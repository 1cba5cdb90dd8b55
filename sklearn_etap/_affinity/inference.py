"""What a trained multi-task module does: encode, predict, score per task.

The inference half of :class:`~.extractor.TorchAffinityExtractor`, kept apart from
how the module is trained. Every tensor goes to the module's device and comes back
through ``.cpu()`` before ``.numpy()``, so a CUDA-trained model predicts as a CPU one.
"""

import copy
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .checks import check_float32_range, task_columns
from .safeguards import torch_threads
from .training import BINARY, TaskData, evaluate_task_losses


class TrainedModelMixin:
    """``transform``, ``predict`` and ``task_losses`` of a fitted ``module_``.

    The host estimator sets ``module_``, ``n_tasks_``, ``task_types_`` and
    ``n_features_in_`` in ``fit`` and has an ``n_threads`` parameter.
    """

    def _module_device(self):
        return next(self.module_.parameters()).device

    def _forward(self, X, batch_size=4096):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_float32_range(X, "X")
        device = self._module_device()
        outputs, representations = [], []
        self.module_.eval()
        with torch_threads(self.n_threads), torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                xb = torch.from_numpy(
                    np.array(X[start : start + batch_size], dtype=np.float32)
                )
                out, rep = self.module_(xb.to(device))
                outputs.append(out.double().cpu())
                representations.append(rep.double().cpu())
        return torch.cat(outputs), torch.cat(representations)

    def transform(self, X):
        """The trained shared encoder's representation of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs to encode.

        Returns
        -------
        representation : ndarray of shape (n_samples, n_representation)
            The encoder's output for every sample.
        """
        return self._forward(X)[1].numpy()

    def predict(self, X):
        """Per-task predictions: values for regression tasks, P(class 1) for binary.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs to predict.

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_tasks)
            One column per task, in the order of the columns of ``Y``.
        """
        outputs = self._forward(X)[0]
        binary = torch.as_tensor(self.task_types_ == BINARY)
        return torch.where(binary, torch.sigmoid(outputs), outputs).numpy()

    def task_losses(self, X, Y):
        """Mean loss of every task of the trained model on ``(X, Y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs to score.
        Y : array-like of shape (n_samples, n_tasks) or (n_samples,)
            NaN marks a missing label.

        Returns
        -------
        losses : ndarray of shape (n_tasks,)
            MSE (in the units of ``Y``) for regression tasks, binary
            cross-entropy for binary tasks, over the labels present; NaN for
            a task with no label in ``Y``.

        Raises
        ------
        ValueError
            When a binary task's labels in ``Y`` are not all 0 or 1.

        Warns
        -----
        RuntimeWarning
            When a task has no label in ``Y`` (its loss is NaN).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_float32_range(X, "X")
        Y = task_columns(Y)
        if Y.shape != (X.shape[0], self.n_tasks_):
            raise ValueError(
                f"Y has shape {Y.shape}; expected ({X.shape[0]}, {self.n_tasks_}): "
                "one row per sample of X and one column per task the model was "
                "trained on."
            )
        _check_scored_labels(Y, self.task_types_)
        device = self._module_device()
        data = TaskData.from_numpy(X, Y, device)
        is_binary = torch.as_tensor(self.task_types_ == BINARY, device=device)
        self.module_.eval()
        with torch_threads(self.n_threads):
            return evaluate_task_losses(self.module_, data, is_binary)

    @property
    def _n_features_out(self):
        """Size of the representation (names ``get_feature_names_out``)."""
        probe = torch.zeros((1, self.n_features_in_), device=self._module_device())
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


def _check_scored_labels(Y, task_types):
    """Refuse binary labels other than 0 and 1; warn about unlabelled tasks."""
    for task, kind in enumerate(task_types):
        labels = Y[:, task][~np.isnan(Y[:, task])]
        if kind == BINARY and not np.isin(labels, (0.0, 1.0)).all():
            wrong = np.unique(labels[~np.isin(labels, (0.0, 1.0))])[:5].tolist()
            raise ValueError(
                f"task {task} is binary but Y holds the label(s) {wrong}; a "
                "binary task's labels must be 0 or 1 (NaN for missing), as in fit."
            )
    empty = np.flatnonzero(np.isnan(Y).all(axis=0)).tolist()
    if empty:
        warnings.warn(
            f"task(s) {empty} have no label in Y (all NaN), so their loss is NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
