"""Regression targets on one scale before any training.

A gain is a ratio of losses, so for squared error it does not depend on a
target's units; the training does: a target in the hundreds makes the first
steps of SGD huge and the loss non-finite. The command line standardizes
every regression column of ``Y`` with the training rows' mean and standard
deviation (NaN labels left out) and reports the scale it used.
"""

import numpy as np

REGRESSION = "regression"


def standardize_targets(data, enabled=True):
    """Standardize the regression targets of ``data`` in place.

    Returns the scale of every regression task as ``{name: {"mean": m,
    "scale": s, "standardized": bool}}``: what a prediction in standardized
    units is multiplied by (``scale``) and shifted by (``mean``) to get back
    to the data's units. A built-in dataset whose loader already
    standardized its targets reports the loader's statistics.
    """
    names = list(data.task_names)
    types = list(data.task_types)
    regression = [t for t, kind in enumerate(types) if kind == REGRESSION]
    if "Y_scale" in data and "Y_mean" in data:
        # The loader standardized them already; report its statistics.
        return {
            names[t]: {
                "mean": float(data.Y_mean[t]),
                "scale": float(data.Y_scale[t]),
                "standardized": True,
            }
            for t in regression
        }
    scales = {}
    for t in regression:
        train = data.Y_train[:, t]
        labels = train[~np.isnan(train)]
        mean = float(labels.mean())
        scale = float(labels.std())
        if not enabled:
            scales[names[t]] = {"mean": 0.0, "scale": 1.0, "standardized": False}
            continue
        scale = scale if scale > 0 else 1.0  # a constant column: shift only
        data.Y_train[:, t] = (train - mean) / scale
        data.Y_test[:, t] = (data.Y_test[:, t] - mean) / scale
        scales[names[t]] = {"mean": mean, "scale": scale, "standardized": True}
    return scales


def describe_scales(scales):
    """One line saying how the regression targets were scaled, or ''."""
    if not scales:
        return ""
    if not any(s["standardized"] for s in scales.values()):
        return (
            "regression targets in their own units (--no-standardize-targets); "
            "if a training diverges, drop that flag"
        )
    shown = ", ".join(
        f"{name} (mean {s['mean']:.4g}, sd {s['scale']:.4g})"
        for name, s in list(scales.items())[:6]
    ) + (", ..." if len(scales) > 6 else "")
    return f"regression targets standardized with the training rows: {shown}"
