"""The trainings of a gain measurement: one joblib task each, cached, named.

Every training (one single-task model per task involved, one multi-task
model per group, per seed) is one joblib task, so any joblib backend runs
them: processes on one machine by default, a Dask or Ray cluster under
``joblib.parallel_config(backend=...)``. With a cache directory every
finished training is on disk as soon as it ends, and a rerun trains only
what is missing. A training that diverges or blows up is reported with the
dataset's task, the group and the seed, whichever process ran it.
"""

import itertools
import os
import threading
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from tqdm.auto import tqdm

from .._affinity.data_sources import ArrayRows, LabelledDataset, memory_map_of
from .._affinity.safeguards import NonFiniteLossError, TrainingBlewUpWarning
from .cache import (
    StoredTraining,
    TrainingStore,
    data_keys,
    estimator_key,
    training_key,
)
from .extractor_params import overrides_for, restrict_to_tasks


def _fit_and_score(extractor, X, Y, X_test, Y_test, seed, caller_pid):
    """Train one model on the columns of ``Y`` and return its test losses."""
    # In a worker process several trainings share the cores: one torch
    # thread each (torch would otherwise start one per core in each).
    n_threads = 1 if os.getpid() != caller_pid else None
    overrides = overrides_for(extractor, int(seed), n_threads)
    model = clone(extractor).set_params(**overrides)
    labelled = ~np.all(np.isnan(Y), axis=1)
    scored = ~np.all(np.isnan(Y_test), axis=1)
    # a Dataset's items, or a memory map's rows, with the training's label
    # columns: streamed, never copied
    X, X_test = _rows_of(X, Y), _rows_of(X_test, Y_test)
    if isinstance(X, LabelledDataset):
        model.fit(X.with_labels(labelled, Y))
    else:
        model.fit(X[labelled], Y[labelled])
    if isinstance(X_test, LabelledDataset):
        losses = model.task_losses(X_test.with_labels(scored, Y_test))
    else:
        losses = model.task_losses(X_test[scored], Y_test[scored])
    losses = np.asarray(losses, dtype=float)
    if losses.shape != (Y.shape[1],):
        raise ValueError(
            f"{type(extractor).__name__}.task_losses returned shape {losses.shape} "
            f"for {Y.shape[1]} task(s); it must return one loss per task."
        )
    return losses


def _rows_of(X, Y):
    """A memory map as :class:`ArrayRows` (labels ``Y``), anything else as is."""
    return ArrayRows(X, Y) if memory_map_of(X) is not None else X


class _Training:
    """Where one training sits in the measurement, to name it in messages."""

    def __init__(self, cols, seed, task_names):
        self.cols = list(cols)
        self.seed = int(seed)
        self.task_names = task_names

    def task(self, column):
        """The dataset's task behind ``column`` of this training's ``Y``."""
        task = self.cols[column]
        if self.task_names is None:
            return f"task {task}"
        return f"task {task} ({self.task_names[task]!r})"

    def __str__(self):
        if len(self.cols) == 1:
            return f"single-task training of task {self.cols[0]}, seed {self.seed}"
        return f"training of group {tuple(self.cols)}, seed {self.seed}"


