"""The built-in callbacks an extractor's fit trains with, chosen from its parameters."""

from .control_variate import ControlVariateRecorder
from .early_stopping import EarlyStopping
from .progress import ProgressBar
from .recording import ETAPRecorder, TAGRecorder
from .safeguards import DivergenceCheck


def make_recorder(affinity, n_tasks, device, *, every, seed, control_variate):
    """The recorder callback for ``affinity=`` (``None`` records nothing).

    ``every``: one scored step per block of that many (1: every step);
    ``control_variate``: ETAP sampled with a cheap shared-step score at every
    step (:class:`ControlVariateRecorder`), which only differs from sampling
    alone when ``every`` > 1.
    """
    if affinity is None:
        return None
    if affinity == "tag":
        return TAGRecorder(n_tasks, device, every=every, seed=seed)
    if control_variate and every > 1:
        return ControlVariateRecorder(n_tasks, device, every=every, seed=seed)
    return ETAPRecorder(n_tasks, device, every=every, seed=seed)


def builtin_callbacks(params, validation, is_binary, recorder):
    """Divergence check, early stopping, progress bar and recorder, in that order.

    ``params``: the extractor (its ``early_stopping``, ``n_iter_no_change``,
    ``tol`` and ``verbose``); ``validation``: the held-out :class:`TaskData`
    for early stopping; ``recorder``: from :func:`make_recorder`, or None.
    """
    callbacks = [DivergenceCheck()]
    if params.early_stopping:
        callbacks.append(
            EarlyStopping(params.n_iter_no_change, params.tol, validation, is_binary)
        )
    if params.verbose:
        callbacks.append(ProgressBar())
    if recorder is not None:
        callbacks.append(recorder)
    return callbacks
