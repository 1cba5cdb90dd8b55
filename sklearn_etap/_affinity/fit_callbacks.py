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


def builtin_callbacks(recorder, patience, validation, is_binary, *, verbose):
    """Divergence check, early stopping, progress bar and recorder, in that order.

    ``recorder``: from :func:`make_recorder`, or None; ``patience``:
    ``(n_iter_no_change, tol)`` of early stopping on ``validation`` (the
    held-out :class:`TaskData`), or None without early stopping;
    ``verbose``: show the progress bar.
    """
    callbacks = [DivergenceCheck()]
    if patience is not None:
        callbacks.append(EarlyStopping(*patience, validation, is_binary))
    if verbose:  # an int or bool, as scikit-learn's verbose
        callbacks.append(ProgressBar())
    if recorder is not None:
        callbacks.append(recorder)
    return callbacks
