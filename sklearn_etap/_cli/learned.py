"""Did the models learn? Every trained model against the trivial predictor.

The trivial predictor of a task is its training mean (regression) or base
rate (binary), scored on the test split with the models' loss. A gain
measured against a single-task model that does no better means only that
the shared model is less bad; the printout and the report say so, with the
options that would change it.
"""

import numpy as np

#: What to try when models are no better than trivial, as command-line options.
ADVICE = (
    "try more --epochs, a lower --learning-rate (e.g. 0.001), --early-stopping "
    "(on by default), --weight-decay 1e-4, and keep --standardize-targets on"
)


def _number(value):
    value = float(value)
    return value if np.isfinite(value) else None


def trivial_summary(gains):
    """JSON-ready: each task's STL and trivial test losses and the flags."""
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
        "advice": ADVICE if flagged.any() or rows.any() else "",
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
    return lines
