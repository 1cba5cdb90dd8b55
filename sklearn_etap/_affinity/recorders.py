"""Which recorder a fit uses."""

from .control_variate import ControlVariateRecorder
from .recording import ETAPRecorder, TAGRecorder


def make_recorder(
    affinity, n_tasks, device, *, gradient, method, control_variate=False, every=1
):
    """The recorder for the extractor's ``affinity=`` (``None`` records nothing).

    ``control_variate``: ETAP on the shared weights, sampled (``every`` > 1),
    with a cheap shared-step score at every step (:class:`ControlVariateRecorder`).
    """
    if affinity is None:
        return None
    if affinity == "tag":
        return TAGRecorder(n_tasks, device, method=method)
    if control_variate and gradient == "parameters" and every > 1:
        return ControlVariateRecorder(n_tasks, device, method=method)
    return ETAPRecorder(n_tasks, device, gradient=gradient, method=method)
