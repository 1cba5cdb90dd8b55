"""``etap run --linearized``: does the linearized estimate hold for this model?

:class:`~sklearn_etap.LinearizedGainEstimator` estimates every group's gain
from the one trained all-task model, with no training. Whether that
linearization describes the user's model is checked against the groups the
run trained: the agreement (Pearson r within each task, and pooled) of the
estimate with the measured gains goes to the printout, ``summary.json`` and
``report.html``. It costs a Jacobian of the trained model on the training
data and one linear fit per measured group, which on a small CPU model is
more than the rest of a quick run: hence an option, off by default.
"""

import html

import numpy as np

from .._linearized import LinearizedGainEstimator

#: Within-task r from which the estimate is said to agree with training, and
#: below which it is said not to (between the two: weakly).
AGREES, DISAGREES = 0.3, 0.1


def linearized_agreement(extractor, data, gains, seed):
    """JSON-ready agreement of the linearized estimate with ``gains`` (every
    measured group, all tasks together included; rows with an undefined gain
    left out)."""
    estimator = LinearizedGainEstimator(extractor, random_state=seed)
    estimator.fit(data.X_train, data.Y_train)
    keep = np.isfinite(gains.y)
    agreement = estimator.score_against(gains.X[keep], gains.y[keep])
    return {
        "within_task_r": _number(agreement["within_task_r"]),
        "pooled_r": _number(agreement["pooled_r"]),
        "n_rows": int(agreement["n_rows"]),
        "n_tasks_scored": int(agreement["n_tasks_scored"]),
        "n_parameters": int(estimator.n_parameters_),
        "alpha": float(estimator.alpha_),
        "verdict": agreement_verdict(agreement["within_task_r"]),
    }


def _number(value):
    value = float(value)
    return value if np.isfinite(value) else None


def agreement_verdict(within):
    if not np.isfinite(within):
        return (
            "cannot be told: fewer than 3 measured groups per task (measure "
            "more groups, --groups)"
        )
    if within >= AGREES:
        return "it agrees with the trained groups: the linearization holds here"
    if within >= DISAGREES:
        return "it agrees only weakly with the trained groups"
    return (
        "it does NOT agree with the trained groups: the linearization does not "
        "describe this model, do not use its estimates for it"
    )


def _figures(check):
    def r(value):
        return "-" if value is None else f"{value:+.2f}"

    return (
        f"within-task r {r(check['within_task_r'])}, pooled r "
        f"{r(check['pooled_r'])} over {check['n_rows']} measured (group, task) "
        f"pairs"
    )


def linearized_lines(summary):
    """The printout's line, or none when the check was not asked for."""
    check = summary.get("linearized")
    if not check:
        return []
    return [
        f"linearized gain estimate vs measured: {_figures(check)}; {check['verdict']}."
    ]


def linearized_html(summary):
    """The report's paragraph, or nothing when the check was not asked for."""
    check = summary.get("linearized")
    if not check:
        return ""
    return (
        "<h2>Does the linearized estimate hold for this model?</h2>\n"
        f"<p>The gain of every measured group estimated without training, by "
        f"linearizing the trained all-task model ({check['n_parameters']} "
        f"parameters, penalty {check['alpha']:g}), against the measured gains: "
        f"{html.escape(_figures(check))}. <strong>{html.escape(check['verdict'])}"
        "</strong>.</p>\n"
    )
