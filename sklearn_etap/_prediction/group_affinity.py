"""Group affinity ``z[G -> t]``: what the other members of G do for task t."""

import numpy as np

from .validation import check_affinity, check_group_rows


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
    affinity = check_affinity(affinity)
    P = np.asarray(P, dtype=float)
    n_tasks = affinity.shape[0]
    if P.ndim != 2 or P.shape[1] != 2 * n_tasks:
        raise ValueError(
            f"P has shape {P.shape} but affinity has {n_tasks} tasks; group-task "
            f"rows for {n_tasks} tasks have {2 * n_tasks} columns [u_G | e_t]."
        )
    membership, target, _ = check_group_rows(P, "group_affinity")
    others = membership.copy()
    others[np.arange(len(P)), target] = False
    # Sum of affinity[s, t] over the other members s, by one product per row.
    totals = np.einsum("rs,sr->r", others.astype(float), affinity[:, target])
    n_others = others.sum(axis=1)
    return np.divide(totals, n_others, out=np.zeros(len(P)), where=n_others > 0)
