"""The ``measure`` callable of :func:`search_groups`: calling it, checking what
it returns, and building one from an extractor and data (``make_measure``).

Names: :func:`~sklearn_etap.measure_gains` measures the gains of given groups
(it trains them); ``measure`` is the callable :func:`search_groups` calls with
the groups it picked; :func:`make_measure` makes such a callable from
``measure_gains`` bound to one extractor and data. ``gains_measurer`` was
``make_measure``'s former name (deprecated).
"""

import os
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Mapping
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from .._gains import measure_gains
from .._validation import Interval, validate_params


class GroupMeasurementError(RuntimeError):
    """Measuring some groups failed during :func:`search_groups`.

    Nothing measured before the failure is lost: ``partial`` holds it, and
    ``search_groups(..., measured=error.partial.measured)`` resumes the
    search without measuring those groups again (with the same
    ``random_state``, the resumed search measures what the uninterrupted one
    would have).

    Parameters
    ----------
    message : str
        What failed.
    groups : list of tuple of int
        Stored as ``groups``.
    partial : :class:`~sklearn.utils.Bunch`
        Stored as ``partial``.

    Attributes
    ----------
    groups : list of tuple of int
        The groups of the call to ``measure`` that failed (one group when
        ``batch_size=1``, or the group whose gains were invalid).
    partial : :class:`~sklearn.utils.Bunch`
        ``measured`` (``{group: member gains}`` of every group measured
        before the failure, in the order measured), ``history`` (the
        completed rounds) and ``n_measured``.
    """

    def __init__(self, message, groups, partial):
        super().__init__(message)
        self.groups = groups
        self.partial = partial


class InvalidGains(ValueError):
    """``measure`` returned missing or invalid gains for ``group``."""

    def __init__(self, message, group):
        super().__init__(message)
        self.group = group


def call_measure(measure, groups):
    """``measure(groups)`` as ``{group: member gains}``, checked.

    ``measure`` may return a :class:`~sklearn_etap.MeasuredGains` (or any
    object with ``groups``, ``y`` and ``row_group``), a mapping ``{group:
    gains}``, or a sequence with one array of member gains per group; member
    gains are in ascending task order. Raises ``ValueError`` naming the first
    group whose gains are missing, misshapen or not finite.
    """
    returned = measure(list(groups))
    if all(hasattr(returned, name) for name in ("groups", "y", "row_group")):
        y, row_group = np.asarray(returned.y), np.asarray(returned.row_group)
        by_group = {
            tuple(sorted(g)): y[row_group == i] for i, g in enumerate(returned.groups)
        }
    elif isinstance(returned, Mapping):
        by_group = {tuple(sorted(g)): v for g, v in returned.items()}
    else:
        try:
            values = list(returned)
        except TypeError:
            raise TypeError(
                f"measure returned {type(returned).__name__}; it must return a "
                "MeasuredGains, a {group: member gains} mapping or one array of "
                "member gains per group."
            ) from None
        if len(values) != len(groups):
            raise ValueError(
                f"measure returned {len(values)} entries for {len(groups)} groups "
                f"{list(groups)}; return one array of member gains per group."
            )
        by_group = dict(zip(groups, values))
    gains = {}
    for group in groups:
        if group not in by_group:
            raise InvalidGains(
                f"measure returned no gains for group {group}; it must return "
                "the gains of every group it is given.",
                group,
            )
        values = np.atleast_1d(np.asarray(by_group[group], dtype=float))
        if values.shape != (len(group),):
            shape = (
                f"gains of shape {values.shape}"
                if values.ndim > 1
                else f"{values.size} gain(s)"
            )
            hint = ", e.g. np.ravel(gains)" if values.size == len(group) else ""
            raise InvalidGains(
                f"measure returned {shape} for group {group} of {len(group)} "
                f"tasks; give a 1-D array of one gain per member, shape "
                f"({len(group)},){hint}, in ascending task order.",
                group,
            )
        if not np.isfinite(values).all():
            raise InvalidGains(
                f"measure returned a non-finite gain for group {group}: "
                f"{values.tolist()} (a training that failed or diverged?).",
                group,
            )
        gains[group] = values
    return gains


