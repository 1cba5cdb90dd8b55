"""The answers a user already has, beside ETAP's recommendation.

Each task alone (total gain 0), all tasks in one model (one more training,
measured) and the group-size rule (per-task mean plus a shared slope on
group size, fitted on the measured gains and run through the same
selection). The verdict says plainly whether the recommendation beats
training all tasks together beyond the interval of its total gain.

The selection counts a trained group's measured gains and ETAP's
predictions for the others, so the total has two parts, each with its own
spread:

- the predicted part (tasks served by groups never trained): the spread of
  its total over refits of the predictor that each leave one measured group
  out (jackknife), and, with several seeds, over refits on each seed's
  gains, combined in quadrature;
- the measured part (tasks served by trained groups): the spread of its
  per-seed totals (none with one seed); the refits do not predict it.

A grouping with both parts adds the two half-widths. The parts are not
independent (the predictor was fitted on the same measured gains, the
chosen trained groups' among them), so quadrature has no ground; whatever
their correlation, the standard deviation of a sum is at most the sum of
the standard deviations, so the sum is a conservative bound.
"""

import dataclasses

import numpy as np
from sklearn.base import clone

from .._groups import encode_groups
from .._selection import GroupSelector, GroupSizeRule

# Two-sided 95% normal quantile: the interval is total +- Z * standard error.
Z = 1.96


def all_tasks(n_tasks):
    """The group of every task."""
    return tuple(range(n_tasks))


def subset_gains(gains, groups):
    """The rows of ``gains`` whose group is in ``groups`` (same seeds, STL)."""
    keep = [g for g in gains.groups if g in set(groups)]
    rows = np.isin(gains.row_group, [gains.groups.index(g) for g in keep])
    return dataclasses.replace(
        gains, groups=keep, mtl_loss_per_seed=gains.mtl_loss_per_seed[rows]
    )


def grouping_total(model, groups, task_group, n_tasks, tasks=None):
    """Total predicted gain of a fixed grouping: each task scored by its group.

    ``tasks``: only these tasks' gains are summed (default: every task).
    """
    counted = set(range(n_tasks) if tasks is None else tasks)
    shared = [g for g in groups if len(g) > 1]
    if not shared or not counted:
        return 0.0
    predicted = model.predict(encode_groups(shared, n_tasks))
    # encode_groups: one row per (group, member task), tasks ascending
    row = {key: i for i, key in enumerate((g, t) for g in shared for t in g)}
    return float(
        sum(
            predicted[row[groups[task_group[t]], t]]
            for t in sorted(counted)
            if len(groups[task_group[t]]) > 1
        )
    )


def gains_by_group(gains):
    """``{group: (n_members, n_seeds) gains}`` of a MeasuredGains, for the
    groups whose every gain is defined: the groups the selection counts as
    measured (the others it counts with predictions)."""
    out = {}
    for i, g in enumerate(gains.groups):
        values = gains.y_per_seed[gains.row_group == i]
        if np.isfinite(values).all():
            out[g] = values
    return out


def split_by_measurement(measured, groups, task_group, n_tasks):
    """``(measured_tasks, predicted_tasks)``: the tasks served by a chosen group
    of 2 or more tasks that was trained (in ``measured``), and those served by
    one that was not. Tasks trained alone are in neither (gain 0)."""
    measured_tasks, predicted_tasks = [], []
    for t in range(n_tasks):
        group = groups[task_group[t]]
        if len(group) > 1:
            (measured_tasks if group in measured else predicted_tasks).append(t)
    return measured_tasks, predicted_tasks


def measured_total(measured, groups, task_group, n_tasks, n_seeds):
    """Per-seed measured totals of a grouping, or None if a group of 2 or more
    tasks in it was not measured (``measured``: :func:`gains_by_group`)."""
    measured_tasks, predicted_tasks = split_by_measurement(
        measured, groups, task_group, n_tasks
    )
    if predicted_tasks:
        return None
    return part_totals(measured, groups, task_group, measured_tasks, n_seeds)


