"""The report's header: the recommendation beside the reference answers, and
the models that learned nothing, as HTML."""

import html

from .references import Z
from .targets import describe_scales


def _gain(value):
    return "-" if value is None else f"{value:+.3f}"


def _interval(interval):
    return "-" if not interval else f"{interval[0]:+.3f} to {interval[1]:+.3f}"


def _part_rows(chosen):
    """A mixed grouping's measured and predicted parts, as table rows."""
    if chosen.get("interval_basis") != "mixed":
        return []
    measured, predicted = chosen["measured_part"], chosen["predicted_part"]
    return [
        (
            "- measured part: " + ", ".join(measured["tasks"]),
            "-",
            _gain(measured["total_gain"]),
            _interval(_part_interval(measured["total_gain"], measured["seed_se"])),
        ),
        (
            "- predicted part: " + ", ".join(predicted["tasks"]),
            _gain(predicted["total_gain"]),
            "-",
            _interval(_part_interval(predicted["total_gain"], predicted["se"])),
        ),
    ]


def _part_interval(total, se):
    return None if se is None else [total - Z * se, total + Z * se]


def interval_text(chosen, seeds):
    """What the recommendation's interval is made of, in words."""
    refits = (
        "the predictor's spread over refits that each leave one measured group "
        "out (jackknife)"
    )
    predicted = chosen.get("predicted_part") or {}
    if predicted.get("seed_se") is not None:
        refits += f" and over refits on each of the {seeds} seeds' gains"
    basis = chosen.get("interval_basis")
    if basis == "measured":
        return (
            f"the spread of the measured totals over {seeds} seeds"
            if chosen.get("interval") is not None
            else "none for the recommendation, whose every group was trained on "
            "one seed (--n-seeds 2 or more gives one)"
        )
    if chosen.get("interval") is None:
        return "none: fewer than 3 measured groups, and one seed"
    if basis == "predicted":
        return refits
    measured_spread = (
        "none known for the measured part, trained on one seed (--n-seeds 2 or "
        "more adds its spread)"
        if chosen["measured_part"]["seed_se"] is None
        else f"for the measured part, the spread of its totals over {seeds} seeds"
    )
    return (
        f"for the predicted part, {refits}, computed on that part's tasks only; "
        f"{measured_spread}; the interval's half-width is the sum of the parts' "
        "(a bound that holds however the parts are correlated: the predictor "
        "was fitted on the measured gains)"
    )


def references_html(summary):
    """The verdict and a table of the recommendation and the reference answers."""
    esc = html.escape
    refs = summary["references"]
    chosen, together = refs["chosen"], refs["all_together"]
    rule = refs["group_size_rule"]
    rows = [
        (
            "recommended grouping (ETAP)",
            _gain(chosen["predicted_total_gain"]),
            _gain(chosen["measured_total_gain"]),
            _interval(chosen["interval"]),
        ),
        *_part_rows(chosen),
        (
            "all tasks in one model",
            "-",
            _gain(together["measured_total_gain"]),
            _interval(together["interval"]),
        ),
        ("each task alone", "+0.000", "+0.000", "-"),
        (
            "group-size rule: " + " | ".join(" + ".join(g) for g in rule["groups"]),
            _gain(rule["predicted_total_gain"]),
            _gain(rule["measured_total_gain"]),
            "-",
        ),
    ]
    table = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    spread = interval_text(chosen, summary["settings"].get("n_seeds", 1))
    scale = describe_scales(summary.get("target_scale") or {})
    return f"""<p><strong>{esc(refs["verdict"])}</strong></p>
<table><tr><th>answer</th><th>total gain predicted</th><th>measured</th>
<th>95% interval</th></tr>{table}</table>
<p>Total gain: the sum over all tasks of each task's relative test-loss
reduction against its single-task model. Interval: {esc(spread)}. Measured
totals are given where every group of the grouping was trained.
{esc(scale + ".") if scale else ""}</p>
"""


def trivial_html(summary):
    """Which single-task models beat the trivial predictor, and what to change."""
    esc = html.escape
    trivial = summary["trivial"]
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            esc(name),
            _loss(task["stl_loss"]),
            _loss(task["trivial_loss"]),
            "NO: flagged" if task["stl_no_better_than_trivial"] else "yes",
            _loss(task.get("affinity_model_loss")),
        )
        for name, task in trivial["tasks"].items()
    )
    flagged = trivial["stl_flagged"]
    headline = (
        f"<p><strong>{len(flagged)} of {len(trivial['tasks'])} single-task "
        "models are no better than the trivial predictor</strong>: the gains "
        "measured against them only say how much less bad a shared model is. "
        f"{esc(trivial['advice'][:1].upper() + trivial['advice'][1:])}.</p>"
        if flagged
        else "<p>Every single-task model beats the trivial predictor.</p>"
    )
    if trivial["mtl_rows_flagged"]:
        headline += (
            f"<p>In {trivial['mtl_rows_flagged']} of {trivial['mtl_rows']} "
            "(group, task) pairs the group's model is no better than the trivial "
            "predictor either.</p>"
        )
    return f"""<h2>Did the models learn?</h2>
{headline}
<table><tr><th>task</th><th>single-task test loss</th>
<th>trivial test loss (training mean or base rate)</th><th>beats it</th>
<th>test loss of the affinity model (all tasks)</th></tr>
{rows}</table>
"""


def _loss(value):
    return "-" if value is None else f"{value:.4g}"