def _train_watched(args, where):
    """``_fit_and_score(*args)`` as a :class:`StoredTraining`, with the
    task indices of divergence errors and blow-up warnings mapped to the
    dataset's tasks (in whichever process the training runs)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TrainingBlewUpWarning)
        try:
            # looked up at run time, not bound at import, so that patching
            # it (as the tests do) affects the run
            losses = _fit_and_score(*args)
        except NonFiniteLossError as exc:
            names = [where.task(t) for t in exc.tasks]
            raise ValueError(f"In the {where}: {exc.describe(names)}") from None
    blown_up = []
    for warning in caught:
        message = warning.message
        if isinstance(message, TrainingBlewUpWarning):
            blown_up += zip(message.tasks, message.start, message.end)
        else:
            warnings.warn_explicit(
                message, warning.category, warning.filename, warning.lineno
            )
    return StoredTraining(losses, blown_up)


def _exit_with_caller(caller_pid):
    """In a worker process the caller started, exit once the caller is gone.

    A caller killed hard (``SIGKILL``) cannot stop its joblib (loky)
    workers; they would finish their trainings, idle for minutes and keep
    their resource trackers alive. A daemon thread notices the worker being
    re-parented and ends it. Workers the caller did not start (a Dask
    cluster's) are left alone.
    """
    global _watched_caller
    if _watched_caller is not None or os.getpid() == caller_pid:
        return
    if os.getppid() != caller_pid:
        return
    _watched_caller = caller_pid

    def watch():
        while os.getppid() == caller_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="sklearn-etap-watch").start()


_watched_caller = None


def _training_job(ident, store, key, args, error_score, where):
    """Run one training (and store it); returns (ident, training, failure or None)."""
    _exit_with_caller(args[-1])
    try:
        training = _train_watched(args, where)
    except Exception as exc:
        if isinstance(error_score, str):
            raise
        failed = StoredTraining(np.full(len(where.cols), float(error_score)))
        return ident, failed, repr(exc)
    if store is not None:
        store.save(key, training)
    return ident, training, None


def _describe_blow_up(where, training):
    tasks = ", ".join(
        f"{where.task(t)} {a:.3g} -> {b:.3g}" for t, a, b in training.blown_up
    )
    return f"{where}: {tasks}"


# Trainings handed to joblib at once: enough to keep every worker busy, few
# enough that nothing grows with the number of trainings before they run.
_CHUNK = 256


def run_trainings(
    extractor,
    data,
    trainings,
    task_names,
    *,
    n_trainings,
    n_jobs,
    cache_dir,
    error_score,
    progress,
):
    """Test losses of every training on ``data`` (``X, Y, X_test, Y_test``).

    ``trainings`` yields ``(columns, repetition, seed)`` and is consumed as
    the trainings run, ``_CHUNK`` at a time (``n_trainings`` of them, for
    the progress bar). Returns ``{(columns, repetition): losses}``, the
    descriptions of the trainings that failed and of those that blew up.
    """
    X, Y, X_test, Y_test = data
    extractor = clone(extractor)
    caller_pid = os.getpid()
    store = None if cache_dir is None else TrainingStore(cache_dir)
    if store is not None:
        _warn_stale_entries(store)
        ext_key = estimator_key(extractor)
        features_key, column_keys = data_keys(*data)
    models, model_keys = {}, {}
    losses, failures, blown_up = {}, [], []
    n_cached = 0

    def record(ident, training, where, failure=None):
        losses[ident] = training.losses
        if failure is not None:
            failures.append(f"group {ident[0]}, seed {where.seed}: {failure}")
        if training.blown_up:
            blown_up.append(_describe_blow_up(where, training))

    with tqdm(
        total=n_trainings,
        desc="trainings",
        disable=not progress,
        unit="fit",
    ) as bar:
        for chunk in _chunks(trainings, _CHUNK):
            jobs, wheres = [], {}
            for cols, s, seed in chunk:
                cols = tuple(int(c) for c in cols)
                where = _Training(cols, seed, task_names)
                if cols not in models:
                    models[cols] = restrict_to_tasks(extractor, cols, Y.shape[1])
                model = models[cols]
                key = None
                if store is not None:
                    # A model cut to its tasks (per-task settings) is keyed by
                    # those settings: equal label columns with other task
                    # types or heads are other trainings.
                    if cols not in model_keys:
                        model_keys[cols] = (
                            ext_key if model is extractor else estimator_key(model)
                        )
                    key = training_key(
                        model_keys[cols],
                        features_key,
                        [column_keys[c] for c in cols],
                        seed,
                    )
                    stored = store.load(key, len(cols))
                    if stored is not None:
                        record((cols, s), stored, where)
                        n_cached += 1
                        bar.update()
                        continue
                wheres[cols, s] = where
                columns = list(cols)
                args = (model, X, Y[:, columns], X_test, Y_test[:, columns], seed)
                jobs.append(
                    delayed(_training_job)(
                        (cols, s), store, key, (*args, caller_pid), error_score, where
                    )
                )
            if n_cached:
                bar.set_description(f"trainings ({n_cached} cached)")
            for ident, training, failure in _parallel_unordered(jobs, n_jobs):
                record(ident, training, wheres[ident], failure)
                bar.update()
    return losses, failures, blown_up


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _warn_stale_entries(store):
    stale = store.stale_entries()
    if stale:
        listed = ", ".join(f"{name}: {n}" for name, n in sorted(stale.items()))
        warnings.warn(
            f"cache_dir holds {sum(stale.values())} training(s) stored by another "
            f"version of sklearn-etap or torch, or in an older format ({listed}). "
            "They are not reused, since another version may train differently; "
            f"this run stores its trainings in {store.folder.name}. Delete the "
            "other folders to free the space.",
            UserWarning,
            stacklevel=5,
        )


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
