"""What a finished measurement warns about: gains that are undefined, and
single-task models no better than the trivial predictor."""

import warnings

import numpy as np

from .trivial import WHAT_TO_CHANGE, TrivialPredictorWarning


def warn_about_result(gains, stacklevel=5):
    """Every warning the measured ``gains`` deserve (``stacklevel`` 5: the
    caller of :func:`measure_gains`, through its parameter validation)."""
    _warn_undefined_gains(gains, stacklevel)
    _warn_stl_not_learned(gains, stacklevel)


def _warn_undefined_gains(gains, stacklevel):
    undefined = ~np.isfinite(gains.y_per_seed)
    if undefined.any():
        tasks = sorted(set(gains.row_task[undefined.any(axis=1)].tolist()))
        warnings.warn(
            f"{int(undefined.any(axis=1).sum())} gain(s) of task(s) {tasks} are "
            "NaN: their STL test loss is 0 or NaN, or a model's loss is NaN, so "
            "the relative loss reduction is undefined.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


def _warn_stl_not_learned(gains, stacklevel):
    """Warn (:class:`TrivialPredictorWarning`) when single-task models of
    ``gains`` are no better than the trivial predictor."""
    flagged = np.flatnonzero(gains.stl_no_better_than_trivial)
    if flagged.size == 0:
        return
    names = gains.names
    n_measured = int(np.isfinite(gains.stl_loss).sum())
    listed = ", ".join(
        f"task {names[t]} {gains.stl_loss[t]:.3g} vs {gains.trivial_loss[t]:.3g}"
        for t in flagged[:8]
    ) + (", ..." if flagged.size > 8 else "")
    warnings.warn(
        f"the single-task models of {flagged.size} of {n_measured} "
        f"task(s) are no better on the test split than the trivial predictor "
        f"(training mean or base rate): test loss {listed}. The gains measured "
        f"against them mean little. To make the models learn: {WHAT_TO_CHANGE}.",
        TrivialPredictorWarning,
        stacklevel=stacklevel,
    )
