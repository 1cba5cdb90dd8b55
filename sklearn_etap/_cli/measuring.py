"""The measuring step of ``etap run``, the one step that ``--measure`` changes.

Each step measures groups (and all tasks together, a reference answer),
and names the predictor fitted on them; :func:`~sklearn_etap._cli.job.run_job`
runs every step the same way, and in both the selection reads measured gains
where known (all tasks together included) and predictions elsewhere.

- :class:`RandomMeasurement` (``--measure random``): random groups measured
  at once; ETAP's grid search (``make_etap_search``), cross-validated over
  the groups, predicts every candidate.
- :class:`AdaptiveMeasurement` (``--measure adaptive``):
  :func:`~sklearn_etap.search_groups` measures half of the groups at random,
  then, round by round, the groups the selection would choose, refitting
  ``ETAPRegressor(affinity=...)`` with its defaults (which tune their own
  penalties on the measured groups; no grid search) every round; the same
  predictor is fitted on every measured group at the end.
"""

import dataclasses
import tempfile
from contextlib import contextmanager

import numpy as np
from joblib import effective_n_jobs

from .._adaptive import make_measure, search_groups
from .._gains import measure_gains
from .._groups import sample_groups
from .._prediction import ETAPRegressor, make_etap_search
from .choosing import predicted_member_gains
from .references import all_tasks, subset_gains
from .scaling import scale_etap_search


class MeasuringStep:
    """What a measuring step provides; a new ``--measure`` choice subclasses
    it and is added to :data:`MEASUREMENTS`."""

    #: The ``--measure`` value.
    name = None
    #: What the selection's gains are, as the report says it.
    basis = "measured gains where known, ETAP's predictions elsewhere"

    def announce(self, n_groups, exhaustive):
        """The step message of step 2."""
        raise NotImplementedError

    def measure(self, extractor, data, names, options, max_size, progress):
        """``(gains, every)``: the measured groups' gains (``MeasuredGains``),
        and the same with all tasks together added (a reference answer)."""
        raise NotImplementedError

    def predictor(self, affinity, row_group, options, progress, say):
        """``(estimator, fit_params)``: the unfitted predictor of the
        measured gains and what its ``fit`` needs beyond ``X, y``."""
        raise NotImplementedError

    def selection_gains(self, model, candidates, gains):
        """Member gains of every candidate, as the selection reads them.

        A group that was measured (every member's gain finite), all tasks
        together included, counts with its measured gains, never with a
        prediction that contradicts them; the others with the predictor's.
        """
        predicted = predicted_member_gains(model, candidates, gains.n_tasks)
        index = {g: i for i, g in enumerate(gains.groups)}
        out = []
        for group, values in zip(candidates, predicted):
            measured = (
                gains.y[gains.row_group == index[group]] if group in index else None
            )
            finite = measured is not None and np.isfinite(measured).all()
            out.append(measured if finite else values)
        return out


class RandomMeasurement(MeasuringStep):
    """``--measure random``: random groups, ETAP's grid search, predictions."""

    name = "random"

    def announce(self, n_groups, exhaustive):
        which = f"all {n_groups}" if exhaustive else f"{n_groups} random"
        return (
            f"[2/4] measuring the gains of {which} groups, and of all tasks in "
            "one model (a reference answer)"
        )

    def measure(self, extractor, data, names, options, max_size, progress):
        n_tasks = len(names)
        groups = sample_groups(n_tasks, options.groups, random_state=options.seed)
        reference = [] if all_tasks(n_tasks) in groups else [all_tasks(n_tasks)]
        every = measure_gains(
            extractor,
            data.X_train,
            data.Y_train,
            groups + reference,
            X_test=data.X_test,
            Y_test=data.Y_test,
            n_jobs=options.jobs,
            n_seeds=options.n_seeds,
            random_state=options.seed,
            cache_dir=options.cache_dir,
            progress=progress,
            task_names=names,
        )
        return subset_gains(every, groups), every

    def predictor(self, affinity, row_group, options, progress, say):
        say("[3/4] fitting ETAP: grid search cross-validated over the groups")
        n_tasks = len(affinity)
        search = make_etap_search(
            affinity,
            n_train_groups=len(np.unique(row_group)),
            n_jobs=options.jobs,
            verbose=progress,
        )
        search, encoding = scale_etap_search(search, n_tasks)
        if encoding != "per_task":
            say(f"      residual stage: {encoding} ({n_tasks} tasks)")
        # the grid search's folds are group-wise: GroupKFold needs groups=
        return search, {"groups": row_group}


class AdaptiveMeasurement(MeasuringStep):
    """``--measure adaptive``: :func:`~sklearn_etap.search_groups`, ETAP's
    defaults refitted every round, measured gains where known."""

    name = "adaptive"

    def announce(self, n_groups, exhaustive):
        return (
            f"[2/4] measuring {n_groups} groups adaptively: half at random, then "
            "those ETAP would choose (ETAP's defaults refitted every round)"
        )

    def measure(self, extractor, data, names, options, max_size, progress):
        n_tasks = len(names)
        with _gains_cache(options) as cache:
            # Every call trains with the same seeds, and the cache keeps the
            # single-task models: each round trains only its new groups.
            measure = make_measure(
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
                max_group_size=max_size,
                time_limit=options.time_limit,
                random_state=options.seed,
                verbose=int(progress),
            )
            # All tasks together, as a reference answer; the measured groups
            # are read back from the cache, as one table.
            extra = [g for g in [all_tasks(n_tasks)] if g not in result.measured]
            every = measure(list(result.measured) + extra)
        every = dataclasses.replace(every, task_names=names)
        return subset_gains(every, result.measured), every

    def predictor(self, affinity, row_group, options, progress, say):
        say(
            "[3/4] fitting ETAP with its defaults on every measured group (the "
            "predictor of the rounds; it tunes its own penalties)"
        )
        return ETAPRegressor(affinity=affinity), {}


MEASUREMENTS = {step.name: step for step in (RandomMeasurement, AdaptiveMeasurement)}


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
