"""The job of ``etap run``: affinities, measured gains, ETAP, selection."""

import time
from math import comb

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.utils import Bunch

from .._affinity import TorchAffinityExtractor
from .._gains import measure_gains
from .._groups import encode_groups, sample_groups
from .._prediction import make_etap_search
from .._selection import GroupSelector
from .adaptive import measure_adaptively
from .data import UsageError
from .learned import advice, trivial_summary
from .references import all_tasks, reference_answers, subset_gains
from .targets import describe_scales, standardize_targets
from .training import extractor_params

#: GroupSelector's default limit on the candidate groups it enumerates.
MAX_CANDIDATES = 5000


def largest_group_size(n_tasks, max_candidates=MAX_CANDIDATES):
    """The largest group size whose candidates (sizes 2..k) stay enumerable."""
    size, count = 1, 0
    while size < n_tasks and count + comb(n_tasks, size + 1) <= max_candidates:
        size += 1
        count += comb(n_tasks, size)
    return size


def check_settings(options, n_tasks):
    """Raise UsageError for settings that cannot work on ``n_tasks`` tasks."""
    available = 2**n_tasks - n_tasks - 1
    if options.groups < 2:
        raise UsageError(
            f"--groups {options.groups}: measure at least 2 groups (ETAP is tuned "
            "by cross-validation over the measured groups)."
        )
    if options.groups > available:
        raise UsageError(
            f"--groups {options.groups}: {n_tasks} tasks have only {available} "
            "groups of 2 or more tasks; lower --groups."
        )
    if options.budget < 1:
        raise UsageError(f"--budget {options.budget}: choose at least 1 group.")


def run_job(data, options, say):
    """Run every step; return the summary (JSON-ready) and what the report plots.

    ``say`` prints a progress line (or nothing with ``--quiet``).
    """
    import torch

    # Small models gain nothing from intra-op threads, and on a busy CPU the
    # threads wait on each other.
    torch.set_num_threads(1)
    names = list(data.task_names)
    n_tasks = len(names)
    check_settings(options, n_tasks)
    progress = not options.quiet
    timings = {}
    target_scale = standardize_targets(data, options.standardize_targets)
    if describe_scales(target_scale):
        say(describe_scales(target_scale))

    start = time.perf_counter()
    extractor = TorchAffinityExtractor(
        device=options.device,
        random_state=options.seed,
        verbose=progress,
        **extractor_params(options),
    )
    say(f"[1/4] recording task affinities: one model on all {n_tasks} tasks")
    extractor.fit(data.X_train, data.Y_train)
    affinity = extractor.affinity_
    timings["affinity"] = time.perf_counter() - start

    max_size = largest_group_size(n_tasks)
    max_size = None if max_size >= n_tasks else max_size
    start = time.perf_counter()
    if options.measure == "adaptive":
        say(
            f"[2/4] measuring {options.groups} groups adaptively: half at random, "
            "then those ETAP would choose (ETAP refitted every round)"
        )
        result, all_gains = measure_adaptively(
            extractor, data, names, options, max_size, progress, [all_tasks(n_tasks)]
        )
        gains = subset_gains(all_gains, result.measured)
        search = result.estimator
        selection = Bunch(
            groups=result.groups,
            total=result.total_gain,
            task_gain=result.task_gain,
            task_group=result.task_group,
            basis="measured gains where known, ETAP's predictions elsewhere",
        )
    else:
        groups = sample_groups(n_tasks, options.groups, random_state=options.seed)
        say(
            f"[2/4] measuring the gains of {len(groups)} random groups, and of all "
            "tasks in one model (a reference answer)"
        )
        reference = [] if all_tasks(n_tasks) in groups else [all_tasks(n_tasks)]
        all_gains = measure_gains(
            extractor,
            data.X_train,
            data.Y_train,
            groups + reference,
            X_test=data.X_test,
            Y_test=data.Y_test,
            n_jobs=options.jobs,
            n_seeds=options.n_seeds,
            random_state=options.seed,
            progress=progress,
            task_names=names,
        )
        gains = subset_gains(all_gains, groups)
    together = subset_gains(all_gains, [all_tasks(n_tasks)])
    timings["measure_gains"] = time.perf_counter() - start

    start = time.perf_counter()
    say("[3/4] fitting ETAP: grid search cross-validated over the groups")
    X, y, row_group = gains.X, gains.y, gains.row_group
    y_per_seed = gains.y_per_seed
    keep = np.isfinite(y_per_seed).all(axis=1)
    if not keep.all():
        say(f"      leaving out {int((~keep).sum())} row(s) whose gain is undefined")
        X, y, row_group = X[keep], y[keep], row_group[keep]
        y_per_seed = y_per_seed[keep]
    n_measured = len(np.unique(row_group))
    if n_measured < 2:
        raise UsageError(
            "fewer than 2 measured groups have a defined gain; check the targets "
            "(a task whose test loss is 0 has no relative gain)."
        )
    if options.measure != "adaptive":
        search = make_etap_search(
            affinity, n_train_groups=n_measured, n_jobs=options.jobs, verbose=progress
        )
        search.fit(X, y, groups=row_group)
    # The adaptive search returns the fitted default ETAP, the grid search its best.
    model = getattr(search, "best_estimator_", search)
    out_of_fold = cross_val_predict(
        clone(model),
        X,
        y,
        groups=row_group,
        cv=GroupKFold(n_splits=min(5, n_measured)),
    )
    timings["etap"] = time.perf_counter() - start

    start = time.perf_counter()
    say(f"[4/4] choosing at most {options.budget} groups ({options.mode} mode)")
    if options.measure != "adaptive":
        selector = GroupSelector(
            model,
            n_groups=options.budget,
            mode=options.mode,
            max_group_size=max_size,
            task_names=names,
        )
        try:
            selector.fit(X, y)
        except ValueError as exc:
            raise UsageError(f"--budget {options.budget}: {exc}") from exc
        selection = Bunch(
            groups=selector.groups_,
            total=selector.predicted_gain_,
            task_gain=selector.task_gain_,
            task_group=selector.task_group_,
            basis="ETAP's predictions",
        )
    timings["selection"] = time.perf_counter() - start

    start = time.perf_counter()
    references = reference_answers(
        model,
        (X, y, y_per_seed, row_group),
        all_gains,
        together,
        selection,
        budget=options.budget,
        mode=options.mode,
        max_group_size=max_size,
        names=names,
    )
    timings["references"] = time.perf_counter() - start

    summary = _summary(data, options, extractor, gains, search, selection, timings)
    summary["references"] = references
    summary["trivial"] = trivial_summary(
        all_gains,
        extractor.task_losses(data.X_test, data.Y_test),
        advice(extractor.get_params(), options.standardize_targets),
    )
    summary["target_scale"] = target_scale
    summary["prediction"]["out_of_fold_pearson_r"] = _pearson(y, out_of_fold)
    plots = {
        "affinity": affinity,
        "task_names": names,
        "y_true": y,
        "y_pred": out_of_fold,
    }
    return summary, plots, all_gains