def part_totals(measured, groups, task_group, tasks, n_seeds):
    """Per-seed measured totals of ``tasks`` (each in the group serving it)."""
    totals = np.zeros(n_seeds)
    for t in tasks:
        group = groups[task_group[t]]
        totals = totals + measured[group][group.index(t)]
    return totals


def _jackknife_se(model, X, y, row_group, groups, task_group, n_tasks, tasks=None):
    """Standard error of the grouping's predicted total (of ``tasks`` only, if
    given) over leave-one-group-out refits; None with fewer than 3 measured
    groups."""
    ids = np.unique(row_group)
    if len(ids) < 3:
        return None
    totals = []
    for left_out in ids:
        keep = row_group != left_out
        refit = clone(model).fit(X[keep], y[keep])
        totals.append(grouping_total(refit, groups, task_group, n_tasks, tasks))
    totals = np.array(totals)
    n = len(totals)
    return float(np.sqrt((n - 1) / n * np.sum((totals - totals.mean()) ** 2)))


def _seed_se(model, X, y_per_seed, groups, task_group, n_tasks, tasks=None):
    """Standard error over seeds of the grouping's total (of ``tasks`` only, if
    given) predicted by refits on each seed's gains; None with one seed."""
    n_seeds = y_per_seed.shape[1]
    if n_seeds < 2:
        return None
    totals = [
        grouping_total(
            clone(model).fit(X, y_per_seed[:, s]), groups, task_group, n_tasks, tasks
        )
        for s in range(n_seeds)
    ]
    return float(np.std(totals, ddof=1) / np.sqrt(n_seeds))


def _per_seed_se(values):
    values = np.asarray(values, dtype=float)
    if values.size < 2 or not np.isfinite(values).all():
        return None
    return float(np.std(values, ddof=1) / np.sqrt(values.size))


def chosen_interval(
    model, fit_rows, measured, groups, task_group, names, total, *, n_seeds
):
    """The recommendation's total gain, its measured and predicted parts, and
    its interval (the module docstring says how the parts' spreads combine).

    Returns a JSON-ready dict: ``predicted_total_gain`` (the selection's
    total, measured gains included), ``interval`` (None when no spread is
    known), ``interval_basis`` (``"measured"``, ``"predicted"`` or
    ``"mixed"``), ``measured_part`` and ``predicted_part`` (None when that
    part is empty; each with its ``tasks``, ``total_gain`` and standard
    errors) and ``measured_total_gain`` (None unless every part is measured).
    """
    X, y, y_per_seed, row_group = fit_rows
    n_tasks = len(names)
    measured_tasks, predicted_tasks = split_by_measurement(
        measured, groups, task_group, n_tasks
    )
    measured_totals = part_totals(measured, groups, task_group, measured_tasks, n_seeds)
    measured_se = _per_seed_se(measured_totals)
    measured_part = predicted_part = None
    if measured_tasks:
        measured_part = {
            "tasks": [names[t] for t in measured_tasks],
            "total_gain": float(measured_totals.mean()),
            "seed_se": measured_se,
        }
    if predicted_tasks:
        jack = _jackknife_se(
            model, X, y, row_group, groups, task_group, n_tasks, predicted_tasks
        )
        seed = _seed_se(
            model, X, y_per_seed, groups, task_group, n_tasks, predicted_tasks
        )
        spread = [s for s in (jack, seed) if s is not None]
        predicted_part = {
            "tasks": [names[t] for t in predicted_tasks],
            "total_gain": grouping_total(
                model, groups, task_group, n_tasks, predicted_tasks
            ),
            "predictor_se": jack,
            "seed_se": seed,
            "se": float(np.sqrt(sum(s**2 for s in spread))) if spread else None,
        }
    if predicted_part is None:
        # Every chosen group was trained and the selection counted their
        # measured gains: no prediction is involved, so the only spread is the
        # seeds' (none with one seed), never the predictor's refits.
        basis = "measured"
        half = None if measured_se is None else Z * measured_se
    else:
        basis = "predicted" if measured_part is None else "mixed"
        half = None
        if predicted_part["se"] is not None:
            # conservative for any correlation of the parts: sd(A + B) is at
            # most sd(A) + sd(B); a measured part on one seed adds nothing known
            half = Z * (predicted_part["se"] + (measured_se or 0.0))
    return {
        "predicted_total_gain": total,
        "interval": None if half is None else [total - half, total + half],
        "interval_basis": basis,
        "measured_part": measured_part,
        "predicted_part": predicted_part,
        "measured_total_gain": (
            float(measured_totals.mean()) if predicted_part is None else None
        ),
    }


