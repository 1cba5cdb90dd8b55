"""What the displays share: the optional matplotlib import and task names."""

from .._task_names import check_task_names, resolve_names

PLOT_EXTRA = 'pip install "sklearn-etap[plot]"'


def import_pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError naming the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib, an optional dependency; install it with "
            f"`{PLOT_EXTRA}`."
        ) from exc
    return plt


def resolve_task_names(task_names, n_tasks):
    """The tasks' names, as every stage names them: ``task_names`` or ``0, 1, ...``.

    Without names, tasks are the integers ``0 .. n_tasks - 1`` (not the strings
    "0", "1"), as in ``GroupSelector``, ``measure_gains`` and the command line;
    matplotlib writes the tick labels from them.
    """
    if task_names is not None and len(task_names) != n_tasks:
        raise ValueError(
            f"task_names has {len(task_names)} names but the affinity matrix has "
            f"{n_tasks} tasks; give one name per task."
        )
    return resolve_names(check_task_names(task_names, n_tasks), n_tasks)