def _pearson(a, b):
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _number(value):
    value = float(value)
    return value if np.isfinite(value) else None


def _summary(data, options, extractor, gains, search, selection, timings):
    names = list(data.task_names)
    n_tasks = len(names)
    measured = {g: i for i, g in enumerate(gains.groups)}
    model = getattr(search, "best_estimator_", search)
    chosen = []
    for index, group in enumerate(selection.groups):
        predicted = model.predict(encode_groups([group], n_tasks))
        if len(group) == 1:
            predicted = np.zeros(1)  # a task trained alone gains nothing
        true = None
        if group in measured:
            rows = gains.row_group == measured[group]
            true = [_number(v) for v in gains.y[rows]]
        chosen.append(
            {
                "tasks": [names[t] for t in group],
                "task_indices": list(group),
                "predicted_gain": [_number(v) for v in predicted],
                "measured_gain": true,
                "scores_tasks": [
                    names[t] for t in range(n_tasks) if selection.task_group[t] == index
                ],
            }
        )
    return {
        "dataset": options.data if options.data else options.dataset,
        "task_names": names,
        "task_types": list(data.task_types),
        "n_train_samples": int(data.X_train.shape[0]),
        "n_test_samples": int(data.X_test.shape[0]),
        "n_features": int(data.X_train.shape[1]),
        "settings": {
            "groups": options.groups,
            "budget": options.budget,
            "mode": options.mode,
            "measure": options.measure,
            "seed": options.seed,
            "jobs": options.jobs,
            "device": str(extractor.device_),
            "epochs": int(extractor.max_epochs),
            "n_seeds": options.n_seeds,
            "standardize_targets": bool(options.standardize_targets),
            "training": {
                name: _jsonable(value) if not isinstance(value, tuple) else list(value)
                for name, value in sorted(extractor_params(options).items())
            },
        },
        "affinity": [[_number(v) for v in row] for row in extractor.affinity_],
        "measured_groups": [
            {
                "tasks": [names[t] for t in group],
                "gain": [_number(v) for v in gains.y[gains.row_group == i]],
            }
            for i, group in enumerate(gains.groups)
        ],
        "prediction": _prediction_summary(search),
        "selection": {
            "groups": chosen,
            "predicted_total_gain": _number(selection.total),
            "basis": selection.basis,
            "task_gain": {
                names[t]: _number(v) for t, v in enumerate(selection.task_gain)
            },
        },
        "seconds": {step: round(s, 2) for step, s in timings.items()},
    }


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)


def _prediction_summary(search):
    """What the report says of the fitted predictor: a grid search's choice, or
    the default ETAP's self-tuned penalties."""
    if hasattr(search, "best_params_"):
        return {
            "best_params": {k: _jsonable(v) for k, v in search.best_params_.items()},
            "cv_mean_squared_error": _number(-search.best_score_),
        }
    return {
        "estimator": type(search).__name__,
        "affinity_alpha": _number(search.affinity_estimator_.alpha_),
    }
