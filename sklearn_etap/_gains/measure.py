"""Measure MTL gains: train STL and group models, compare their test losses.

Every training (one single-task model per task involved, one multi-task
model per group, per seed) is one joblib task, so any joblib backend runs
them: processes on one machine by default, a Dask or Ray cluster under
``joblib.parallel_config(backend=...)``. With a cache directory every
finished training is on disk as soon as it ends, and a rerun trains only
what is missing.
"""

import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_consistent_length
from tqdm.auto import tqdm

from .._groups import check_groups
from .._task_names import check_task_names, names_from_columns
from .cache import TrainingStore, data_keys, estimator_key, training_key
from .result import MeasuredGains

# Extractor parameters that may hold one entry per task (column of Y).
_PER_TASK_PARAMS = ("task_types", "heads")


def measure_gains(
    extractor,
    X,
    Y,
    groups,
    X_test,
    Y_test,
    n_jobs=None,
    *,
    n_seeds=1,
    random_state=None,
    cache_dir=None,
    error_score="raise",
    progress=True,
    task_names=None,
):
    """Measure the MTL gain of every member task of every group.

    For each task in some group a single-task (STL) model, and for each group
    one multi-task (MTL) model, are trained on ``X, Y`` with the extractor's
    settings (affinity recording off) and scored on ``X_test, Y_test``. The
    gain of task ``t`` in group ``G`` is

        ``(L_t(STL) - L_t(MTL on G)) / L_t(STL)``

    (positive: training with the group helps ``t``). With ``n_seeds > 1``
    every model is trained once per seed; the gains of the repetitions are
    averaged and their spread is kept (``y_std``, ``y_per_seed``), trading
    compute for less noise.

    Parameters
    ----------
    extractor : TorchAffinityExtractor
        Its settings define every model trained (the fitted state, if any, is
        not used). Each training is
        ``clone(extractor).set_params(affinity=None, random_state=seed,
        verbose=False).fit(X_rows, Y_rows[:, list(group)])`` followed by
        ``task_losses(X_test, Y_test[:, list(group)])``, where samples with
        no label in any column of the group are left out.
    X : array-like of shape (n_samples, n_features)
        Training inputs.
    Y : array-like of shape (n_samples, n_tasks)
        Training targets, one column per task; NaN marks a missing label. The
        string column labels of a DataFrame name the tasks.
    groups : iterable of iterables of int
        Distinct groups of at least 2 task indices (a single task has no
        MTL gain; its STL model is trained anyway when it is in a group).
    X_test : array-like of shape (n_test_samples, n_features)
        Held-out inputs on which the gains are measured.
    Y_test : array-like of shape (n_test_samples, n_tasks)
        Held-out targets; every task in a group needs at least one label.
    n_jobs : int, default=None
        Number of trainings run at once by joblib; ``None`` means 1 unless
        in a ``joblib.parallel_config`` context, -1 means all processors.
        Under ``joblib.parallel_config(backend="dask")`` the trainings run
        on the Dask cluster.
    n_seeds : int, default=1
        Number of repetitions of every training with different seeds.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds of the repetitions. Pass an int for reproducible
        gains, and to resume from ``cache_dir`` (a different seed is a
        different training).
    cache_dir : str or path-like, default=None
        Directory where each finished training is stored the moment it ends.
        Calling again with the same inputs and ``random_state`` trains only
        what is missing (e.g. after an interruption) and returns the same
        result. ``None`` stores nothing.
    error_score : "raise" or float, default="raise"
        What a training that raises (e.g. a loss that diverged to NaN) gives:
        ``"raise"`` stops the measurement with its error (finished trainings
        stay in ``cache_dir``); a number, typically ``np.nan``, becomes the
        test loss of every task of that model, with a ``FitFailedWarning``,
        so its gains are NaN. Failed trainings are not cached.
    progress : bool, default=True
        Show a progress bar over the trainings.
    task_names : list of str, default=None
        One name per column of ``Y``, kept in the result (``names``,
        ``group_names``, the saved CSV). ``None``: the column labels of a
        DataFrame ``Y``, else the task indices.

    Returns
    -------
    gains : MeasuredGains
        ``gains.X`` (``encode_groups(groups, n_tasks)``), ``gains.y``
        (gains aligned with its rows), ``gains.row_group``,
        ``gains.stl_loss`` (per task, NaN for tasks in no group),
        ``gains.mtl_loss`` (per row), ``gains.y_std``, ``gains.y_per_seed``,
        ``gains.seeds``; ``to_frame()``, ``save(path)`` and
        ``MeasuredGains.load(path)``.

    Warns
    -----
    FitFailedWarning
        When trainings failed and ``error_score`` is a number.
    RuntimeWarning
        When a gain is undefined because a task's STL test loss is 0 or NaN
        (or an MTL loss is NaN); such gains are NaN.

    Notes
    -----
    Repetition ``s`` trains every model with ``random_state=seeds[s]``: the
    STL and MTL models of one repetition share their seed (common random
    numbers), and the seeds come from ``random_state`` alone, so serial,
    parallel, Dask and resumed runs give identical losses on CPU.

    A cached training is identified by the extractor's class and parameters
    as given to that training (per-task ``task_types`` and ``heads`` cut to
    its tasks; ``affinity``, ``random_state`` and ``verbose`` excluded, a
    torch module by its weights), the features, the task columns it saw and
    its seed. The
    data is hashed once per call. The cache is written by
    :class:`joblib.Memory`, one file per training, renamed into place when
    complete.

    In worker processes torch is limited to one thread, so that ``n_jobs``
    trainings share the cores instead of oversubscribing them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor, measure_gains
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4))
    >>> Y = X[:, :3] + 0.1 * rng.normal(size=(60, 3))
    >>> ext = TorchAffinityExtractor(hidden_layer_sizes=(8,), max_epochs=3)
    >>> gains = measure_gains(ext, X[:40], Y[:40], [(0, 1), (0, 1, 2)],
    ...                       X[40:], Y[40:], random_state=0, progress=False)
    >>> gains.X.shape, gains.y.shape, gains.row_group.tolist()
    ((5, 6), (5,), [0, 0, 1, 1, 1])
    >>> bool(np.allclose(gains.y, (gains.stl_loss[[0, 1, 0, 1, 2]] - gains.mtl_loss)
    ...                  / gains.stl_loss[[0, 1, 0, 1, 2]]))
    True
    """
    _check_extractor(extractor)
    if task_names is None:
        task_names = names_from_columns(Y)
    X, Y, X_test, Y_test = _check_data(X, Y, X_test, Y_test)
    n_tasks = Y.shape[1]
    task_names = check_task_names(task_names, n_tasks)
    groups = _check_measured_groups(groups, n_tasks)
    tasks = sorted({t for g in groups for t in g})
    _check_labels(Y, Y_test, tasks)
    if (
        isinstance(n_seeds, (bool, np.bool_))
        or not isinstance(n_seeds, Integral)
        or n_seeds < 1
    ):
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}.")
    if not (
        (isinstance(error_score, str) and error_score == "raise")
        or (isinstance(error_score, Real) and not isinstance(error_score, bool))
    ):
        raise ValueError(
            f"error_score must be 'raise' or a number such as np.nan, got "
            f"{error_score!r}."
        )
    seeds = check_random_state(random_state).randint(
        np.iinfo(np.int32).max, size=n_seeds
    )

    # STL models first: the MTL gains of every group depend on them.
    trainings = [((t,), s) for s in range(n_seeds) for t in tasks]
    trainings += [(g, s) for s in range(n_seeds) for g in groups]
    losses, failures = _run_trainings(
        extractor,
        (X, Y, X_test, Y_test),
        trainings,
        seeds,
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        error_score=error_score,
        progress=progress,
    )
    if failures:
        warnings.warn(
            f"{len(failures)} of {len(trainings)} trainings failed; their test "
            f"losses are set to error_score={error_score!r}. First failure: "
            f"{failures[0]}",
            FitFailedWarning,
            stacklevel=2,
        )

    stl = np.full((n_tasks, n_seeds), np.nan)
    mtl_by_group = {}
    for (cols, s), loss in zip(trainings, losses):
        if len(cols) == 1:
            stl[cols[0], s] = loss[0]
        else:
            mtl_by_group[cols, s] = loss
    mtl = np.array(
        [
            [mtl_by_group[g, s][k] for s in range(n_seeds)]
            for g in groups
            for k in range(len(g))
        ],
        dtype=float,
    )
    gains = MeasuredGains(
        groups=groups,
        n_tasks=n_tasks,
        seeds=seeds,
        stl_loss_per_seed=stl,
        mtl_loss_per_seed=mtl,
        metadata=_describe_run(extractor, X, X_test, random_state, len(failures)),
        task_names=task_names,
    )
    _warn_undefined_gains(gains)
    return gains