def reference_answers(
    model,
    fit_rows,
    gains,
    together,
    selection,
    *,
    budget,
    mode,
    max_group_size,
    names,
    time_limit=None,
):
    """Everything the first line and the report's header compare.

    Parameters
    ----------
    model : fitted regressor
        The gain predictor behind the recommendation (refitted, never changed).
    fit_rows : tuple (X, y, y_per_seed, row_group)
        The rows it was fitted on (finite gains only).
    gains : MeasuredGains
        Every measured group, the all-task group included.
    together : MeasuredGains
        The all-task group alone.
    selection : Bunch
        ``groups``, ``total``, ``task_group`` of the recommendation.
    time_limit : float, default=None
        Seconds the group-size rule's selection may take (``--time-limit``).

    Returns
    -------
    references : dict
        JSON-ready: ``chosen``, ``all_together``, ``each_alone``,
        ``group_size_rule``, ``verdict`` and ``beats_all_together``.
    """
    X, y = fit_rows[:2]
    n_tasks = len(names)
    measured = gains_by_group(gains)
    groups, task_group = list(selection.groups), list(selection.task_group)

    total = float(selection.total)
    n_seeds = gains.y_per_seed.shape[1]
    chosen = chosen_interval(
        model, fit_rows, measured, groups, task_group, names, total, n_seeds=n_seeds
    )

    together_gains = together.y_per_seed
    together_totals = np.nansum(together_gains, axis=0)
    together_se = _per_seed_se(together_totals)
    all_total = float(together_totals.mean())
    all_together = {
        "tasks": list(names),
        "measured_total_gain": all_total,
        "measured_gain": {names[t]: float(v) for t, v in enumerate(together.y)},
        "seed_se": together_se,
        "interval": None
        if together_se is None
        else [all_total - Z * together_se, all_total + Z * together_se],
    }

    # HiGHS under the run's time limit, as the recommendation: the default
    # branch and bound has no useful bound on a hard problem before it ends.
    rule = GroupSelector(
        GroupSizeRule(),
        n_groups=budget,
        mode=mode,
        max_group_size=max_group_size,
        solver="milp",
        time_limit=time_limit,
    ).fit(X, y)
    rule_measured = measured_total(
        measured, rule.groups_, rule.task_group_, n_tasks, n_seeds
    )
    size_rule = {
        "groups": [[names[t] for t in g] for g in rule.groups_],
        "predicted_total_gain": float(rule.predicted_gain_),
        "measured_total_gain": _mean(rule_measured),
        "same_as_chosen": sorted(rule.groups_) == sorted(groups),
    }

    interval = chosen["interval"]
    all_high = all_total + (0.0 if together_se is None else Z * together_se)
    beats_together = interval is not None and interval[0] > all_high
    beats_alone = interval is not None and interval[0] > 0
    references = {
        "chosen": chosen,
        "all_together": all_together,
        "each_alone": {"total_gain": 0.0},
        "group_size_rule": size_rule,
        "beats_all_together": bool(beats_together),
        "beats_each_alone": bool(beats_alone),
    }
    references["verdict"] = verdict(references)
    return references


def _mean(values):
    return None if values is None else float(np.mean(values))


def _signed(value):
    return f"{value:+.3f}"


