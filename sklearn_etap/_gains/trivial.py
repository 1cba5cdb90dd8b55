"""The trivial predictor: the bar every trained model must clear.

A regression task's trivial prediction is its training mean, a binary task's
its training base rate, a multiclass task's the training class frequencies
(the class prior), scored on the test labels with the loss the models are
scored with (mean squared error, binary cross-entropy, cross-entropy). A
task with its own loss has no trivial predictor here (NaN: not checked). A single-task
model no better than that learned nothing, and the gains measured against it
only say how much less bad a shared model is.
"""

import numpy as np

from .._affinity.task_types import BINARY, MULTICLASS, REGRESSION, resolve_tasks

# Base rates are clipped so that a class absent from the training labels
# gives a large but finite log-loss, as a model's clipped logits would.
_EPS = 1e-7

#: What to change when a model is no better than the trivial predictor, in
#: the extractor's parameter names (the command line's options match them).
WHAT_TO_CHANGE = (
    "train longer (max_epochs), lower learning_rate, turn on early_stopping, "
    "add weight_decay, standardize X and the regression columns of Y"
)


class TrivialPredictorWarning(UserWarning):
    """Warning that a single-task model learned nothing.

    :func:`~sklearn_etap.measure_gains` gives it when a task's single-task
    model is no better on the test split than the trivial predictor (the
    training mean of a regression task, the base rate of a binary one): the
    gains measured against such a model only say how much less bad a shared
    model is, not whether training tasks together helps.
    """


def trivial_losses(Y, Y_test, task_types="auto"):
    """The test loss of the trivial predictor of every task.

    The trivial predictor is what a model that learned nothing predicts: the
    training mean of a regression task, the training base rate of a binary
    one. A trained model whose test loss is no lower learned nothing.

    Parameters
    ----------
    Y : ndarray of shape (n_samples, n_tasks)
        Training labels; NaN marks a missing label.
    Y_test : ndarray of shape (n_test_samples, n_tasks)
        Test labels; NaN marks a missing label.
    task_types : "auto", "regression", "binary" or list, default="auto"
        As the extractor's ``task_types``: ``"auto"`` makes a column of 0/1
        labels binary and any other regression; a list may hold
        ``("multiclass", k)`` and loss functions too.

    Returns
    -------
    losses : ndarray of shape (n_tasks,)
        Mean squared error of the training mean (regression), binary
        cross-entropy of the training base rate (binary) or cross-entropy of
        the class prior (multiclass) over the test labels present; NaN for a
        task without training or test labels and for a custom loss.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import trivial_losses
    >>> Y = np.array([[1.0, 0.0], [3.0, 1.0], [np.nan, 1.0], [2.0, 1.0]])
    >>> Y_test = np.array([[0.0, 1.0], [4.0, 0.0]])
    >>> trivial_losses(Y, Y_test).round(4)  # mean 2: (4 + 4) / 2; rate 0.75
    array([4.    , 0.8369])
    """
    Y = np.asarray(Y, dtype=float)
    Y_test = np.asarray(Y_test, dtype=float)
    specs = resolve_tasks(task_types, Y)
    losses = np.full(Y.shape[1], np.nan)
    for task, spec in enumerate(specs):
        train = Y[:, task][~np.isnan(Y[:, task])]
        test = Y_test[:, task][~np.isnan(Y_test[:, task])]
        if train.size == 0 or test.size == 0:
            continue
        if spec.kind == BINARY:
            rate = np.clip(train.mean(), _EPS, 1 - _EPS)
            losses[task] = -np.mean(test * np.log(rate) + (1 - test) * np.log1p(-rate))
        elif spec.kind == MULTICLASS:
            prior = np.bincount(train.astype(int), minlength=spec.n_outputs)
            prior = np.clip(prior / train.size, _EPS, None)
            classes = np.clip(test.astype(int), 0, spec.n_outputs - 1)
            losses[task] = -np.mean(np.log(prior[classes]))
        elif spec.kind == REGRESSION:
            losses[task] = np.mean((test - train.mean()) ** 2)
        # a custom loss has no known trivial predictor: NaN, not checked
    return losses


def trivial_losses_of(extractor, Y, Y_test, tasks):
    """Trivial test losses of ``tasks`` with the extractor's task types (NaN
    for the other tasks)."""
    task_types = extractor.get_params(deep=False).get("task_types", "auto")
    losses = trivial_losses(Y, Y_test, task_types)
    measured = np.zeros(Y.shape[1], dtype=bool)
    measured[list(tasks)] = True
    losses[~measured] = np.nan
    return losses