def _fit_and_score(extractor, X, Y, X_test, Y_test, seed, caller_pid):
    """Train one model on the columns of ``Y`` and return its test losses."""
    if os.getpid() != caller_pid:
        # A worker process: several trainings share the cores, so one
        # thread each (torch would otherwise start one per core in each).
        torch.set_num_threads(1)
    model = clone(extractor).set_params(**_training_overrides(extractor, int(seed)))
    labelled = ~np.all(np.isnan(Y), axis=1)
    model.fit(X[labelled], Y[labelled])
    scored = ~np.all(np.isnan(Y_test), axis=1)
    losses = np.asarray(model.task_losses(X_test[scored], Y_test[scored]), dtype=float)
    if losses.shape != (Y.shape[1],):
        raise ValueError(
            f"{type(extractor).__name__}.task_losses returned shape {losses.shape} "
            f"for {Y.shape[1]} task(s); it must return one loss per task."
        )
    return losses


def _training_overrides(extractor, seed):
    """The parameters every training sets, among those the extractor has:
    affinity recording off, quiet, seeded (the cache key leaves them out)."""
    overrides = {"affinity": None, "random_state": seed, "verbose": False}
    known = extractor.get_params(deep=False)
    return {name: value for name, value in overrides.items() if name in known}


def _training_job(index, store, key, args, error_score):
    """Run (or load) one training; returns (index, losses, failure or None)."""
    # _fit_and_score is looked up at run time, not bound at import, so that
    # patching it (as the tests do) affects the run.
    try:
        if store is None:
            return index, _fit_and_score(*args), None
        return index, store.run(_fit_and_score, args, key), None
    except Exception as exc:
        if isinstance(error_score, str):
            raise
        return index, np.full(args[2].shape[1], float(error_score)), repr(exc)


