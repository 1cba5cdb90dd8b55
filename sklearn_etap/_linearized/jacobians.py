"""Per-sample Jacobians of every task's output with respect to all parameters.

A trained multi-task module maps one sample to one output per task (a value or
a logit). Around its trained weights ``theta`` each output is linearized as
``f_t(x; theta + delta) ~ f_t(x; theta) + J_t(x) . delta``; this module computes
the rows ``J_t(x)`` for every sample and task with ``torch.func``, in chunks
that bound memory, optionally compressed by a sparse random projection.
"""

import numpy as np
import torch
from torch.func import functional_call, jacrev, vmap

# Floats a chunk of raw Jacobians (chunk x n_tasks x n_parameters) may hold.
CHUNK_FLOATS = 2**23


def n_trainable(module):
    """Number of trainable scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class SignSketch:
    """A sparse Rademacher projection of parameter vectors to ``n_components``.

    Parameter ``i`` is added, with a random sign, to one random column (a
    count sketch, Clarkson and Woodruff 2013). Like a dense matrix of
    +-1/sqrt(n_components) it keeps inner products unbiased, with the same
    variance (each is ``(|a|^2 |b|^2 + (a.b)^2 - 2 sum_i a_i^2 b_i^2) / k``
    for vectors ``a``, ``b``), so Gram matrices of projected Jacobians
    estimate those of the full ones; but applying it costs one addition per
    Jacobian entry instead of ``n_components`` multiplications, and it is
    never stored as a matrix.
    """

    def __init__(self, n_parameters, n_components, seed, device):
        generator = torch.Generator().manual_seed(int(seed))
        self.n_parameters = int(n_parameters)
        self.n_components = int(n_components)
        columns = torch.randint(0, n_components, (n_parameters,), generator=generator)
        signs = torch.randint(0, 2, (n_parameters,), generator=generator)
        self.columns = columns.to(device)
        self.signs = (2.0 * signs - 1.0).to(device=device, dtype=torch.float32)

    def __call__(self, rows):
        """``rows`` (n, n_parameters) projected to (n, n_components)."""
        out = rows.new_zeros((rows.shape[0], self.n_components))
        return out.index_add_(1, self.columns, rows * self.signs)

    def matrix(self):
        """The (n_parameters, n_components) matrix it multiplies by (for tests)."""
        dense = torch.zeros((self.n_parameters, self.n_components))
        dense[torch.arange(self.n_parameters), self.columns.cpu()] = self.signs.cpu()
        return dense


def output_jacobians(module, X, present, projection=None):
    """Outputs, and per-sample Jacobians of every task's output where labelled.

    Parameters
    ----------
    module : torch.nn.Module
        Returns ``(outputs, representation)`` with outputs (batch, n_tasks),
        like the extractor's trained module. Used in eval mode.
    X : ndarray of shape (n_samples, n_features)
    present : ndarray of bool of shape (n_samples, n_tasks)
        Where task labels exist; only those Jacobian rows are kept (and
        projected, the costly step when most labels are missing).
    projection : SignSketch or None
        Applied to every Jacobian row when given.

    Returns
    -------
    outputs : ndarray of shape (n_samples, n_tasks)
    jacobians : list of ndarray, one per task
        Task ``t``'s entry has shape (present[:, t].sum(), n_columns): its
        labelled samples' rows, in sample order. ``n_columns`` is
        ``n_components`` with a projection, else the number of trainable
        parameters (in the order of ``module.named_parameters()``).
    """
    device = next(module.parameters()).device
    params = {
        name: p.detach() for name, p in module.named_parameters() if p.requires_grad
    }
    frozen = {
        name: p.detach() for name, p in module.named_parameters() if not p.requires_grad
    }
    buffers = {name: b.detach() for name, b in module.named_buffers()}

    def one_sample(trainable, x):
        state = {**trainable, **frozen, **buffers}
        outputs, _ = functional_call(module, state, (x.unsqueeze(0),))
        return outputs.squeeze(0)

    per_sample = vmap(jacrev(one_sample), in_dims=(None, 0))
    n_parameters = sum(p.numel() for p in params.values())
    module.eval()
    with torch.no_grad():
        probe, _ = module(torch.zeros((1, X.shape[1]), device=device))
    n_tasks = probe.shape[1]
    chunk = max(1, CHUNK_FLOATS // max(1, n_tasks * n_parameters))
    outputs, jacobians = [], [[] for _ in range(n_tasks)]
    for start in range(0, X.shape[0], chunk):
        xb = torch.as_tensor(
            np.asarray(X[start : start + chunk], dtype=np.float32), device=device
        )
        with torch.no_grad():
            out, _ = module(xb)
        blocks = per_sample(params, xb)
        jac = torch.cat(
            [blocks[name].reshape(xb.shape[0], n_tasks, -1) for name in params],
            dim=2,
        )
        rows = torch.as_tensor(present[start : start + chunk], device=device)
        for task in range(n_tasks):
            kept = jac[rows[:, task], task]
            if projection is not None:
                kept = projection(kept)
            jacobians[task].append(kept.detach().double().cpu().numpy())
        outputs.append(out.detach().double().cpu().numpy())
    return np.concatenate(outputs), [np.concatenate(rows) for rows in jacobians]
