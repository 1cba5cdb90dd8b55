"""``search_groups``: measure a few groups, predict the rest, measure the
groups the strategy picks, repeat until the trainings are spent, select."""

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_array

from .._groups import encode_groups
from .._selection.entry import enumerate_candidates
from .._selection.problem import MODES
from .._validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from .inputs import check_budget, check_measured, resolve_n_initial
from .measure import GroupMeasurementError, InvalidGains, call_measure
from .predictor import bootstrap_spread, fit_predictor, make_predictor, rows_of
from .strategies import (
    NEEDS_SPREAD,
    STRATEGIES,
    hybrid_gains,
    initial_design,
    propose,
    select,
)


@validate_params(
    {
        "measure": [callable],
        "n_tasks": [Interval(Integral, 2, None, closed="left")],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "n_measured": [Interval(Integral, 1, None, closed="left")],
        "affinity": ["array-like", None],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "mode": [StrOptions(set(MODES))],
        "n_initial": [Interval(Integral, 2, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions(set(STRATEGIES))],
        "max_group_size": [Interval(Integral, 2, None, closed="left"), None],
        "measured": [Mapping, None],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=False,
)
def search_groups(
    measure,
    n_tasks,
    *,
    n_groups,
    n_measured,
    affinity=None,
    estimator=None,
    mode="overlap",
    n_initial=None,
    batch_size=1,
    strategy="exploit",
    max_group_size=None,
    measured=None,
    time_limit=None,
    random_state=None,
    verbose=0,
):
    """Choose which groups to train, spending a budget of measured groups well.

    Measures ``n_initial`` groups, then repeatedly fits the gain predictor on
    every group measured so far, predicts every candidate group, and measures
    the next ``batch_size`` groups the ``strategy`` picks, until
    ``n_measured`` groups are measured. Finally it selects ``n_groups``
    groups as :func:`~sklearn_etap.select_groups` does, from measured gains
    where known and predicted gains elsewhere.

    Parameters
    ----------
    measure : callable
        ``measure(groups)`` trains the given groups (a list of sorted tuples
        of task indices, ``batch_size`` or fewer) and returns the gain of
        every member: a :class:`~sklearn_etap.MeasuredGains` (as
        :func:`make_measure` makes), a mapping ``{group: member gains}``,
        or one array of member gains (ascending task order) per group.
    n_tasks : int
        Number of tasks.
    n_groups : int
        Budget of the final selection: at most this many groups, singletons
        included (as in :class:`~sklearn_etap.GroupSelector`; the number of
        groups measured is ``n_measured``).
    n_measured : int
        Budget of the search: the number of groups measured in all
        (including those in ``measured``).
    affinity : array-like of shape (n_tasks, n_tasks), default=None
        Task affinity (``TorchAffinityExtractor.affinity_``). The predictor
        is then ``ETAPRegressor(affinity=affinity)`` with the library's
        defaults (they tune their penalties on the measured groups; no grid
        search), refitted at every round.
    estimator : regressor, default=None
        Any regressor of gains from group-task rows ``[u_G | e_t]``, cloned
        at every round. Its ``fit`` receives each row's group as ``groups=``
        when its metadata routing asks for them: a scikit-learn search with
        group-wise folds (``GridSearchCV(..., cv=GroupKFold())``) always,
        any other estimator after ``set_fit_request(groups=True)`` (with
        ``sklearn.set_config(enable_metadata_routing=True)``). Without
        ``affinity`` and ``estimator``, a ridge on ``[u_G | e_t]``
        (``Ridge(alpha=1.0)``).
    mode : {"overlap", "partition"}, default="overlap"
        The selection's objective (see :func:`~sklearn_etap.select_groups`).
    n_initial : int, default=None
        Groups measured before the first prediction, drawn at random (or
        pairs, with ``strategy="pairs"``). ``None``: half of ``n_measured``
        (at least 2); with ``"pairs"``, all pairs when ``n_measured`` leaves
        room for at least as many more groups as half the pairs.
    batch_size : int, default=1
        Groups given to ``measure`` at once (trained in parallel by it).
        Larger batches take fewer rounds but choose with less information.
    strategy : {"exploit", "explore", "optimistic", "pairs"}, default="exploit"
        How the next groups are chosen. ``"exploit"``: the groups the
        selector would choose now that are not measured yet. ``"explore"``:
        those whose predictions vary most across refits on bootstrap
        resamples of the measured groups. ``"optimistic"``: as ``"exploit"``
        with every unmeasured prediction raised by one such standard
        deviation. ``"pairs"``: pairs covering every task first, then
        ``"exploit"``. ``docs/adaptive_search.md`` compares them.
    max_group_size : int, default=None
        Largest candidate group; ``None`` allows all tasks. Needed beyond 12
        tasks, where all groups are too many to enumerate.
    measured : mapping, default=None
        ``{group: member gains}`` already measured (for instance
        ``error.partial.measured`` after a :class:`GroupMeasurementError`):
        used as measured, never measured again, and counted in
        ``n_measured``.
    time_limit : float, default=None
        Seconds each selection may take (the one of every round and the
        final one), as in :func:`~sklearn_etap.select_groups`: at the limit
        the best selection found is used. ``None``: no limit, every
        selection exact.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial groups, the bootstrap refits and tie-breaks. With
        an int, a search resumed through ``measured`` measures what the
        uninterrupted search would have.
    verbose : int, default=0
        Print one line per round (the groups measured, the predicted total).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``groups``: the chosen groups, singletons included, by size.
        - ``gains``: member gains of each chosen group (measured where
          known, predicted elsewhere; 0 for singletons).
        - ``is_measured``: whether each chosen group's gains are measured.
        - ``total_gain``: the selection's objective on those gains;
          ``task_gain``, ``task_group``, ``optimal`` and ``gap`` as in
          ``select_groups`` (not optimal only when ``time_limit`` ran out).
        - ``measured``: ``{group: member gains}`` of every measured group,
          in the order measured.
        - ``history``: one dict per round: ``round``, ``strategy``
          (``"initial"``, ``"given"`` or the strategy), ``groups`` (measured
          in that round), ``n_measured`` (after it), ``selection`` and
          ``predicted_total`` (the selector's choice and objective when the
          round's groups were picked; NaN before any prediction).
        - ``estimator``: the predictor fitted on every measured group.

    Raises
    ------
    GroupMeasurementError
        When ``measure`` raises, or returns missing or non-finite gains. Its
        ``groups`` names the groups, its ``partial`` holds every group
        measured before, ready for ``measured=``.
    KeyboardInterrupt
        When interrupted while measuring: re-raised with the same
        ``groups`` and ``partial`` attributes (and a note saying so), so an
        interrupted search resumes through ``measured=``.

    Examples
    --------
    >>> from sklearn_etap import search_groups
    >>> def measure(groups):  # a stand-in for training: tasks 0-2 help each other
    ...     return [[0.5 if set(g) <= {0, 1, 2} else -0.2 for t in g] for g in groups]
    >>> result = search_groups(measure, 5, n_groups=3, n_measured=8, random_state=0)
    >>> result.groups[-1], len(result.measured)
    ((0, 1, 2), 8)
    """
    rng_seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if affinity is not None:
        if estimator is not None:
            raise ValueError(
                "pass affinity (ETAP is the predictor) or estimator (your own "
                "predictor), not both; give ETAPRegressor(affinity=...) as "
                "estimator to configure ETAP yourself."
            )
        affinity = check_array(affinity, input_name="affinity")
        if affinity.shape != (n_tasks, n_tasks):
            raise ValueError(
                f"affinity has shape {affinity.shape} but n_tasks={n_tasks}; "
                "pass the (n_tasks, n_tasks) matrix of the extractor fitted on "
                "these tasks."
            )
    candidates = enumerate_candidates(
        n_tasks,
        max_group_size,
        advice="set max_group_size to keep the search tractable",
    )
    given = check_measured(measured, n_tasks)
    for group in given:
        if group not in candidates:
            candidates.append(group)
    n_initial = resolve_n_initial(n_initial, n_measured, strategy, n_tasks)
    check_budget(n_measured, n_initial, given, candidates)

    search = _SearchProgress(measure, n_tasks, n_groups, mode, verbose)
    search.measured.update(given)
    if given:
        search.record("given", list(given), None)
    design = initial_design(
        strategy, n_tasks, n_initial, candidates, np.random.RandomState(rng_seed)
    )
    design = [g for g in design if g not in search.measured]
    design = design[: max(0, n_initial - len(given))]
    for start in range(0, len(design), batch_size):
        search.measure(design[start : start + batch_size], "initial", None)

    rows = encode_groups(candidates, n_tasks)
    sizes = [len(g) for g in candidates]
    while len(search.measured) < n_measured:
        rng = np.random.RandomState([rng_seed, len(search.measured)])
        state = search.predict(affinity, estimator, candidates, rows, sizes)
        state.rng = rng
        state.time_limit = time_limit
        if strategy in NEEDS_SPREAD:
            spread = bootstrap_spread(state.fitted, *state.train, rows, rng)
            state.spread = np.split(spread, np.cumsum(sizes)[:-1])
        n = min(batch_size, n_measured - len(search.measured))
        picks, selection = propose(strategy, state, n)
        if not picks:  # every candidate is measured
            break
        search.measure(picks, strategy, selection)

    state = search.predict(affinity, estimator, candidates, rows, sizes)
    table = hybrid_gains(candidates, state.predicted, search.measured)
    selection = select(table, n_groups, mode, n_tasks, time_limit)
    gains = [
        np.asarray(table.get(g, np.zeros(len(g))), float) for g in selection.groups
    ]
    return Bunch(
        groups=selection.groups,
        gains=gains,
        is_measured=[g in search.measured for g in selection.groups],
        total_gain=selection.total_gain,
        task_gain=selection.task_gain,
        task_group=selection.task_group,
        optimal=selection.optimal,
        gap=selection.gap,
        measured=dict(search.measured),
        history=search.history,
        estimator=state.fitted,
    )


class _SearchProgress:
    """What one search has done so far: the gains measured, the rounds run
    (``history``), and the predictor fitted on them."""

    def __init__(self, measure, n_tasks, n_groups, mode, verbose):
        self.measure_fn = measure
        self.n_tasks = n_tasks
        self.n_groups = n_groups
        self.mode = mode
        self.verbose = verbose
        self.measured = {}
        self.history = []

    def partial(self):
        return Bunch(
            measured=dict(self.measured),
            history=list(self.history),
            n_measured=len(self.measured),
        )

    def measure(self, groups, strategy, selection):
        try:
            gains = call_measure(self.measure_fn, groups)
        except KeyboardInterrupt as exc:
            # Still an interrupt (the caller asked to stop), carrying what
            # was measured so that nothing is lost.
            exc.partial = self.partial()
            exc.groups = list(groups)
            exc.add_note(
                f"search_groups was interrupted while measuring {list(groups)}; "
                f"the {len(self.measured)} group(s) measured before are in this "
                "exception's partial.measured: pass them as measured= (same "
                "random_state) to resume."
            )
            raise
        except Exception as exc:
            named = _failed_groups(exc, groups)
            raise GroupMeasurementError(
                f"measuring group(s) {named} failed: {exc} The {len(self.measured)} "
                "group(s) measured before are in this error's partial.measured; "
                "pass them as measured= (same random_state) to resume.",
                named,
                self.partial(),
            ) from exc
        self.measured.update(gains)
        self.record(strategy, groups, selection)

    def record(self, strategy, groups, selection):
        total = np.nan if selection is None else float(selection.total_gain)
        entry = {
            "round": len(self.history),
            "strategy": strategy,
            "groups": list(groups),
            "n_measured": len(self.measured),
            "selection": None if selection is None else selection.groups,
            "predicted_total": total,
        }
        self.history.append(entry)
        if self.verbose:
            print(
                f"[search_groups] round {entry['round']} ({strategy}): measured "
                f"{entry['groups']}; {entry['n_measured']} measured; predicted "
                f"total {total:.4g}",
                flush=True,
            )

    def predict(self, affinity, estimator, candidates, rows, sizes):
        P, y, row_group = rows_of(self.measured, self.n_tasks)
        predictor = make_predictor(affinity, estimator, len(self.measured))
        fitted = fit_predictor(predictor, P, y, row_group)
        predicted = np.asarray(fitted.predict(rows), dtype=float).ravel()
        if predicted.shape != (len(rows),) or not np.isfinite(predicted).all():
            raise ValueError(
                f"the predictor returned {predicted.size} values (some not "
                f"finite) for {len(rows)} candidate rows; it must return one "
                "finite gain per row."
            )
        return Bunch(
            candidates=candidates,
            measured=self.measured,
            predicted=np.split(predicted, np.cumsum(sizes)[:-1]),
            spread=None,
            n_groups=self.n_groups,
            mode=self.mode,
            n_tasks=self.n_tasks,
            fitted=fitted,
            train=(P, y, row_group),
        )


def _failed_groups(exc, groups):
    """The group whose gains were invalid, else every group of the call."""
    if isinstance(exc, InvalidGains):
        return [exc.group]
    return list(groups)
