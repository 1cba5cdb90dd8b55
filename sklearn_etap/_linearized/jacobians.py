"""Per-sample Jacobians of every task's output with respect to all parameters.

A trained multi-task module maps one sample to one output per task (a value or
a logit). Around its trained weights ``theta`` each output is linearized as
``f_t(x; theta + delta) ~ f_t(x; theta) + J_t(x) . delta``; this module computes
the rows ``J_t(x)`` for every sample and task with ``torch.func``, in chunks
that bound memory, optionally compressed by a sparse random projection.
"""

import numpy as np
import torch
from torch.func import functional_call, grad, jacrev, vmap

# Floats a chunk of raw Jacobians (chunk x n_tasks x n_parameters) may hold.
CHUNK_FLOATS = 2**23


def n_trainable(module):
    """Number of trainable scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class DenseRademacher:
    """A dense (n_parameters, n_components) matrix of +-1/sqrt(n_components).

    Random signs keep inner products of projected vectors unbiased
    (Johnson-Lindenstrauss), so Gram matrices of projected Jacobians estimate
    those of the full ones. Applying it costs ``n_components``
    multiplications per Jacobian entry.
    """

    def __init__(self, n_parameters, n_components, seed, device):
        generator = torch.Generator().manual_seed(int(seed))
        signs = torch.randint(0, 2, (n_parameters, n_components), generator=generator)
        scale = 1.0 / np.sqrt(n_components)
        self.n_components = int(n_components)
        self._matrix = ((2.0 * signs - 1.0) * scale).to(
            device=device, dtype=torch.float32
        )

    def __call__(self, rows):
        return rows @ self._matrix

    def apply_blocks(self, blocks):
        """The projection of the rows whose columns are ``blocks`` side by side."""
        out, offset = 0, 0
        for block in blocks:
            width = block.shape[1]
            out = out + block @ self._matrix[offset : offset + width]
            offset += width
        return out

    def matrix(self):
        return self._matrix.cpu()


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

    def apply_blocks(self, blocks):
        """The projection of the rows whose columns are ``blocks`` side by side."""
        out = blocks[0].new_zeros((blocks[0].shape[0], self.n_components))
        offset = 0
        for block in blocks:
            width = block.shape[1]
            columns = self.columns[offset : offset + width]
            out.index_add_(1, columns, block * self.signs[offset : offset + width])
            offset += width
        return out

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

    def outputs_of(trainable, x):
        state = {**trainable, **frozen, **buffers}
        outputs, _ = functional_call(module, state, (x.unsqueeze(0),))
        return outputs.squeeze(0)

    def output_of_task(trainable, x, onehot):
        return (outputs_of(trainable, x) * onehot).sum()

    n_parameters = sum(p.numel() for p in params.values())
    module.eval()
    n_tasks = present.shape[1]
    outputs = []
    with torch.no_grad():
        for start in range(0, X.shape[0], 4096):
            xb = torch.as_tensor(
                np.asarray(X[start : start + 4096], dtype=np.float32), device=device
            )
            outputs.append(module(xb)[0].double().cpu().numpy())
    # Where most labels are missing, one gradient per labelled (sample, task)
    # pair costs less than every task's gradient of every sample (jacrev):
    # a pair costs a forward and a backward pass, a sample of jacrev one
    # forward and n_tasks backward passes.
    by_pair = present.mean() < 0.5
    samples, tasks = np.nonzero(present)  # sample-major: each task's rows in order
    jacobians = [[] for _ in range(n_tasks)]
    if by_pair:
        per_row = vmap(grad(output_of_task), in_dims=(None, 0, 0))
        eye = torch.eye(n_tasks, device=device)
        chunk = max(1, CHUNK_FLOATS // max(1, n_parameters))
        for start in range(0, len(samples), chunk):
            rows = samples[start : start + chunk]
            row_tasks = tasks[start : start + chunk]
            xb = torch.as_tensor(np.asarray(X[rows], dtype=np.float32), device=device)
            blocks = per_row(params, xb, eye[torch.as_tensor(row_tasks, device=device)])
            _append_by_task(jacobians, _columns(blocks, projection), row_tasks)
    else:
        per_sample = vmap(jacrev(outputs_of), in_dims=(None, 0))
        chunk = max(1, CHUNK_FLOATS // max(1, n_tasks * n_parameters))
        for start in range(0, X.shape[0], chunk):
            xb = torch.as_tensor(
                np.asarray(X[start : start + chunk], dtype=np.float32), device=device
            )
            # (chunk, n_tasks, *shape) -> one row per labelled (sample, task)
            labelled = present[start : start + chunk]
            kept = torch.as_tensor(labelled.ravel(), device=device)
            blocks = {
                name: block.reshape(-1, *block.shape[2:])[kept]
                for name, block in per_sample(params, xb).items()
            }
            row_tasks = np.nonzero(labelled)[1]
            _append_by_task(jacobians, _columns(blocks, projection), row_tasks)
    width = n_parameters if projection is None else projection.n_components
    return np.concatenate(outputs), [
        np.concatenate(rows) if rows else np.zeros((0, width)) for rows in jacobians
    ]


def _columns(blocks, projection):
    """Per-parameter gradient blocks (rows, *shape) as (rows, n_columns) floats.

    A projection is applied block by block, so the full rows are never
    concatenated.
    """
    flat = [block.reshape(block.shape[0], -1) for block in blocks.values()]
    if projection is None:
        return torch.cat(flat, dim=1)
    return projection.apply_blocks(flat)


def _append_by_task(jacobians, rows, row_tasks):
    rows = rows.detach().double().cpu().numpy()
    for task in np.unique(row_tasks):
        jacobians[task].append(rows[row_tasks == task])
