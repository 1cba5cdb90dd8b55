"""``etap run --measure adaptive``: which groups to measure, chosen by ETAP.

:func:`~sklearn_etap.search_groups` measures half of the groups at random,
then, round by round, the groups the selection would choose from ETAP's
predictions, refitting ETAP (its default grid search) every round, and
selects from measured gains where known and predicted gains elsewhere.
"""

import dataclasses
import tempfile
from contextlib import contextmanager

from joblib import effective_n_jobs

from .._adaptive import gains_measurer, search_groups


@contextmanager
def _gains_cache(options):
    """``--cache-dir``, or a folder inside the report's staging folder (never
    /tmp): a killed run leaves nothing outside the staging folder, which the
    next run with the same --out deletes."""
    if options.cache_dir is not None:
        yield options.cache_dir
        return
    with tempfile.TemporaryDirectory(prefix="gains-", dir=options.staging) as cache:
        yield cache


def measure_adaptively(
    extractor, data, names, options, max_group_size, progress, extra_groups=()
):
    """Run the search; return its result and the gains of every measured group
    and of ``extra_groups`` (reference answers, measured once the search ends)."""
    n_tasks = len(names)
    with _gains_cache(options) as cache:
        # Every call trains with the same seeds, and the cache keeps the
        # single-task models: each round trains only its new groups.
        measure = gains_measurer(
            extractor,
            data.X_train,
            data.Y_train,
            data.X_test,
            data.Y_test,
            n_jobs=options.jobs,
            n_seeds=options.n_seeds,
            cache_dir=cache,
            random_state=options.seed,
            progress=progress,
        )
        result = search_groups(
            measure,
            n_tasks,
            n_groups=options.budget,
            n_measured=options.groups,
            affinity=extractor.affinity_,
            mode=options.mode,
            batch_size=max(1, effective_n_jobs(options.jobs)),
            max_group_size=max_group_size,
            random_state=options.seed,
            verbose=int(progress),
        )
        # All trained already: read back from the cache, as one table.
        extra = [g for g in extra_groups if g not in result.measured]
        gains = measure(list(result.measured) + extra)
    return result, dataclasses.replace(gains, task_names=names)
