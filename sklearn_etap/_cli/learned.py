"""Did the models learn? Every trained model against the trivial predictor.

The trivial predictor of a task is its training mean (regression) or base
rate (binary), scored on the test split with the models' loss. A gain
measured against a single-task model that does no better means only that
the shared model is less bad; the printout and the report say so, with the
options that would change it.
"""

import numpy as np


def advice(params, standardized=True):
    """What to try when models are no better than trivial, as command-line
    options, from the extractor parameters the run used."""
    epochs = params.get("max_epochs", 50)
    rate = params.get("learning_rate", 0.01)
    tips = [f"more --epochs (now {epochs})", f"--learning-rate {rate / 10:g}"]
    if not params.get("early_stopping", False):
        tips.append("--early-stopping (off in this run)")
    if not params.get("weight_decay"):
        tips.append("--weight-decay 1e-4")
    if not standardized:
        tips.append("--standardize-targets (off in this run)")
    return "try " + ", ".join(tips)


def _number(value):
    value = float(value)
    return value if np.isfinite(value) else None


def trivial_summary(gains, affinity_losses=None, what_to_try=""):
    """JSON-ready: each task's STL and trivial test losses and the flags.

    ``affinity_losses``: the test losses of the model the affinities were
    recorded in (all tasks), scored against the same trivial losses.
    """
    names = gains.names
    flagged = gains.stl_no_better_than_trivial
    tasks = {
        str(names[t]): {
            "stl_loss": _number(gains.stl_loss[t]),
            "trivial_loss": _number(gains.trivial_loss[t]),
            "stl_no_better_than_trivial": bool(flagged[t]),
        }
        for t in range(gains.n_tasks)
        if np.isfinite(gains.stl_loss[t])
    }
    affinity_flagged = []
    if affinity_losses is not None:
        for t in range(gains.n_tasks):
            task = tasks.get(str(names[t]))
            if task is None:
                continue
            task["affinity_model_loss"] = _number(affinity_losses[t])
            if affinity_losses[t] >= gains.trivial_loss[t]:
                affinity_flagged.append(str(names[t]))
    rows = gains.mtl_no_better_than_trivial
    return {
        "tasks": tasks,
        "stl_flagged": [str(names[t]) for t in np.flatnonzero(flagged)],
        "mtl_rows_flagged": int(rows.sum()),
        "mtl_rows": int(rows.size),
        "mtl_flagged": [
            {"group": [str(names[t]) for t in gains.groups[g]], "task": str(names[t])}
            for g, t, bad in zip(gains.row_group, gains.row_task, rows)
            if bad
        ],
        "affinity_model_flagged": affinity_flagged,
        "advice": what_to_try
        if flagged.any() or rows.any() or affinity_flagged
        else "",
    }


def trivial_lines(trivial):
    """The printout's lines about models that did not learn (none if all did)."""
    lines = []
    flagged = trivial["stl_flagged"]
    if flagged:
        shown = ", ".join(
            f"{name} ({trivial['tasks'][name]['stl_loss']:.3g} vs "
            f"{trivial['tasks'][name]['trivial_loss']:.3g})"
            for name in flagged[:8]
        ) + (", ..." if len(flagged) > 8 else "")
        lines.append(
            f"WARNING: the single-task models of {len(flagged)} of "
            f"{len(trivial['tasks'])} tasks are no better on the test split than "
            f"the trivial predictor (training mean or base rate; test loss model "
            f"vs trivial): {shown}. Their gains only say how much less bad a "
            f"shared model is; {trivial['advice']}."
        )
    if trivial["mtl_rows_flagged"]:
        lines.append(
            f"note: in {trivial['mtl_rows_flagged']} of {trivial['mtl_rows']} "
            "(group, task) pairs the group's model is no better than the trivial "
            "predictor either."
        )
    if trivial.get("affinity_model_flagged"):
        lines.append(
            "note: the model the affinities were recorded in is no better than the "
            "trivial predictor for "
            + ", ".join(trivial["affinity_model_flagged"][:8])
            + (", ..." if len(trivial["affinity_model_flagged"]) > 8 else "")
            + "; its affinities describe a training that did not learn those tasks."
        )
    return lines
