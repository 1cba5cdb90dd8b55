"""The linearized model of one task group, fitted from per-task blocks.

For a group ``G`` the parameter displacement ``delta`` shared by its tasks
minimizes the mean over ``t in G`` of task ``t``'s training loss under the
linearized outputs ``f_t(x) + J_t(x) . delta``, plus ``lam / 2 |delta|^2``.
Each task contributes its own block (its Jacobian rows, outputs, labels and
the Hessian of its loss at ``delta = 0``), so any group is fitted from its
members' blocks without touching the network again.

The step uses the Hessian at ``delta = 0`` (one Cholesky factor per group):
for squared error it is the exact Hessian and one step gives the ridge
solution; for logistic losses the same factor drives a few damped steps
(each accepted only if the objective falls), so they cannot overshoot.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit


def losses(z, y, binary):
    """Per-sample loss: binary cross-entropy on logits, or squared error."""
    if binary:
        return np.logaddexp(0.0, z) - y * z
    return (z - y) ** 2


def loss_slopes(z, y, binary):
    """Derivative of :func:`losses` with respect to ``z``."""
    return expit(z) - y if binary else 2.0 * (z - y)


def loss_curvatures(z, binary):
    """Second derivative of :func:`losses` with respect to ``z``."""
    if binary:
        p = expit(z)
        return p * (1.0 - p)
    return np.full_like(z, 2.0)


@dataclass
class Rows:
    """Jacobian rows, outputs at the trained weights and labels of one task."""

    J: np.ndarray  # (n, n_columns)
    outputs: np.ndarray  # (n,)
    y: np.ndarray  # (n,)

    def outputs_at(self, delta):
        return self.outputs + self.J @ delta


@dataclass
class TaskBlock:
    """One task's share of every group fit: its fit and validation rows."""

    fit: Rows
    validation: Rows
    binary: bool

    def __post_init__(self):
        weights = loss_curvatures(self.fit.outputs, self.binary)
        self.hessian = (self.fit.J * weights[:, None]).T @ self.fit.J / len(self.fit.y)
        # every group fit starts at delta = 0: its loss and gradient there are
        # computed once per task, not once per group (a squared-error group
        # fit then needs no pass over the Jacobian rows at all)
        zero = np.zeros(self.fit.J.shape[1])
        self.loss_at_zero = self._fit_loss(zero)
        self.gradient_at_zero = self._fit_gradient(zero)

    def fit_loss(self, delta):
        if not delta.any():
            return self.loss_at_zero
        return self._fit_loss(delta)

    def fit_gradient(self, delta):
        if not delta.any():
            return self.gradient_at_zero
        return self._fit_gradient(delta)

    def _fit_loss(self, delta):
        z = self.fit.outputs_at(delta)
        return float(np.mean(losses(z, self.fit.y, self.binary)))

    def _fit_gradient(self, delta):
        z = self.fit.outputs_at(delta)
        slopes = loss_slopes(z, self.fit.y, self.binary)
        return self.fit.J.T @ slopes / len(slopes)

    def validation_loss(self, delta):
        z = self.validation.outputs_at(delta)
        return float(np.mean(losses(z, self.validation.y, self.binary)))


def fit_displacement(blocks, lam, max_iter=10, tol=1e-8):
    """The penalized displacement shared by ``blocks`` (one per group member).

    Parameters
    ----------
    blocks : list of TaskBlock
    lam : float
        Penalty on ``|delta|^2 / 2``; positive.
    max_iter : int
        Most steps for groups with a binary task (squared error needs one).
    tol : float
        Stop once a step lowers the objective by less than this.

    Returns
    -------
    delta : ndarray of shape (n_columns,)
    """
    n_columns = blocks[0].hessian.shape[0]
    hessian = sum(block.hessian for block in blocks) / len(blocks)
    hessian[np.diag_indices(n_columns)] += lam
    factor = cho_factor(hessian, overwrite_a=True, check_finite=False)
    delta = np.zeros(n_columns)

    def objective(d):
        fit = np.mean([block.fit_loss(d) for block in blocks])
        return fit + 0.5 * lam * float(d @ d)

    def gradient(d):
        return sum(block.fit_gradient(d) for block in blocks) / len(blocks) + lam * d

    if not any(block.binary for block in blocks):
        return delta - cho_solve(factor, gradient(delta), check_finite=False)
    current = objective(delta)
    for _ in range(max_iter):
        step = cho_solve(factor, gradient(delta), check_finite=False)
        scale = 1.0
        while scale > 1e-3:
            candidate = delta - scale * step
            value = objective(candidate)
            if value <= current:
                break
            scale /= 2.0
        else:
            break  # no descent along the step: converged to rounding
        delta, improvement, current = candidate, current - value, value
        if improvement < tol:
            break
    return delta


def regression_group_losses(blocks, groups, lam, chunk=32):
    """Held-out losses of the members of many squared-error groups at once.

    The same fit as :func:`fit_displacement` (one penalized solve on the
    mean of the members' Hessians), batched: ``chunk`` groups' systems are
    solved in one LAPACK call instead of one Python round trip each.

    Parameters
    ----------
    blocks : list of TaskBlock
        Every task's block (none binary), indexed by task.
    groups : list of tuple of int
        Sorted member tasks of each group.
    lam : float

    Returns
    -------
    losses : list of ndarray
        The validation loss of each member of each group, in member order.
    """
    hessians = np.stack([block.hessian for block in blocks])
    gradients = np.stack([block.gradient_at_zero for block in blocks])
    n_columns = hessians.shape[1]
    out = []
    for start in range(0, len(groups), chunk):
        part = groups[start : start + chunk]
        weights = np.zeros((len(part), len(blocks)))
        for row, group in enumerate(part):
            weights[row, list(group)] = 1.0 / len(group)
        systems = np.einsum("gt,tij->gij", weights, hessians)
        systems[:, np.arange(n_columns), np.arange(n_columns)] += lam
        # batched Cholesky (half the work of the LU behind np.linalg.solve)
        factors = torch.linalg.cholesky(torch.from_numpy(systems))
        rhs = torch.from_numpy(weights @ gradients)[:, :, None]
        deltas = -torch.cholesky_solve(rhs, factors)[..., 0].numpy()
        losses = {}
        for task in np.flatnonzero(weights.any(axis=0)):
            members = np.flatnonzero(weights[:, task])
            validation = blocks[task].validation
            z = validation.outputs[:, None] + validation.J @ deltas[members].T
            per_group = np.mean((z - validation.y[:, None]) ** 2, axis=0)
            losses.update(
                {(row, task): value for row, value in zip(members, per_group)}
            )
        out += [
            np.array([losses[row, task] for task in group])
            for row, group in enumerate(part)
        ]
    return out
