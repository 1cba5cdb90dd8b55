"""Which groups :func:`search_groups` measures next.

Every strategy sees the candidates, the gains measured so far and the
predictor's gains for the rest; it returns the groups to measure. One
registry (``STRATEGIES``) is read by the validation and the loop.

- ``"exploit"``: the groups the selector would choose now (measured gains
  where known, predictions elsewhere) that are not measured yet.
- ``"explore"``: the groups whose predictions disagree most across refits on
  bootstrap resamples of the measured groups.
- ``"optimistic"``: the mix: the selector's choice when every unmeasured
  group is credited with its prediction plus one bootstrap standard
  deviation (an upper confidence bound), so a group is measured because it
  may be good, or because little is known about it.
- ``"pairs"``: the first measurements are pairs covering every task (all
  pairs when the budget leaves room for them), then as ``"exploit"``.
"""

from itertools import combinations

import numpy as np

from .._selection.entry import select_from_gains

STRATEGIES = ("exploit", "explore", "optimistic", "pairs")

# Strategies that need the bootstrap spread of the predictions.
NEEDS_SPREAD = ("explore", "optimistic")

# Standard deviations added to an unmeasured group's prediction by
# "optimistic".
_OPTIMISM = 1.0


def initial_design(strategy, n_tasks, n_initial, candidates, rng):
    """The first groups to measure, before any prediction."""
    if strategy == "pairs":
        return _covering_pairs(n_tasks, n_initial, rng)
    multi = [g for g in candidates if len(g) >= 2]
    picked = rng.choice(len(multi), size=min(n_initial, len(multi)), replace=False)
    return [multi[i] for i in picked]


def _covering_pairs(n_tasks, n_pairs, rng):
    """``n_pairs`` distinct pairs, first covering every task (a random
    matching), then drawn at random among the rest."""
    order = rng.permutation(n_tasks).tolist()
    if n_tasks % 2:
        order.append(int(rng.choice(order[:-1])))
    pairs = []
    for a, b in zip(order[::2], order[1::2]):
        pair = tuple(sorted((a, b)))
        if pair not in pairs:
            pairs.append(pair)
    rest = [p for p in combinations(range(n_tasks), 2) if p not in pairs]
    extra = rng.permutation(len(rest))
    pairs += [rest[i] for i in extra]
    return pairs[:n_pairs]


def hybrid_gains(candidates, predicted, measured, bonus=None):
    """``{group: member gains}``: measured where known, predicted (plus
    ``bonus``) elsewhere."""
    table = {}
    for i, group in enumerate(candidates):
        if group in measured:
            table[group] = measured[group]
        elif bonus is None:
            table[group] = predicted[i]
        else:
            table[group] = predicted[i] + bonus[i]
    return table


#: Candidates beyond which the rounds select with HiGHS: on many candidates
#: branch and bound's worst case (exponential) is far slower.
MILP_FROM_CANDIDATES = 500


def select(table, n_groups, mode, n_tasks, time_limit=None):
    """The library's exact selection on a ``{group: member gains}`` table,
    within ``time_limit`` seconds (the best selection found when it runs out)."""
    solver = "milp" if len(table) > MILP_FROM_CANDIDATES else "branch_and_bound"
    return select_from_gains(
        list(table),
        list(table.values()),
        n_tasks,
        n_groups,
        mode=mode,
        solver=solver,
        time_limit=time_limit,
    )


def propose(strategy, state, n):
    """Up to ``n`` unmeasured groups to measure next, and the current
    selection (on measured and predicted gains) for the history.

    ``state`` holds ``candidates``, ``measured``, ``predicted`` (member gains
    per candidate), ``spread`` (their bootstrap standard deviations, or
    None), ``n_groups``, ``mode``, ``n_tasks``, ``time_limit`` and ``rng``.
    """
    table = hybrid_gains(state.candidates, state.predicted, state.measured)
    selection = select(
        table, state.n_groups, state.mode, state.n_tasks, state.time_limit
    )
    if strategy == "explore":
        picks = _most_uncertain(state, n)
    elif strategy == "optimistic":
        bonus = [_OPTIMISM * s for s in state.spread]
        optimistic = hybrid_gains(
            state.candidates, state.predicted, state.measured, bonus
        )
        chosen = select(
            optimistic, state.n_groups, state.mode, state.n_tasks, state.time_limit
        )
        picks = _chosen_then_improving(state, optimistic, chosen, n)
    else:  # "exploit", and "pairs" once its pairs are measured
        picks = _chosen_then_improving(state, table, selection, n)
    return picks, selection


def _unmeasured(state):
    return [
        i
        for i, g in enumerate(state.candidates)
        if len(g) >= 2 and g not in state.measured
    ]


def _chosen_then_improving(state, table, selection, n):
    """The selection's unmeasured groups; if fewer than ``n``, the unmeasured
    groups that would raise the most tasks above their current gain."""
    picks = [g for g in selection.groups if len(g) >= 2 and g not in state.measured]
    if len(picks) >= n:
        return picks[:n]
    current = np.asarray(selection.task_gain, dtype=float)
    rest = [i for i in _unmeasured(state) if state.candidates[i] not in picks]
    if not rest:
        return picks
    improvement = np.array(
        [
            np.maximum(
                table[state.candidates[i]] - current[list(state.candidates[i])], 0
            ).sum()
            for i in rest
        ]
    )
    level = np.array([np.sum(table[state.candidates[i]]) for i in rest])
    # Largest improvement first, then the largest predicted total; random
    # among exact ties.
    order = np.lexsort((state.rng.random_sample(len(rest)), -level, -improvement))
    return picks + [state.candidates[rest[i]] for i in order[: n - len(picks)]]


def _most_uncertain(state, n):
    rest = _unmeasured(state)
    spread = np.array([np.mean(state.spread[i]) for i in rest])
    order = np.lexsort((state.rng.random_sample(len(rest)), -spread))
    return [state.candidates[rest[i]] for i in order[:n]]
