"""The job of ``etap run``: affinities, measured gains, ETAP, selection."""

import time
from contextlib import contextmanager

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from .._affinity import TorchAffinityExtractor
from .._groups import encode_groups
from .choosing import candidate_groups, choose_groups, measured_table, selection_status
from .data import UsageError
from .learned import advice, trivial_summary
from .linearized_check import linearized_agreement
from .measuring import MEASUREMENTS
from .references import all_tasks, qualify_unlearned, reference_answers, subset_gains
from .resume import fit_affinity_model
from .scaling import MeasuredGainsTable, resolve_settings
from .targets import describe_scales, standardize_targets
from .training import extractor_params, short_training_interval


@contextmanager
def one_thread_each():
    """Torch's and the BLAS libraries' threads limited to one inside, and
    restored after.

    The job's models are small: threads only wait on each other, more so on
    a busy CPU, and the trainings run in parallel processes already.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def run_job(data, options, say):
    """Run every step; return the summary (JSON-ready) and what the report plots.

    ``say`` prints a progress line (or nothing with ``--quiet``).
    """
    with one_thread_each():
        return _run_job(data, options, say)


def _run_job(data, options, say):
    """One pipeline: affinities, the measuring step ``--measure`` picks, the
    predictor it names (none when every group was measured), the selection,
    the reference answers."""
    names = list(data.task_names)
    n_tasks = len(names)
    settings = resolve_settings(options, n_tasks)
    options.groups, options.budget = settings.groups, settings.budget
    progress = not options.quiet
    step = MEASUREMENTS[options.measure]()
    timings = {}
    target_scale = standardize_targets(data, options.standardize_targets)
    if describe_scales(target_scale):
        say(describe_scales(target_scale))

    start = time.perf_counter()
    params = extractor_params(options)
    extractor = TorchAffinityExtractor(
        device=options.device,
        random_state=options.seed,
        verbose=progress,
        **params,
    )
    say(f"[1/4] recording task affinities: one model on all {n_tasks} tasks")
    restored = fit_affinity_model(
        extractor, data.X_train, data.Y_train, options.cache_dir
    )
    every = short_training_interval(extractor)
    if every is not None:
        say(f"      a short training: recording one step in {every}")
    if restored:
        say(f"      restored from --cache-dir {options.cache_dir}: not trained again")
    affinity = extractor.affinity_
    timings["affinity"] = time.perf_counter() - start

    start = time.perf_counter()
    say(step.announce(options.groups, settings.exhaustive))
    max_size = None if settings.max_size >= n_tasks else settings.max_size
    gains, all_gains = step.measure(extractor, data, names, options, max_size, progress)
    together = subset_gains(all_gains, [all_tasks(n_tasks)])
    timings["measure_gains"] = time.perf_counter() - start

    start = time.perf_counter()
    X, y, row_group = gains.X, gains.y, gains.row_group
    y_per_seed = gains.y_per_seed
    keep = np.isfinite(y_per_seed).all(axis=1)
    if not keep.all():
        say(f"      leaving out {int((~keep).sum())} row(s) whose gain is undefined")
        X, y, row_group = X[keep], y[keep], row_group[keep]
        y_per_seed = y_per_seed[keep]
    n_measured = len(np.unique(row_group))
    if settings.exhaustive:
        say(
            f"[3/4] no predictor needed: all {settings.n_available} group(s) of 2 "
            "or more tasks were measured; choosing from the measured gains"
        )
        search, fit_params = MeasuredGainsTable(), {}
    elif n_measured < 2:
        raise UsageError(
            "fewer than 2 measured groups have a defined gain; check the "
            "targets (a task whose test loss is 0 has no relative gain)."
        )
    else:
        search, fit_params = step.predictor(affinity, row_group, options, progress, say)
    search.fit(X, y, **fit_params)
    model = getattr(search, "best_estimator_", search)
    out_of_fold = None
    if not settings.exhaustive:
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
    if settings.exhaustive:
        candidates, member_gains = measured_table(gains)
        basis = "measured gains (every group was measured)"
    else:
        candidates = candidate_groups(
            n_tasks, settings.max_size, [*gains.groups, all_tasks(n_tasks)]
        )
        member_gains = step.selection_gains(model, candidates, all_gains)
        basis = step.basis
    selection = choose_groups(
        candidates,
        member_gains,
        n_tasks,
        budget=options.budget,
        mode=options.mode,
        time_limit=options.time_limit,
        say=say,
        basis=basis,
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
        time_limit=options.time_limit,
    )
    timings["references"] = time.perf_counter() - start

    linearized = None
    if options.linearized:
        start = time.perf_counter()
        say("      checking the linearized gain estimate against the measured gains")
        linearized = linearized_agreement(extractor, data, all_gains, options.seed)
        timings["linearized"] = time.perf_counter() - start

    summary = _summary(
        data, options, extractor, gains, search, selection, timings, all_gains
    )
    summary["linearized"] = linearized
    summary["references"] = references
    summary["trivial"] = trivial_summary(
        all_gains,
        extractor.task_losses(data.X_test, data.Y_test),
        advice(extractor.get_params(), options.standardize_targets),
    )
    qualify_unlearned(references, summary["trivial"]["stl_flagged"])
    summary["target_scale"] = target_scale
    summary["prediction"]["out_of_fold_pearson_r"] = (
        None if out_of_fold is None else _pearson(y, out_of_fold)
    )
    summary["selection"].update(selection_status(selection))
    summary["settings"].update(
        time_limit=options.time_limit,
        max_group_size=settings.max_size,
        every_group_measured=settings.exhaustive,
    )
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


def _summary(data, options, extractor, gains, search, selection, timings, known):
    """``known``: every measured group, all tasks together included, so a chosen
    group that was trained shows its measured gain."""
    names = list(data.task_names)
    n_tasks = len(names)
    measured = {g: i for i, g in enumerate(known.groups)}
    model = getattr(search, "best_estimator_", search)
    chosen = []
    for index, group in enumerate(selection.groups):
        predicted = model.predict(encode_groups([group], n_tasks))
        if len(group) == 1:
            predicted = np.zeros(1)  # a task trained alone gains nothing
        true = None
        if group in measured:
            rows = known.row_group == measured[group]
            true = [_number(v) for v in known.y[rows]]
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
    if isinstance(search, MeasuredGainsTable):
        return {"estimator": "none: every group was measured"}
    if hasattr(search, "best_params_"):
        return {
            "best_params": {k: _jsonable(v) for k, v in search.best_params_.items()},
            "cv_mean_squared_error": _number(-search.best_score_),
        }
    return {
        "estimator": type(search).__name__,
        "affinity_alpha": _number(search.affinity_estimator_.alpha_),
    }