def _interval_text(interval):
    if interval is None:
        return ""
    return f" [{_signed(interval[0])}, {_signed(interval[1])}]"


def _chosen_text(chosen):
    """The recommendation's total, which part of it is measured and which
    predicted, and what its interval covers."""
    total, interval = chosen["predicted_total_gain"], chosen["interval"]
    measured = chosen["measured_total_gain"]
    if chosen.get("interval_basis") != "mixed":
        return (
            f"recommended grouping: total gain {_signed(total)} predicted"
            f"{_interval_text(interval)}"
            + ("" if measured is None else f", {_signed(measured)} measured")
        )
    part_m, part_p = chosen["measured_part"], chosen["predicted_part"]
    text = (
        f"recommended grouping: total gain {_signed(total)}{_interval_text(interval)}"
        f" = {_signed(part_m['total_gain'])} measured ({len(part_m['tasks'])} "
        f"task(s) served by trained groups) {_signed(part_p['total_gain'])} "
        f"predicted ({len(part_p['tasks'])} task(s) served by untrained groups)"
    )
    if interval is None:
        return text
    if part_m["seed_se"] is None:
        return text + (
            ", the interval from the predicted part alone: one seed gives the "
            "measured part no spread (--n-seeds 2 or more adds it)"
        )
    return text + (
        ", the interval adding the predicted part's spread and the measured "
        "part's seed spread"
    )


def verdict(references):
    """The first line of the printout: the recommendation against the references."""
    chosen = references["chosen"]
    together = references["all_together"]
    rule = references["group_size_rule"]
    measured = chosen["measured_total_gain"]
    parts = [
        _chosen_text(chosen),
        f"all tasks in one model {_signed(together['measured_total_gain'])} "
        f"measured{_interval_text(together['interval'])}",
        "each task alone +0.000",
        f"group-size rule {_signed(rule['predicted_total_gain'])} predicted"
        + (" (same grouping)" if rule["same_as_chosen"] else ""),
    ]
    if chosen["interval"] is None and measured is not None:
        # Every chosen group was trained (2 or 3 tasks: every group is): the
        # comparison rests on measurements, whose only spread is the seeds'.
        better = measured > together["measured_total_gain"]
        conclusion = (
            f"measured, it is {'above' if better else 'not above'} all tasks in "
            f"one model ({_signed(measured)} against "
            f"{_signed(together['measured_total_gain'])}), but one seed gives NO "
            "INTERVAL: rerun with --n-seeds 2 or more to see whether the "
            "difference exceeds the seed spread"
        )
    elif chosen["interval"] is None:
        conclusion = (
            "NO INTERVAL (fewer than 3 measured groups), so it cannot be told "
            "apart from all tasks in one model; measure more groups (--groups)"
        )
    else:
        beaten = [
            name
            for name, beats in (
                ("all tasks in one model", references["beats_all_together"]),
                ("each task alone", references["beats_each_alone"]),
            )
            if not beats
        ]
        best = (
            "all tasks in one model"
            if together["measured_total_gain"] >= 0
            else "each task alone"
        )
        conclusion = (
            f"it does NOT beat {' nor '.join(beaten)} beyond the interval: "
            f"{best} is as good an answer here"
            if beaten
            else "it beats all tasks in one model and each task alone beyond "
            "the interval"
        )
    return "; ".join(parts) + ". Verdict: " + conclusion + "."


def qualify_unlearned(references, stl_flagged):
    """Say in the verdict when gains rest on single-task models that learned
    nothing: a gain over a model worse than the trivial predictor only says
    the shared model is less bad, so no verdict on it is worth acting on."""
    references["stl_no_better_than_trivial"] = list(stl_flagged)
    if stl_flagged:
        references["verdict"] += (
            f" BUT the single-task models of {len(stl_flagged)} task(s) "
            f"({', '.join(stl_flagged)}) are no better than the trivial predictor: "
            "their gains compare with models that did not learn, so do not act on "
            "this before they do (see the warning below)."
        )
    return references
