"""Group affinity ``z[G -> t]``: what the other members of G do for task t."""

import numpy as np

from .._groups import decode_rows


def group_affinity(affinity, P):
    """Group affinity of every group-task row.

    For the row of task ``t`` in group ``G`` this is the mean of
    ``affinity[s, t]`` over the other members ``s`` of ``G``
    (``affinity[i, j]`` scores how much task ``i``'s updates lower task
    ``j``'s loss). A singleton group has no other member; its affinity is 0.

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks)
        Task-affinity matrix, such as ``TorchAffinityExtractor().affinity_``.
    P : array-like of shape (n_rows, 2 * n_tasks)
        Group-task rows ``[u_G | e_t]`` from :func:`encode_groups`.

    Returns
    -------
    z : ndarray of shape (n_rows,)
        The group affinity of each row.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import encode_groups, group_affinity
    >>> A = np.array([[0., 1., 2.], [3., 0., 4.], [5., 6., 0.]])
    >>> group_affinity(A, encode_groups([(0, 1, 2)], 3))
    array([4. , 3.5, 3. ])
    """
    affinity = np.asarray(affinity, dtype=float)
    if affinity.ndim != 2 or affinity.shape[0] != affinity.shape[1]:
        raise ValueError(
            f"affinity must be a square (n_tasks, n_tasks) matrix; got shape "
            f"{affinity.shape}."
        )
    if not np.all(np.isfinite(affinity)):
        raise ValueError("affinity holds NaN or infinite values.")
    P = np.asarray(P, dtype=float)
    n_tasks = affinity.shape[0]
    if P.ndim != 2 or P.shape[1] != 2 * n_tasks:
        raise ValueError(
            f"P has shape {P.shape} but affinity has {n_tasks} tasks; group-task "
            f"rows for {n_tasks} tasks have {2 * n_tasks} columns [u_G | e_t]."
        )
    membership, target, _ = decode_rows(P)
    others = membership.copy()
    others[np.arange(len(P)), target] = False
    # Sum of affinity[s, t] over the other members s, by one product per row.
    totals = np.einsum("rs,sr->r", others.astype(float), affinity[:, target])
    n_others = others.sum(axis=1)
    return np.divide(totals, n_others, out=np.zeros(len(P)), where=n_others > 0)