def _run_trainings(
    extractor, data, trainings, seeds, *, n_jobs, cache_dir, error_score, progress
):
    """Losses of every (columns, seed index) training on ``data`` (``X, Y,
    X_test, Y_test``), in the order given, and the descriptions of the
    trainings that failed."""
    X, Y, X_test, Y_test = data
    extractor = clone(extractor)
    caller_pid = os.getpid()
    store = None if cache_dir is None else TrainingStore(cache_dir)
    if store is not None:
        ext_key = estimator_key(extractor)
        features_key, column_keys = data_keys(*data)
    results = [None] * len(trainings)
    jobs = []
    for index, (cols, s) in enumerate(trainings):
        cols = list(cols)
        model = _restrict_to_tasks(extractor, cols, Y.shape[1])
        args = (model, X, Y[:, cols], X_test, Y_test[:, cols], seeds[s], caller_pid)
        key = None
        if store is not None:
            # A model cut to its tasks (per-task settings) is keyed by those
            # settings: equal label columns with other task types or heads
            # are other trainings.
            model_key = ext_key if model is extractor else estimator_key(model)
            key = training_key(
                model_key, features_key, [column_keys[c] for c in cols], seeds[s]
            )
            if store.contains(key):
                results[index] = store.run(None, None, key)
                continue
        jobs.append(delayed(_training_job)(index, store, key, args, error_score))

    n_done = len(trainings) - len(jobs)
    with tqdm(
        total=len(trainings),
        initial=n_done,
        desc="trainings" + (f" ({n_done} cached)" if n_done else ""),
        disable=not progress,
        unit="fit",
    ) as bar:
        failures = []
        for index, losses, failure in _parallel_unordered(jobs, n_jobs):
            results[index] = losses
            if failure is not None:
                cols, s = trainings[index]
                failures.append(f"group {cols}, seed {seeds[s]}: {failure}")
            bar.update()
    return results, failures


def _restrict_to_tasks(extractor, cols, n_tasks):
    """The extractor for a model of the tasks ``cols`` only.

    Parameters given per task (a list of ``task_types``, a list of
    ``heads``) are cut to the chosen tasks; everything else is unchanged.
    """
    params = extractor.get_params(deep=False)
    per_task = {
        name: [value[c] for c in cols]
        for name, value in params.items()
        if name in _PER_TASK_PARAMS
        and isinstance(value, (list, tuple))
        and len(value) == n_tasks
    }
    return clone(extractor).set_params(**per_task) if per_task else extractor