class _MeasureGainsOnData:
    """``measure(groups)`` for :func:`search_groups`, through ``measure_gains``."""

    def __init__(self, extractor, data, *, n_jobs, cache_dir, seed, n_seeds, progress):
        self.extractor = extractor
        self.data = data
        self.n_jobs = n_jobs
        self.seed = seed
        self.n_seeds = n_seeds
        self.progress = progress
        if cache_dir is None:
            # The single-task models are shared by every call: keep them in a
            # private cache, removed with this object.
            cache_dir = tempfile.mkdtemp(prefix="sklearn_etap_gains_")
            self._cleanup = weakref.finalize(
                self, shutil.rmtree, cache_dir, ignore_errors=True
            )
        self.cache_dir = cache_dir

    def __call__(self, groups):
        X, Y, X_test, Y_test = self.data
        return measure_gains(
            self.extractor,
            X,
            Y,
            groups,
            X_test,
            Y_test,
            n_jobs=self.n_jobs,
            n_seeds=self.n_seeds,
            random_state=self.seed,
            cache_dir=self.cache_dir,
            progress=self.progress,
        )


@validate_params(
    {
        "extractor": [object],
        "X": ["array-like"],
        "Y": ["array-like"],
        "X_test": ["array-like"],
        "Y_test": ["array-like"],
        "n_jobs": [Integral, None],
        "cache_dir": [str, os.PathLike, None],
        "n_seeds": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "progress": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_measure(
    extractor,
    X,
    Y,
    X_test,
    Y_test,
    *,
    n_jobs=None,
    cache_dir=None,
    n_seeds=1,
    random_state=0,
    progress=False,
):
    """Make the ``measure`` callable of :func:`search_groups` from real trainings.

    ``measure(groups)`` calls :func:`~sklearn_etap.measure_gains` on the
    given groups with the data and settings fixed here; every call uses the
    same seeds, so the single-task models are trained once and read from the
    cache afterwards, and a search resumed after an interruption reads every
    finished training from ``cache_dir``.

    Parameters
    ----------
    extractor : TorchAffinityExtractor
        Its settings define every model trained.
    X, Y : array-like
        Training inputs and targets (one column per task, NaN = missing).
    X_test, Y_test : array-like
        Held-out data on which the gains are measured.
    n_jobs : int, default=None
        Trainings run at once by joblib (with ``batch_size > 1`` in
        :func:`search_groups`, the groups of a batch train in parallel).
    cache_dir : str or path-like, default=None
        Where finished trainings are kept. ``None`` uses a temporary
        directory removed with the callable (a new process starts anew).
    n_seeds : int, default=1
        Repetitions of every training; their gains are averaged.
    random_state : int, RandomState instance or None, default=0
        Draws the trainings' seeds, once, when the callable is built.
    progress : bool, default=False
        Show ``measure_gains``' progress bar in each call.

    Returns
    -------
    measure : callable
        ``measure(groups)`` returns a :class:`~sklearn_etap.MeasuredGains`;
        its ``cache_dir`` attribute is the cache in use.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor, make_measure
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4))
    >>> Y = X[:, :3] + 0.1 * rng.normal(size=(60, 3))
    >>> ext = TorchAffinityExtractor(hidden_layer_sizes=(8,), max_epochs=3)
    >>> measure = make_measure(ext, X[:40], Y[:40], X[40:], Y[40:])
    >>> measure([(0, 1)]).y.shape
    (2,)
    """
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    return _MeasureGainsOnData(
        extractor,
        (X, Y, X_test, Y_test),
        n_jobs=n_jobs,
        cache_dir=cache_dir,
        seed=seed,
        n_seeds=n_seeds,
        progress=progress,
    )


def gains_measurer(*args, **kwargs):
    """Deprecated: renamed :func:`make_measure` (same parameters and result).

    ``gains_measurer`` is removed in 0.3; it warns with ``FutureWarning``.
    """
    warnings.warn(
        "gains_measurer was renamed make_measure (same parameters); "
        "gains_measurer will be removed in sklearn-etap 0.3.",
        FutureWarning,
        stacklevel=2,
    )
    return make_measure(*args, **kwargs)
