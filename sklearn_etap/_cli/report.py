"""The report folder of ``etap run``: plots, the grouping, JSON and HTML."""

import csv
import html
import json
from pathlib import Path

from .._plotting._base import PLOT_EXTRA
from .learned import trivial_lines
from .linearized_check import linearized_html, linearized_lines
from .report_references import references_html, trivial_html

AFFINITY_PNG = "affinity.png"
#: Most tasks whose heatmap keeps the display's own size (0.45 inch a task).
LEGIBLE_AT_DISPLAY_SIZE = 20
#: Most feature names the page lists in full.
MOST_FEATURES_LISTED = 60
GAINS_PNG = "predicted_vs_measured.png"
GROUPS_CSV = "groups.csv"
GAINS_CSV = "measured_gains.csv"
SUMMARY_JSON = "summary.json"
REPORT_HTML = "report.html"


def write_report(out, summary, plots, gains):
    """Write every file into ``out``; return the list of files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    figures = _write_figures(out, plots)
    written += figures
    _write_groups(out / GROUPS_CSV, summary)
    gains.save(out / GAINS_CSV)
    written += [GROUPS_CSV, GAINS_CSV, Path(GAINS_CSV).with_suffix(".json").name]
    summary["files"] = sorted(written + [SUMMARY_JSON, REPORT_HTML])
    if not figures:
        summary["note"] = f"no plots: matplotlib is missing ({PLOT_EXTRA})"
    (out / SUMMARY_JSON).write_text(json.dumps(summary, indent=1, allow_nan=False))
    (out / REPORT_HTML).write_text(_html(summary, figures))
    return summary["files"]


def _write_figures(out, plots):
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    from .._plotting import AffinityMatrixDisplay, GainPredictionDisplay

    ax = None
    if len(plots["task_names"]) > LEGIBLE_AT_DISPLAY_SIZE:
        # The display's own size (0.45 inch a task) is legible at full size,
        # but the page shrinks it to its width, labels to a few pixels: a
        # figure about the page's width with smaller labels reads there.
        _, ax = plt.subplots(figsize=(11, 10))
    disp = AffinityMatrixDisplay(plots["affinity"], task_names=plots["task_names"])
    disp.plot(ax=ax)
    if ax is not None:
        disp.ax_.tick_params(labelsize=8)
    disp.figure_.tight_layout()
    disp.figure_.savefig(out / AFFINITY_PNG, dpi=100)
    plt.close(disp.figure_)
    if plots["y_pred"] is None:  # every group measured: nothing was predicted
        return [AFFINITY_PNG]
    disp = GainPredictionDisplay.from_predictions(
        plots["y_true"],
        plots["y_pred"],
        title="measured gains, predicted out of fold",
    )
    disp.figure_.tight_layout()
    disp.figure_.savefig(out / GAINS_PNG, dpi=100)
    plt.close(disp.figure_)
    return [AFFINITY_PNG, GAINS_PNG]


def _write_groups(path, summary):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["group", "task", "predicted_gain", "measured_gain"])
        for index, group in enumerate(summary["selection"]["groups"]):
            measured = group["measured_gain"] or [None] * len(group["tasks"])
            for task, pred, true in zip(
                group["tasks"], group["predicted_gain"], measured
            ):
                writer.writerow(
                    [index, task, _cell(pred), "" if true is None else _cell(true)]
                )


def _cell(value):
    return "" if value is None else f"{value:.6g}"


def format_groups(summary):
    """The chosen groups as the lines the command prints.

    Each task is scored by one chosen group (in overlap mode, its best): a
    group's line sums the gains of the tasks it serves, so the lines add up
    to the total.
    """
    selection = summary["selection"]
    total = selection["predicted_total_gain"]
    label = "predicted total gain"
    if selection.get("basis", "").startswith("measured gains (every"):
        label = "measured total gain (every group was trained)"
    elif selection.get("basis", "").startswith("measured"):
        label = "total gain (measured where known, else predicted)"
    # First the verdict against the reference answers, then the warnings about
    # models that learned nothing, then the grouping.
    lines = []
    if "references" in summary:
        lines.append(summary["references"]["verdict"])
    if "trivial" in summary:
        lines += trivial_lines(summary["trivial"])
    lines += linearized_lines(summary)
    lines += [
        f"chosen groups (budget {summary['settings']['budget']}, "
        f"{summary['settings']['mode']} mode), {label} {total:.3f}:",
        f"  {'predicted':>9}  {'measured':>8}  group  ->  tasks it serves",
    ]
    for group in selection["groups"]:
        served = group["scores_tasks"]
        pred, true = served_sums(group, selection)
        true_text = "-" if true is None else f"{true:.3f}"
        text = " + ".join(group["tasks"])
        if served != group["tasks"]:
            text += "  ->  " + (", ".join(served) if served else "(none)")
        lines.append(f"  {pred:>9.3f}  {true_text:>8}  {text}")
    lines.append(
        f"  {total:>9.3f}  {'':>8}  total: each task's gain in the group that "
        "serves it, summed"
    )
    status = selection_note(selection)
    if status:
        lines.append("  " + status)
    note = budget_note(summary)
    if note:
        lines.append("  " + note)
    return lines


def format_tasks(summary):
    """One line per task: the group that serves it and its gain there (-v)."""
    selection = summary["selection"]
    lines = ["each task, the group that serves it and its gain there:"]
    for group in selection["groups"]:
        measured = dict(zip(group["tasks"], group["measured_gain"] or []))
        for name in group["scores_tasks"]:
            gain = selection["task_gain"][name]
            true = measured.get(name)
            lines.append(
                f"  {name}: served by {' + '.join(group['tasks'])} "
                f"(predicted {gain:+.3f}"
                + ("" if true is None else f", measured {true:+.3f}")
                + ")"
            )
    return lines


def served_sums(group, selection):
    """The predicted and measured gains summed over the tasks ``group`` serves
    (measured: None unless the group was trained)."""
    served = group["scores_tasks"]
    pred = sum(selection["task_gain"][name] or 0.0 for name in served)
    true = None
    if group["measured_gain"]:
        by_task = dict(zip(group["tasks"], group["measured_gain"]))
        values = [by_task[name] for name in served]
        if all(v is not None for v in values):
            true = sum(values)
    return pred, true


def selection_note(selection):
    """Whether the grouping is proven optimal, or its gap at the time limit."""
    if selection.get("optimal", True):
        return ""
    gap = selection.get("gap")
    gap_text = "unknown" if gap is None else f"{gap:.3g}"
    return (
        "note: the selection stopped at --time-limit; this is the best grouping "
        f"found, and the optimum total is at most {gap_text} higher."
    )


def budget_note(summary):
    """A warning when the budget forces tasks together at a predicted loss."""
    n_tasks = len(summary["task_names"])
    budget = summary["settings"]["budget"]
    if summary["selection"]["predicted_total_gain"] >= 0 or budget >= n_tasks:
        return ""
    return (
        f"note: {budget} groups for {n_tasks} tasks force tasks to share groups, and "
        "sharing is predicted to hurt here (negative total); with --budget "
        f"{n_tasks} every task may be trained alone."
    )


def _features_html(features):
    if not features or not features.get("names"):
        return ""
    esc = html.escape
    source = {
        "--feature": "given with --feature",
        "automatic": "every numeric column besides the targets with no missing "
        "value (choose them with --feature)",
    }.get(features["source"], features["source"])
    left = "".join(
        f"<li>left out ({esc(why)}): {esc(', '.join(cols))}</li>"
        for why, cols in features.get("left_out", {}).items()
    )
    labels = features.get("label_like")
    note = (
        f"<li>only 0 and 1 (other tasks' labels?): {esc(', '.join(labels))}</li>"
        if labels
        else ""
    )
    names = features["names"]
    if len(names) > MOST_FEATURES_LISTED:
        # Images' pixels: hundreds of names say nothing a few do not.
        names = [*names[:8], "...", *names[-4:]]
        source += "; every name is in summary.json"
    return (
        f"<p>Features ({len(features['names'])}, {esc(source)}): "
        f"{esc(', '.join(names))}.</p><ul>{left}{note}</ul>"
    )


def _html(summary, figures):
    esc = html.escape
    rows = []
    selection = summary["selection"]
    for group in selection["groups"]:
        pred, true = served_sums(group, selection)
        rows.append(
            "<tr><td>{}</td><td>{}</td><td>{:.3f}</td><td>{}</td></tr>".format(
                esc(" + ".join(group["tasks"])),
                esc(", ".join(group["scores_tasks"]) or "(none)"),
                pred,
                "-" if true is None else f"{true:.3f}",
            )
        )
    measured = "".join(
        "<tr><td>{}</td><td>{}</td></tr>".format(
            esc(" + ".join(g["tasks"])),
            esc(
                ", ".join(
                    f"{name} " + ("-" if v is None else f"{v:+.3f}")
                    for name, v in zip(g["tasks"], g["gain"])
                )
            ),
        )
        for g in summary["measured_groups"]
    )
    images = "".join(
        f'<figure><a href="{name}"><img src="{name}" alt="{name}"></a>'
        f"<figcaption>{caption}</figcaption>"
        "</figure>"
        for name, caption in zip(
            figures,
            [
                "Task affinity recorded in one multi-task training run.",
                "Measured gains against ETAP's predictions made out of fold "
                "(each group predicted by a model that never saw it).",
            ],
        )
    )
    r = summary["prediction"].get("out_of_fold_pearson_r")
    r_text = "undefined" if r is None else f"{r:.2f}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>etap run report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}
td,th{{padding:0.2em 0.8em;text-align:left}}img{{max-width:100%}}</style>
</head><body>
<h1>Which tasks to train together</h1>
{references_html(summary)}
<p>Data: {esc(str(summary["dataset"]))}: {len(summary["task_names"])} tasks,
{summary["n_train_samples"]} training and {summary["n_test_samples"]} test samples.</p>
{_features_html(summary.get("features"))}
{trivial_html(summary)}
<h2>Chosen groups</h2>
<p>Predicted total gain {summary["selection"]["predicted_total_gain"]:.3f}
(budget {summary["settings"]["budget"]}, {summary["settings"]["mode"]} mode).
Gains are relative test-loss reductions against training each task alone.
Each task is served by one chosen group; a group's gains are summed over the
tasks it serves, so the column adds up to the total.</p>
<table><tr><th>group</th><th>serves</th><th>predicted gain</th>
<th>measured gain</th></tr>
{"".join(rows)}</table>
<p>{esc(selection_note(selection))}</p>
<p>{esc(budget_note(summary))}</p>
<h2>Plots</h2>{images or "<p>No plots: matplotlib is missing.</p>"}
<p>Out-of-fold Pearson r between predicted and measured gains: {r_text}.
Measured gains are noisy (two trainings of one group differ), so read it with
care on a few groups.</p>
{linearized_html(summary)}
<h2>Measured groups</h2>
<table><tr><th>group</th><th>measured gain of each task</th></tr>{measured}</table>
<p>Files: {", ".join(esc(f) for f in summary["files"])}.</p>
</body></html>
"""
