"""What the displays share: the optional matplotlib import and task names."""

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
    """``task_names`` as a list of ``n_tasks`` strings (``None``: "0", "1", ...)."""
    if task_names is None:
        return [str(t) for t in range(n_tasks)]
    names = [str(name) for name in task_names]
    if len(names) != n_tasks:
        raise ValueError(
            f"task_names has {len(names)} names but the affinity matrix has "
            f"{n_tasks} tasks; give one name per task."
        )
    return names
