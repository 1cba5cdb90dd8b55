"""What measuring gains needs to know of the extractor's parameters.

The extractor is read through ``get_params(deep=False)``, ``clone`` and
``set_params``, plus one declaration on its class:

- ``per_task_params`` (class attribute): the parameters that may hold one
  entry per task (a column of ``Y``); a model of some tasks gets them cut to
  those tasks. :class:`~sklearn_etap.TorchAffinityExtractor` declares
  ``("task_types", "heads")``; an extractor that declares nothing has none.

and one list kept here, :func:`training_overrides`: the parameters
:func:`~sklearn_etap.measure_gains` sets in every training (recording off,
the repetition's seed, silence, the thread bound, no user callbacks), each
applied only if the extractor has it. The cache key leaves out exactly these names.
"""

from sklearn.base import clone


def training_overrides(seed, n_threads=None):
    """The parameters measure_gains sets in every training, with their values.

    The ONE list of them: the cache key leaves out exactly these names
    (:data:`OVERRIDDEN_PARAMS`), since they do not change what a training
    computes, or (the seed) enter the key on their own. ``n_threads=None``
    keeps the extractor's own thread bound.
    """
    overrides = {"affinity": None, "random_state": seed, "verbose": False}
    overrides["n_threads"] = n_threads
    # A user's callbacks observe the extractor's own run (a recorder of
    # affinity, say); the gain trainings run without them.
    overrides["callbacks"] = None
    return overrides


OVERRIDDEN_PARAMS = tuple(training_overrides(0))


def overrides_for(extractor, seed, n_threads=None):
    """:func:`training_overrides` restricted to the parameters ``extractor``
    has; ``n_threads=None`` keeps the extractor's own bound."""
    overrides = training_overrides(seed, n_threads)
    if n_threads is None:
        del overrides["n_threads"]
    known = extractor.get_params(deep=False)
    return {name: value for name, value in overrides.items() if name in known}


def per_task_params(extractor):
    """The parameter names ``extractor``'s class declares per task."""
    return tuple(getattr(type(extractor), "per_task_params", ()))


def restrict_to_tasks(extractor, cols, n_tasks):
    """The extractor for a model of the tasks ``cols`` only.

    Its declared :func:`per_task_params` given as one entry per task (a list
    of ``task_types``, a list of ``heads``) are cut to the chosen tasks;
    everything else is unchanged.
    """
    params = extractor.get_params(deep=False)
    declared = per_task_params(extractor)
    per_task = {
        name: [value[c] for c in cols]
        for name, value in params.items()
        if name in declared
        and isinstance(value, (list, tuple))
        and len(value) == n_tasks
    }
    return clone(extractor).set_params(**per_task) if per_task else extractor
