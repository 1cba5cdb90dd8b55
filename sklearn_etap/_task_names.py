"""Task names, carried from a DataFrame's columns through every stage.

A ``Y`` given as a pandas DataFrame with string column labels names its tasks;
a plain array (or a frame with non-string labels) keeps the integer indices
as names, so code that reads names never has to ask where they came from.
"""

import numpy as np


def names_from_columns(Y):
    """The string column labels of a DataFrame ``Y``, else ``None``."""
    columns = getattr(Y, "columns", None)
    if columns is None:
        name = getattr(Y, "name", None)  # a Series: one task
        return [name] if isinstance(name, str) and np.ndim(Y) == 1 else None
    labels = list(columns)
    if labels and all(isinstance(label, str) for label in labels):
        return labels
    return None


def check_task_names(task_names, n_tasks, *, what="task_names"):
    """``task_names`` as a list of ``n_tasks`` distinct names, or ``None``.

    Numpy scalars become Python ones (so that names serialise to JSON); the
    names are otherwise kept as given (integers stay integers).
    """
    if task_names is None:
        return None
    names = [n.item() if isinstance(n, np.generic) else n for n in task_names]
    if len(names) != n_tasks:
        raise ValueError(
            f"{what} has {len(names)} names but there are {n_tasks} tasks; give "
            "one name per task (column of Y)."
        )
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{what} has duplicated names {duplicated}; make them unique.")
    return names


def resolve_names(task_names, n_tasks):
    """Names of the tasks: ``task_names``, or the integers ``0 .. n_tasks - 1``."""
    return list(range(n_tasks)) if task_names is None else list(task_names)


def name_groups(groups, task_names):
    """Groups of task indices as tuples of names (unchanged with no names)."""
    if task_names is None:
        return [tuple(group) for group in groups]
    return [tuple(task_names[t] for t in group) for group in groups]
