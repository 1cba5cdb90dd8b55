"""The selection step of ``etap run``: candidates, their gains, the choice.

The candidates are every group up to the size limit plus the measured groups
and all tasks together; the choice goes through the library's one entry
point (:func:`~sklearn_etap._selection.entry.select_from_gains`) with HiGHS
and a time limit: it returns the best grouping found and how far it can be
from the optimum, and says that it is still working while it works.
"""

import threading
import time
from contextlib import contextmanager
from math import comb

import numpy as np
from sklearn.utils import Bunch

from .._groups import all_groups, encode_groups
from .._selection.entry import as_bunch, select_from_gains
from .._selection.problem import (
    InfeasibleSelectionError,
    SelectionProblem,
    SelectionTimeoutError,
    evaluate,
)
from .data import UsageError

#: Seconds between "still choosing" lines while the solver runs.
HEARTBEAT_SECONDS = 10.0


@contextmanager
def heartbeat(say, what, every=HEARTBEAT_SECONDS):
    """Print ``what`` with the seconds elapsed every ``every`` seconds."""
    stop = threading.Event()
    start = time.perf_counter()

    def beat():
        while not stop.wait(every):
            say(f"      {what}: {time.perf_counter() - start:.0f} s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def candidate_groups(n_tasks, max_size, extra_groups=()):
    """Every group of 2..max_size tasks, plus ``extra_groups`` (the measured
    groups and all tasks together, which a size limit would leave out)."""
    candidates = all_groups(n_tasks, min_size=2, max_size=max_size)
    known = set(candidates)
    for group in extra_groups:
        group = tuple(sorted(group))
        if len(group) >= 2 and group not in known:
            candidates.append(group)
            known.add(group)
    return candidates


def predicted_member_gains(model, candidates, n_tasks):
    """The predicted gain of every member of every candidate."""
    predicted = np.asarray(
        model.predict(encode_groups(candidates, n_tasks)), dtype=float
    ).ravel()
    return np.split(predicted, np.cumsum([len(g) for g in candidates])[:-1])


def candidate_gains(model, n_tasks, max_size, extra_groups=()):
    """:func:`candidate_groups` and their members' predicted gains."""
    candidates = candidate_groups(n_tasks, max_size, extra_groups)
    return candidates, predicted_member_gains(model, candidates, n_tasks)


def measured_table(gains):
    """The measured groups whose every gain is defined, with those gains."""
    candidates, member_gains = [], []
    for index, group in enumerate(gains.groups):
        values = gains.y[gains.row_group == index]
        if np.isfinite(values).all():
            candidates.append(tuple(group))
            member_gains.append(values)
    return candidates, member_gains


def choose_groups(
    candidates, member_gains, n_tasks, *, budget, mode, time_limit, say, basis
):
    """Solve the selection with HiGHS within ``time_limit`` seconds.

    Returns the chosen groups (singletons included), the total gain, each
    task's gain and group, whether the choice is proven optimal, HiGHS's
    upper bound on the total and the gap to it (bound minus total, in gain
    units: no grouping can beat the choice by more).
    """
    n_candidates = len(candidates) + n_tasks
    limit = "no time limit" if time_limit is None else f"time limit {time_limit:g} s"
    say(
        f"      {n_candidates} candidate groups, exact integer "
        f"programming (HiGHS), {limit}"
    )
    start = time.perf_counter()
    try:
        with heartbeat(say, "still choosing (best grouping so far kept)"):
            selection = select_from_gains(
                candidates,
                member_gains,
                n_tasks,
                budget,
                mode=mode,
                solver="milp",
                time_limit=time_limit,
                what="the predicted or measured gain",
            )
    except InfeasibleSelectionError as exc:
        raise UsageError(f"--budget {budget}: {exc}") from exc
    except SelectionTimeoutError:
        say(
            "      HiGHS found no grouping within the time limit; using a greedy "
            "one (raise --time-limit for a better one)"
        )
        problem = SelectionProblem.from_lists(
            list(candidates) + [(t,) for t in range(n_tasks)],
            [np.asarray(g, dtype=float) for g in member_gains] + [[0.0]] * n_tasks,
            n_tasks,
        )
        selection = as_bunch(problem, greedy_selection(problem, budget))
    seconds = time.perf_counter() - start
    bound = selection.bound
    gap = relative = 0.0 if selection.optimal else None
    if not selection.optimal and bound is not None:
        gap = max(0.0, bound - float(selection.total_gain))
        relative = float(selection.gap)
    if selection.optimal:
        say(f"      optimal grouping found in {seconds:.1f} s")
    else:
        gap_text = "unknown" if gap is None else f"{gap:.3g}"
        if relative is not None and np.isfinite(relative):
            gap_text += f" ({relative:.1%} relative gap)"
        say(
            f"      time limit reached after {seconds:.1f} s: best grouping found, "
            f"at most {gap_text} below the optimum total (raise --time-limit "
            "to close the gap)"
        )
    return Bunch(
        groups=selection.groups,
        total=selection.total_gain,
        task_gain=selection.task_gain,
        task_group=selection.task_group,
        basis=basis,
        optimal=bool(selection.optimal),
        bound=bound,
        gap=gap,
        relative_gap=relative,
        seconds=seconds,
        n_candidates=selection.n_candidates,
    )


def greedy_selection(problem, budget):
    """A valid grouping without a solver: disjoint groups by best summed gain
    while the tasks left can still be covered, then the rest alone or in the
    largest groups the budget needs. No optimality claim (no bound)."""
    member = problem.membership
    sizes = member.sum(axis=1)
    totals = np.where(member, problem.gain, 0.0).sum(axis=1)
    # the largest size of which every group is a candidate (a few larger
    # extra groups do not make any leftover tasks coverable in one group)
    largest = max(
        k
        for k in range(1, int(sizes.max()) + 1)
        if np.sum(sizes == k) == comb(problem.n_tasks, k)
    )
    index = {tuple(g): c for c, g in enumerate(problem.candidates)}
    left, chosen = set(range(problem.n_tasks)), []

    def coverable(n_left, n_slots):
        return n_slots * largest >= n_left

    for c in np.argsort(-totals, kind="stable"):
        group = set(problem.candidates[c])
        if totals[c] <= 0 or sizes[c] < 2 or not group <= left:
            continue
        if coverable(len(left) - len(group), budget - len(chosen) - 1):
            chosen.append(int(c))
            left -= group
    rest = sorted(left)
    slots = budget - len(chosen)
    while rest:
        # as many tasks per group as the remaining slots need, at least one
        size = min(largest, max(1, -(-len(rest) // max(slots, 1))))
        while size > 1 and tuple(rest[:size]) not in index:
            size -= 1
        chosen.append(index[tuple(rest[:size])])
        rest, slots = rest[size:], slots - 1
    result = evaluate(problem, chosen, "partition")
    result.optimal, result.bound = False, None
    return result


def selection_status(selection):
    """What the summary says of the solver's result."""
    return {
        "optimal": bool(selection.get("optimal", True)),
        "optimum_bound": selection.get("bound"),
        "gap": selection.get("gap", 0.0),
        "relative_gap": selection.get("relative_gap", 0.0),
        "n_candidates": selection.get("n_candidates"),
    }
