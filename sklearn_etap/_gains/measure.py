"""Measure MTL gains: train STL and group models, compare their test losses.

This module checks the inputs, draws the seeds and turns the test losses into
:class:`MeasuredGains`; the trainings themselves run in :mod:`.runner`.
"""

import os
import warnings
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.utils import check_random_state
from torch.utils.data import Dataset

from .._task_names import check_task_names, names_from_columns
from .._validation import Interval, StrOptions, validate_params
from .extractor_params import overrides_for
from .inputs import check_data, check_extractor, check_labels, check_measured_groups
from .result import MeasuredGains
from .result_warnings import warn_about_result
from .runner import run_trainings
from .trivial import trivial_losses_of


@validate_params(
    {
        "extractor": "no_validation",  # duck-typed; checked with a named method
        "X": ["array-like", Dataset],
        "Y": ["array-like", None],
        "groups": [Iterable],
        "X_test": ["array-like", Dataset],
        "Y_test": ["array-like", None],
        "n_jobs": [Integral, None],
        "n_seeds": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "cache_dir": [str, os.PathLike, None],
        "error_score": [StrOptions({"raise"}), Real],
        "progress": ["boolean"],
        "task_names": ["array-like", None],
    },
    prefer_skip_nested_validation=False,
)
def measure_gains(
    extractor,
    X,
    Y,
    groups,
    X_test,
    Y_test,
    *,
    n_jobs=None,
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
        verbose=False, callbacks=None).fit(X_rows, Y_rows[:, list(group)])``
        (and ``n_threads=1`` in a worker process) followed by
        ``task_losses(X_test, Y_test[:, list(group)])``, where samples with
        no label in any column of the group are left out. The extractor's
        ``callbacks`` observe its own run only: the gain trainings run
        without them (and they are not part of the cache key).
    X : array-like of shape (n_samples, n_features) or Dataset
        Training inputs, or a ``torch.utils.data.Dataset`` of ``(x, y)``
        items (``y`` the label vector, NaN for missing; ``Y`` is then None).
        The Dataset's labels are read once (one pass over its items); each
        training streams the items with a label in its group, with the
        group's label columns.
    Y : array-like of shape (n_samples, n_tasks) or None
        Training targets, one column per task; NaN marks a missing label. The
        string column labels of a DataFrame name the tasks. None when ``X``
        is a Dataset.
    groups : iterable of iterables of int
        Distinct groups of at least 2 task indices (a single task has no
        MTL gain; its STL model is trained anyway when it is in a group).
    X_test : array-like of shape (n_test_samples, n_features) or Dataset
        Held-out inputs on which the gains are measured (a Dataset when
        ``X`` is one).
    Y_test : array-like of shape (n_test_samples, n_tasks) or None
        Held-out targets; every task in a group needs at least one label.
        None when ``X_test`` is a Dataset.
    n_jobs : int, default=None
        Number of trainings run at once by joblib; ``None`` means 1 unless
        in a ``joblib.parallel_config`` context, -1 means all processors.
        Under ``joblib.parallel_config(backend="dask")`` the trainings run
        on the Dask cluster.
    n_seeds : int, default=1
        Number of repetitions of every training with different seeds.
    random_state : int, RandomState instance or None, default=None
        Draws the seeds of the repetitions. ``None`` takes them from the
        extractor's ``random_state``, as a scikit-learn user seeds the
        estimator: ``TorchAffinityExtractor(random_state=0)`` gives the same
        gains on every call (the same as ``random_state=0`` here). With both
        ``None`` the gains differ from call to call. A fixed seed is needed
        to resume from ``cache_dir`` (a different seed is a different
        training).
    cache_dir : str or path-like, default=None
        Directory where each finished training is stored the moment it ends,
        as a small JSON file of numbers (never a pickle). Calling again with
        the same inputs and seeds trains only what is missing (e.g. after an
        interruption) and returns the same result. An entry that is damaged
        or does not match its key is trained again, with a warning. ``None``
        stores nothing.
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
        ``gains.seeds``, ``gains.trivial_loss`` and its flags
        ``stl_no_better_than_trivial``, ``mtl_no_better_than_trivial``;
        ``to_frame()``, ``save(path)`` and ``MeasuredGains.load(path)``.

    Raises
    ------
    ValueError
        When a training's loss becomes NaN or infinite and ``error_score`` is
        ``"raise"``; the message names the dataset's task (and its column
        name, for a DataFrame ``Y``), the group and the seed.

    Warns
    -----
    FitFailedWarning
        When trainings failed and ``error_score`` is a number.
    ConvergenceWarning
        When a training blew up: a task's training loss ended more than 10
        times above its loss before training (a learning rate far too
        large). The warning names the dataset's task, the group and the
        seed; such gains mean little.
    TrivialPredictorWarning
        When a single-task model is no better on the test split than its
        task's trivial predictor (training mean or base rate); the warning
        says what to change.
    UserWarning
        When a cache entry is invalid (it is trained again), or
        ``cache_dir`` holds trainings of another version of sklearn-etap or
        torch (they are counted, not reused).
    RuntimeWarning
        When a gain is undefined because a task's STL test loss is 0 or NaN
        (or an MTL loss is NaN); such gains are NaN.

    Notes
    -----
    Repetition ``s`` trains every model with ``random_state=seeds[s]``: the
    STL and MTL models of one repetition share their seed (common random
    numbers), and the seeds come from the seed source alone, so serial,
    parallel, Dask and resumed runs give identical losses on CPU.

    A cached training is identified by the extractor's class and parameters
    as given to that training (the parameters its class declares per task in
    ``per_task_params``, ``task_types`` and ``heads`` for
    ``TorchAffinityExtractor``, cut to its tasks; the parameters
    measure_gains sets itself, ``affinity``, ``random_state``, ``verbose``
    and ``n_threads``, excluded; a torch module by its class, weights and
    plain attributes; a class or function by its compiled code and the
    helpers, globals, closure and defaults it reads), the features, the task
    columns it saw, its seed and the
    versions of sklearn-etap and torch. The data is hashed once per call.
    Each entry is written to a temporary file and renamed into place, so a
    killed run loses no finished training and two processes sharing a
    directory never leave half an entry. A parameter whose state cannot be
    observed (no ``__dict__``, no pickle) is refused with ``cache_dir``.
    Only regular files are read from ``cache_dir``, bounded in size.

    The trainings are generated as they run (a few hundred at a time go to
    joblib), so a large ``n_seeds`` costs nothing before it starts.
    ``Y_test`` (and ``X_test``) given as DataFrames must have the columns of
    ``Y`` (and ``X``) in the same order.

    In worker processes torch is limited to one thread, so that ``n_jobs``
    trainings share the cores instead of oversubscribing them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor, measure_gains
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4))
    >>> Y = X[:, :3] + 0.1 * rng.normal(size=(60, 3))
    >>> ext = TorchAffinityExtractor(hidden_layer_sizes=(8,), max_epochs=20)
    >>> gains = measure_gains(ext, X[:40], Y[:40], [(0, 1), (0, 1, 2)],
    ...                       X[40:], Y[40:], random_state=0, progress=False)
    >>> gains.X.shape, gains.y.shape, gains.row_group.tolist()
    ((5, 6), (5,), [0, 0, 1, 1, 1])
    >>> bool(np.allclose(gains.y, (gains.stl_loss[[0, 1, 0, 1, 2]] - gains.mtl_loss)
    ...                  / gains.stl_loss[[0, 1, 0, 1, 2]]))
    True
    >>> # every single-task model beats its trivial predictor (training mean)
    >>> gains.stl_no_better_than_trivial.tolist()
    [False, False, False]
    """
    check_extractor(extractor)
    if task_names is None:
        task_names = names_from_columns(Y)
    X, Y, X_test, Y_test = check_data(X, Y, X_test, Y_test)
    n_tasks = Y.shape[1]
    task_names = check_task_names(task_names, n_tasks)
    groups = check_measured_groups(groups, n_tasks)
    tasks = sorted({t for g in groups for t in g})
    check_labels(Y, Y_test, tasks)
    if random_state is None:
        # A scikit-learn user seeds the estimator: its seed seeds the gains.
        random_state = extractor.get_params(deep=False)["random_state"]
    # Trainings are generated as they run, never listed up front, so the
    # memory does not grow with n_seeds before the first training starts.
    seeds = []
    seed_source = check_random_state(random_state)

    def trainings():
        for s in range(n_seeds):
            # one draw per repetition: the values randint(size=n_seeds) gives
            seeds.append(int(seed_source.randint(np.iinfo(np.int32).max)))
            # STL models first: the MTL gains of every group depend on them.
            for t in tasks:
                yield (t,), s, seeds[s]
            for g in groups:
                yield g, s, seeds[s]

    n_trainings = n_seeds * (len(tasks) + len(groups))
    losses, failures, blown_up = run_trainings(
        extractor,
        (X, Y, X_test, Y_test),
        trainings(),
        task_names,
        n_trainings=n_trainings,
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        error_score=error_score,
        progress=progress,
    )
    if blown_up:
        listed = "; ".join(blown_up[:5]) + ("; ..." if len(blown_up) > 5 else "")
        warnings.warn(
            f"{len(blown_up)} of {n_trainings} trainings blew up (a task's "
            f"training loss ended over 10 times above its start), so their gains "
            f"mean little: {listed}. Lower the extractor's learning_rate, "
            "standardize X and the regression columns of Y, or add weight_decay.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if failures:
        warnings.warn(
            f"{len(failures)} of {n_trainings} trainings failed; their test "
            f"losses are set to error_score={error_score!r}. First failure: "
            f"{failures[0]}",
            FitFailedWarning,
            stacklevel=3,
        )

    stl = np.full((n_tasks, n_seeds), np.nan)
    for t in tasks:
        stl[t] = [losses[(t,), s][0] for s in range(n_seeds)]
    mtl = np.array(
        [
            [losses[g, s][k] for s in range(n_seeds)]
            for g in groups
            for k in range(len(g))
        ],
        dtype=float,
    )
    gains = MeasuredGains(
        groups=groups,
        n_tasks=n_tasks,
        seeds=np.array(seeds, dtype=np.int64),
        stl_loss_per_seed=stl,
        mtl_loss_per_seed=mtl,
        metadata=_describe_run(extractor, X, X_test, random_state, len(failures)),
        task_names=task_names,
        trivial_loss=trivial_losses_of(extractor, Y, Y_test, tasks),
    )
    warn_about_result(gains)
    return gains


def _describe_run(extractor, X, X_test, random_state, n_failed):
    """JSON-ready settings of the trainings, as run (affinity off, seeded)."""
    params = extractor.get_params(deep=False)
    params.update(overrides_for(extractor, seed=None))
    described = {name: repr(value) for name, value in sorted(params.items())}
    described["random_state"] = "seeds (one per repetition)"
    return {
        "extractor": type(extractor).__name__,
        "extractor_params": described,
        "random_state": _json_seed(random_state),
        "n_train_samples": int(len(X)),
        "n_test_samples": int(len(X_test)),
        "n_failed_trainings": int(n_failed),
    }


def _json_seed(random_state):
    if random_state is None or isinstance(random_state, (bool, np.bool_)):
        return random_state
    if isinstance(random_state, Integral):
        return int(random_state)
    return repr(random_state)
