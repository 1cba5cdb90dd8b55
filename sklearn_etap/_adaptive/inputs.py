"""The inputs of :func:`search_groups` checked, and its defaults resolved."""

from math import comb

import numpy as np

from .._groups import check_groups


def check_measured(measured, n_tasks):
    if not measured:
        return {}
    groups = check_groups(list(measured), n_tasks)
    given = {}
    for key, group in zip(measured, groups):
        values = np.atleast_1d(np.asarray(measured[key], dtype=float))
        if len(group) < 2 or values.shape != (len(group),):
            raise ValueError(
                f"measured[{key!r}] must hold one gain per member of a group of "
                f"at least 2 tasks; got {values.size} gain(s) for {len(group)} "
                "task(s)."
            )
        if not np.isfinite(values).all():
            raise ValueError(f"measured[{key!r}] holds a non-finite gain.")
        given[group] = values
    return given


def resolve_n_initial(n_initial, n_measured, strategy, n_tasks):
    if n_initial is not None:
        return n_initial
    n_pairs = comb(n_tasks, 2)
    if strategy == "pairs" and n_measured >= n_pairs + n_pairs // 2:
        return n_pairs
    return max(2, n_measured // 2)


def check_budget(n_measured, n_initial, given, candidates):
    n_available = sum(len(g) >= 2 for g in candidates)
    if n_measured > n_available:
        raise ValueError(
            f"n_measured={n_measured} exceeds the {n_available} candidate groups; "
            "measure at most every candidate."
        )
    if n_initial > n_measured:
        raise ValueError(
            f"n_initial={n_initial} exceeds n_measured={n_measured}; the initial "
            "groups are part of the measured ones."
        )
    if max(n_initial, len(given)) < 2:
        raise ValueError(
            "the predictor needs at least 2 measured groups before its first "
            f"fit; got n_initial={n_initial} and {len(given)} given."
        )
