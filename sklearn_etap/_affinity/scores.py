"""ETAP's per-step score from per-task gradients and the optimizer's state.

ETAP (Ayman et al., ICLR 2026) scores, at step k, how much the update that task
i's gradient alone would make changes task j's loss, to first order:

    z_k[i -> j] = -g_j . dtheta_i / L_j

with g_j = dL_j/dtheta_shared and L_j task j's loss on the batch. For SGD with
momentum (torch convention: buf_k = beta buf_{k-1} + g_k + wd theta,
theta -= eta buf_k) the step task i alone would make is
dtheta_i = -eta (g_i + beta buf_{k-1} + wd theta), so

    z_k[i -> j] = eta (g_i . g_j + g_j . (beta buf_{k-1} + wd theta)) / L_j,

which is the paper's g_j . (eta g_i - beta v_{k-1}) / L_j (its velocity
v = -eta buf) when weight decay is 0. Weight decay is treated like the
momentum term: it is part of every task's step because the optimizer adds it
whatever the batch gradient is. The n x n matrix is a Gram matrix G G^T plus
one product G (beta buf + wd theta). For Adam, dtheta_i is Adam's step with
g_i in place of the full gradient (the optimizer's moments as they are), all
tasks at once as an (n, P) tensor, and z = -(dtheta G^T) / L.

A score z[i -> j] exists at a step only when both tasks have labels in the
batch (and L_j > 0): :func:`scored_pairs`.
"""

import torch


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def optimizer_settings(optimizer):
    """The optimizer's one parameter group (its lr, momentum, ...)."""
    if len(optimizer.param_groups) != 1:
        raise ValueError("affinity recording expects one optimizer parameter group.")
    return optimizer.param_groups[0]


def _state_or_zeros(optimizer, params, key):
    values = [optimizer.state.get(p, {}).get(key) for p in params]
    return flat(
        [torch.zeros_like(p) if v is None else v for p, v in zip(params, values)]
    )


def task_updates(G, optimizer, params):
    """The step each task's gradient alone would make: (n_tasks, P).

    ``G`` holds the flattened per-task gradients of ``params`` (n_tasks, P);
    the optimizer's state is read, not changed.
    """
    settings = optimizer_settings(optimizer)
    lr = settings["lr"]
    theta = flat([p.detach() for p in params])
    grads = G + settings["weight_decay"] * theta
    if isinstance(optimizer, torch.optim.SGD):
        buf = _state_or_zeros(optimizer, params, "momentum_buffer")
        return -lr * (grads + settings["momentum"] * buf)
    if isinstance(optimizer, torch.optim.Adam):
        beta1, beta2 = settings["betas"]
        first = _state_or_zeros(optimizer, params, "exp_avg")
        second = _state_or_zeros(optimizer, params, "exp_avg_sq")
        state = optimizer.state.get(params[0], {})
        step = float(state["step"]) + 1 if "step" in state else 1.0
        first = beta1 * first + (1 - beta1) * grads
        second = beta2 * second + (1 - beta2) * grads**2
        denom = (second / (1 - beta2**step)).sqrt() + settings["eps"]
        return -(lr / (1 - beta1**step)) * first / denom
    raise TypeError(f"no affinity rule for optimizer {type(optimizer).__name__}.")


def descent_matrix(G, optimizer, params):
    """M[i, j] = -g_j . dtheta_i: the first-order decrease of L_j by task i's step."""
    if isinstance(optimizer, torch.optim.SGD):
        settings = optimizer_settings(optimizer)
        decrease = G @ G.T
        # the step every task shares: momentum and weight decay
        drift = 0.0
        if settings["momentum"]:
            buf = _state_or_zeros(optimizer, params, "momentum_buffer")
            drift = settings["momentum"] * buf
        if settings["weight_decay"]:
            theta = flat([p.detach() for p in params])
            drift = drift + settings["weight_decay"] * theta
        if torch.is_tensor(drift):
            decrease = decrease + (G @ drift)[None, :]
        return settings["lr"] * decrease
    return -(task_updates(G, optimizer, params) @ G.T)


def etap_scores(G, losses, optimizer, params):
    """z[i, j] = -g_j . dtheta_i / L_j for one step (``losses`` detached)."""
    return descent_matrix(G, optimizer, params) / losses[None, :]


def scored_pairs(losses, has_label):
    """valid[i, j]: z[i -> j] exists at this step (both tasks labelled, L_j > 0)."""
    return has_label[:, None] & (has_label & (losses > 0))[None, :]
