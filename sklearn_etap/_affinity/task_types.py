"""Every task's loss: regression, binary, multiclass or the user's own.

``task_types`` lists one entry per task:

- ``"regression"``: one output, squared error;
- ``"binary"``: one output (a logit), labels 0/1, binary cross-entropy;
- ``("multiclass", k)``: k outputs (logits), labels the class indices
  0 .. k-1 stored as floats, cross-entropy; ``"multiclass"`` alone takes
  k = the largest training label + 1;
- a callable ``loss(output, target) -> per-sample losses`` (a custom task)
  with one output, or ``(loss, n_outputs)`` with several: ``output`` is the
  task's (batch,) output column, or its (batch, n_outputs) columns, and
  ``target`` the (batch,) labels (0 where a label is missing: those samples'
  losses are discarded, so the loss must be finite there).

The model's output holds the tasks' outputs side by side, task by task
(:class:`TaskLoss` knows where each task's columns are). Every task's loss on
a batch is the mean of its per-sample losses over the labels present.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

REGRESSION = "regression"
BINARY = "binary"
MULTICLASS = "multiclass"
CUSTOM = "custom"


@dataclass(frozen=True)
class TaskSpec:
    """One task's kind (``REGRESSION``, ``BINARY``, ``MULTICLASS``, ``CUSTOM``),
    its number of outputs and, for a custom task, its loss function."""

    kind: str
    n_outputs: int = 1
    loss: object = None


def _describe(entry):
    shown = repr(entry)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _parse(entry, task):
    """The :class:`TaskSpec` of one ``task_types`` entry (k of a bare
    ``"multiclass"`` left as 0: found from the labels)."""
    if isinstance(entry, str):
        if entry in (REGRESSION, BINARY):
            return TaskSpec(entry)
        if entry == MULTICLASS:
            return TaskSpec(MULTICLASS, 0)
    elif callable(entry):
        return TaskSpec(CUSTOM, 1, entry)
    elif isinstance(entry, (tuple, list)) and len(entry) == 2:
        head, size = entry
        valid_size = isinstance(size, (int, np.integer)) and not isinstance(size, bool)
        if head == MULTICLASS and valid_size and size >= 2:
            return TaskSpec(MULTICLASS, int(size))
        if callable(head) and not isinstance(head, str) and valid_size and size >= 1:
            return TaskSpec(CUSTOM, int(size), head)
    raise ValueError(
        f"task_types entry {_describe(entry)} of task {task} is not a task type; "
        "each must be 'regression', 'binary', 'multiclass', ('multiclass', k) "
        "with k >= 2 classes, a loss function loss(output, target) returning "
        "per-sample losses, or (loss, n_outputs)."
    )


def resolve_tasks(task_types, Y):
    """The :class:`TaskSpec` of every column of ``Y`` (labels, NaN = missing).

    ``"auto"``: a column whose labels are all 0 or 1 is binary, any other
    regression. Labels are checked against their task's type.
    """
    n_tasks = Y.shape[1]
    if isinstance(task_types, str):
        if task_types == "auto":
            specs = [TaskSpec(BINARY if _is_01(col) else REGRESSION) for col in Y.T]
        else:
            specs = [_parse(task_types, task) for task in range(n_tasks)]
    else:
        entries = list(task_types)
        if len(entries) != n_tasks:
            raise ValueError(
                f"task_types lists {len(entries)} types but Y has {n_tasks} task "
                "columns; give one type per column, or 'auto'."
            )
        specs = [_parse(entry, task) for task, entry in enumerate(entries)]
    return [_checked(spec, Y[:, task], task) for task, spec in enumerate(specs)]


def _is_01(column):
    return bool(np.isin(column[~np.isnan(column)], (0.0, 1.0)).all())


def _checked(spec, column, task):
    labels = column[~np.isnan(column)]
    if spec.kind == BINARY and not _is_01(column):
        raise ValueError(
            f"task {task} is binary but its labels are not all 0 or 1; "
            "encode them as 0/1 or declare the task 'regression'."
        )
    if spec.kind == MULTICLASS:
        check_class_labels(labels, spec.n_outputs, task)
        k = spec.n_outputs
        if not k:  # a bare "multiclass": the classes the training labels show
            k = int(labels.max()) + 1 if labels.size else 0
        if k < 2:
            raise ValueError(
                f"task {task} is multiclass but its labels hold a single class; "
                "give ('multiclass', k) with k >= 2 or drop the task."
            )
        return TaskSpec(MULTICLASS, k)
    return spec


def check_class_labels(labels, n_classes, task):
    """Refuse multiclass labels that are not class indices 0 .. n_classes - 1."""
    wrong = (labels != np.round(labels)) | (labels < 0)
    if n_classes:
        wrong |= labels >= n_classes
    if wrong.any():
        shown = np.unique(labels[wrong])[:5].tolist()
        limit = f"0 .. {n_classes - 1}" if n_classes else "0, 1, 2, ..."
        raise ValueError(
            f"task {task} is multiclass but holds the label(s) {shown}; its labels "
            f"must be class indices {limit} (NaN for missing). Encode the classes "
            "as integers, e.g. with sklearn.preprocessing.LabelEncoder."
        )


def check_scored_labels(Y, specs):
    """Refuse labels a trained model cannot score (as ``fit`` would)."""
    for task, spec in enumerate(specs):
        labels = Y[:, task][~np.isnan(Y[:, task])]
        if spec.kind == BINARY and not np.isin(labels, (0.0, 1.0)).all():
            wrong = np.unique(labels[~np.isin(labels, (0.0, 1.0))])[:5].tolist()
            raise ValueError(
                f"task {task} is binary but Y holds the label(s) {wrong}; a "
                "binary task's labels must be 0 or 1 (NaN for missing), as in fit."
            )
        if spec.kind == MULTICLASS:
            check_class_labels(labels, spec.n_outputs, task)


class TaskLoss:
    """Per-sample losses, and predictions, of every task from the model's outputs.

    Parameters
    ----------
    specs : list of TaskSpec
    device : torch.device
        Where the loss's own tensors live (the model's device).
    """

    def __init__(self, specs, device):
        self.specs = list(specs)
        self.n_tasks = len(self.specs)
        widths = [spec.n_outputs for spec in self.specs]
        self.offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.n_outputs = int(self.offsets[-1])
        kinds = [spec.kind for spec in self.specs]
        self.kinds = np.asarray(kinds, dtype=str)
        # all tasks one output each, scored by the two built-in formulas
        self.scalar = all(k in (REGRESSION, BINARY) for k in kinds)
        self.is_binary = torch.as_tensor(self.kinds == BINARY, device=device)
        self._scalar_tasks = [
            t for t, k in enumerate(kinds) if k in (REGRESSION, BINARY)
        ]
        self._scalar_columns = torch.as_tensor(
            self.offsets[self._scalar_tasks], dtype=torch.long, device=device
        )
        self._scalar_binary = self.is_binary[self._scalar_tasks]

    def columns(self, outputs, task):
        """Task ``task``'s output columns: (batch,) for one output, else (batch, k)."""
        start, stop = self.offsets[task], self.offsets[task + 1]
        return outputs[:, start] if stop - start == 1 else outputs[:, start:stop]

    def elementwise(self, outputs, targets):
        """(batch, n_tasks) per-sample losses; ``targets`` has 0 where missing."""
        if self.scalar:
            return elementwise_losses(outputs, targets, self.is_binary)
        columns = [None] * self.n_tasks
        if self._scalar_tasks:
            scalar = elementwise_losses(
                outputs[:, self._scalar_columns],
                targets[:, self._scalar_tasks],
                self._scalar_binary,
            )
            for position, task in enumerate(self._scalar_tasks):
                columns[task] = scalar[:, position]
        for task, spec in enumerate(self.specs):
            if spec.kind == MULTICLASS:
                columns[task] = F.cross_entropy(
                    self.columns(outputs, task),
                    targets[:, task].long(),
                    reduction="none",
                )
            elif spec.kind == CUSTOM:
                columns[task] = self._custom(spec, outputs, targets, task)
        return torch.stack(columns, dim=1)

    def _custom(self, spec, outputs, targets, task):
        values = spec.loss(self.columns(outputs, task), targets[:, task])
        if not isinstance(values, torch.Tensor) or values.shape != targets[:, 0].shape:
            shape = tuple(values.shape) if isinstance(values, torch.Tensor) else None
            raise ValueError(
                f"the loss of task {task} returned {type(values).__name__} of shape "
                f"{shape} for a batch of {targets.shape[0]} samples; a task's loss "
                "must return one loss per sample, a tensor of shape (batch_size,) "
                "(e.g. reduction='none')."
            )
        return values.to(outputs.dtype)

    def predict(self, outputs):
        """(n, n_tasks) predictions: a regression or custom task's output,
        P(class 1) of a binary task, the most probable class of a multiclass one."""
        columns = []
        for task, spec in enumerate(self.specs):
            out = self.columns(outputs, task)
            if spec.kind == BINARY:
                out = torch.sigmoid(out)
            elif spec.kind == MULTICLASS:
                out = out.argmax(dim=1).to(outputs.dtype)
            elif out.ndim == 2:
                raise ValueError(
                    f"task {task} has {spec.n_outputs} outputs and its own loss, so "
                    "predict has no one value for it; use predict_outputs."
                )
            columns.append(out)
        return torch.stack(columns, dim=1)

    def probabilities(self, outputs, task):
        """Class probabilities of a binary (n, 2) or multiclass (n, k) task,
        else None."""
        spec = self.specs[task]
        out = self.columns(outputs, task)
        if spec.kind == BINARY:
            p = torch.sigmoid(out)
            return torch.stack([1 - p, p], dim=1)
        if spec.kind == MULTICLASS:
            return torch.softmax(out, dim=1)
        return None


def elementwise_losses(outputs, targets, is_binary):
    """BCE with logits in the binary columns, squared error in the others.

    Written as masked sums rather than ``torch.where``: in the batched
    (vmapped) backward pass of affinity recording, ``where`` and ``softplus``
    have no batching rule and fall back to a slower loop over tasks. Each
    column only ever sees its own loss, so no 0 * inf arises from the other
    formula.
    """
    binary = is_binary.to(outputs.dtype)
    logits = outputs * binary
    cross_entropy = F.binary_cross_entropy_with_logits(
        logits, targets, reduction="none"
    )
    return binary * cross_entropy + ((outputs - targets) * (1 - binary)) ** 2