def _parallel_unordered(jobs, n_jobs):
    """Results of ``jobs`` as they finish (in order for backends that cannot)."""
    if not jobs:
        return []
    try:
        return Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
    except ValueError as exc:
        # joblib refuses generators on a few backends (multiprocessing);
        # it raises before running anything, so running again is safe.
        if "return_as" not in str(exc):
            raise
        return Parallel(n_jobs=n_jobs)(jobs)


def _check_extractor(extractor):
    for method in ("get_params", "set_params", "fit", "task_losses"):
        if not callable(getattr(extractor, method, None)):
            raise TypeError(
                f"extractor must be an estimator with get_params, set_params, fit "
                f"and task_losses, such as TorchAffinityExtractor; "
                f"{type(extractor).__name__} has no {method}."
            )
    if "random_state" not in extractor.get_params(deep=False):
        raise TypeError(
            f"{type(extractor).__name__} has no random_state parameter; "
            "measure_gains seeds every training through it."
        )


def _check_data(X, Y, X_test, Y_test):
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    X_test = check_array(X_test, dtype=[np.float64, np.float32], input_name="X_test")
    Y = _check_targets(Y, "Y")
    Y_test = _check_targets(Y_test, "Y_test")
    check_consistent_length(X, Y)
    check_consistent_length(X_test, Y_test)
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(
            f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}; "
            "both must describe the samples with the same features."
        )
    if Y_test.shape[1] != Y.shape[1]:
        raise ValueError(
            f"Y_test has {Y_test.shape[1]} task columns but Y has {Y.shape[1]}; "
            "both need one column per task, in the same order."
        )
    return X, Y, X_test, Y_test


def _check_targets(Y, name):
    if np.ndim(Y) != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_tasks) with one column per task; "
            f"got {np.ndim(Y)} dimension(s). Gains compare tasks trained together, "
            "so there must be several task columns."
        )
    return check_array(
        Y, dtype=np.float64, ensure_all_finite="allow-nan", input_name=name
    )


def _check_measured_groups(groups, n_tasks):
    groups = check_groups(groups, n_tasks)
    for position, group in enumerate(groups):
        if len(group) < 2:
            raise ValueError(
                f"group {position} {group} has a single task; a gain compares a "
                "task trained with others against the task trained alone, so "
                "groups need at least 2 tasks (the single-task models are "
                "trained anyway)."
            )
    if not groups:
        raise ValueError(
            "groups is empty; pass at least one group of two or more tasks, "
            "e.g. from sample_groups."
        )
    return groups


def _check_labels(Y, Y_test, tasks):
    for name, targets in (("Y", Y), ("Y_test", Y_test)):
        missing = [t for t in tasks if np.all(np.isnan(targets[:, t]))]
        if missing:
            raise ValueError(
                f"task(s) {missing} have no label in {name} (all NaN); a gain "
                "needs both training and test labels. Drop those tasks from "
                "the groups."
            )


def _warn_undefined_gains(gains):
    undefined = ~np.isfinite(gains.y_per_seed)
    if undefined.any():
        tasks = sorted(set(gains.row_task[undefined.any(axis=1)].tolist()))
        warnings.warn(
            f"{int(undefined.any(axis=1).sum())} gain(s) of task(s) {tasks} are "
            "NaN: their STL test loss is 0 or NaN, or a model's loss is NaN, so "
            "the relative loss reduction is undefined.",
            RuntimeWarning,
            stacklevel=3,
        )


def _describe_run(extractor, X, X_test, random_state, n_failed):
    """JSON-ready settings of the trainings, as run (affinity off, seeded)."""
    params = extractor.get_params(deep=False)
    params.update(_training_overrides(extractor, seed=None))
    described = {name: repr(value) for name, value in sorted(params.items())}
    described["random_state"] = "seeds (one per repetition)"
    return {
        "extractor": type(extractor).__name__,
        "extractor_params": described,
        "random_state": _json_seed(random_state),
        "n_train_samples": int(X.shape[0]),
        "n_test_samples": int(X_test.shape[0]),
        "n_failed_trainings": int(n_failed),
    }


def _json_seed(random_state):
    if random_state is None or isinstance(random_state, (bool, np.bool_)):
        return random_state
    if isinstance(random_state, Integral):
        return int(random_state)
    return repr(random_state)
