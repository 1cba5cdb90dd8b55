"""Ridge penalty chosen by exact leave-one-group-out error, in closed form.

scikit-learn's ``RidgeCV`` computes the leave-one-*row*-out error in closed
form. The rows of one group come from one training run and share its noise, so
leaving out a row while its group's other rows stay in is optimistic; this
module leaves out whole groups. With ``X = U diag(s) V'`` and the hat matrix
``H = U diag(s^2 / (s^2 + alpha)) U'``, the residuals of the rows ``B`` of a
group left out are ``(I - H_BB)^-1 r_B`` (``r`` the in-sample residuals): one
SVD serves every penalty, and no refit is needed.
"""

import numpy as np


def group_loo_errors(X, y, groups, alphas):
    """Mean squared leave-one-group-out error of ridge (no intercept) per alpha.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Features; an unpenalised intercept is a large-scaled column here.
    y : ndarray of shape (n_rows,)
        Targets.
    groups : ndarray of shape (n_rows,)
        Group id of every row.
    alphas : sequence of float
        Candidate penalties.

    Returns
    -------
    errors : ndarray of shape (n_alphas,)
        Mean over rows of the squared held-out residuals.
    """
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    Uty = U.T @ y
    blocks = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    errors = []
    for alpha in alphas:
        shrink = s**2 / (s**2 + alpha)
        residual = y - U @ (shrink * Uty)
        total = 0.0
        for rows in blocks:
            Ub = U[rows]
            I_minus_H = np.eye(len(rows)) - (Ub * shrink) @ Ub.T
            held_out, *_ = np.linalg.lstsq(I_minus_H, residual[rows], rcond=None)
            total += float(held_out @ held_out)
        errors.append(total / len(y))
    return np.asarray(errors)
