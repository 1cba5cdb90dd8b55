"""ETAP's per-step score from per-task gradients and the optimizer's state.

ETAP (Ayman et al., ICLR 2026) scores, at step k, how much the update that task
i's gradient alone would make changes task j's loss, to first order:

    z_k[i -> j] = -g_j . dtheta_i / L_j

with g_j = dL_j/dtheta_shared and L_j task j's loss on the batch. dtheta_i is
the step the optimizer would take if task i's gradient were the whole batch
gradient, its state (momentum buffer, Adam's moments, step count) as it is
before the step and read, not changed. For SGD with momentum (torch
convention: buf_k = beta buf_{k-1} + g_k + wd theta, theta -= eta buf_k) that
is dtheta_i = -eta (g_i + beta buf_{k-1} + wd theta), so

    z_k[i -> j] = eta (g_i . g_j + g_j . (beta buf_{k-1} + wd theta)) / L_j,

which is the paper's g_j . (eta g_i - beta v_{k-1}) / L_j (its velocity
v = -eta buf) when weight decay is 0. Weight decay is treated like the
momentum term: it is part of every task's step because the optimizer adds it
whatever the batch gradient is. The n x n matrix is a Gram matrix G G^T plus
one product G (beta buf + wd theta); dampening and Nesterov momentum scale
the Gram term and change the shared part. For Adam and AdamW, dtheta_i is
the optimizer's step with g_i in place of the full gradient (its moments as
they are; AdamW's decoupled decay -eta wd theta included; AMSGrad's running
maximum of the second moment), all tasks at once as an (n, P) tensor, and
z = -(dtheta G^T) / L.

The score is a sum over the shared parameters, so with several parameter
groups every group's block of parameters takes its own learning rate,
momentum, betas, eps and weight decay, and the blocks' scores add up.

A score z[i -> j] exists at a step only when both tasks have labels in the
batch (and L_j > 0): :func:`scored_pairs`.
"""

import torch

SUPPORTED = "torch.optim.SGD, torch.optim.Adam and torch.optim.AdamW"


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def optimizer_settings(optimizer):
    """The optimizer's one parameter group (its lr, momentum, ...)."""
    if len(optimizer.param_groups) != 1:
        raise ValueError("affinity recording expects one optimizer parameter group.")
    return optimizer.param_groups[0]


def check_optimizer(optimizer):
    """Raise unless the score has a rule for every parameter group's step.

    Supported: torch's SGD (momentum, dampening, Nesterov, weight decay),
    Adam (L2 weight decay, AMSGrad, ``decoupled_weight_decay``) and AdamW.
    ``maximize=True`` is refused: the score measures how much one task's step
    lowers another's loss. ``foreach``, ``fused``, ``capturable`` and
    ``differentiable`` change how torch computes the step, not the step.
    """
    if not isinstance(
        optimizer, (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW)
    ):
        raise TypeError(
            f"optimizer is a {type(optimizer).__name__}; the affinity score has "
            f"rules for {SUPPORTED} only."
        )
    for number, group in enumerate(optimizer.param_groups):
        if group.get("maximize"):
            raise ValueError(
                f"the optimizer's parameter group {number} has maximize=True; the "
                "affinity score measures how much one task's step lowers another "
                "task's loss. Minimize the task losses (negate the objectives) "
                "with maximize=False."
            )


def _label(names, position, param):
    if names is not None:
        return names[position]
    return f"number {position} (shape {tuple(param.shape)})"


def parameter_blocks(optimizer, params, names=None):
    """The shared parameters split by the optimizer's parameter group holding them.

    Returns a list of ``(group, block_params, columns)``: ``columns`` indexes
    the block's entries in the flattened ``params`` (``None`` when one group
    holds them all). Parameters of the optimizer not in ``params`` (the
    heads) are ignored; a shared parameter it does not hold is an error,
    labelled by ``names[position]`` when given, else by position and shape.
    """
    group_of = {
        id(p): number
        for number, group in enumerate(optimizer.param_groups)
        for p in group["params"]
    }
    owners = []
    for position, p in enumerate(params):
        if id(p) not in group_of:
            raise ValueError(
                f"shared parameter {_label(names, position, p)} is not among the "
                "optimizer's parameters: the affinity scores the optimizer's step "
                "of the shared weights, so the optimizer must hold every shared "
                "parameter (or leave it out of the shared parameters)."
            )
        owners.append(group_of[id(p)])
    if len(set(owners)) == 1:
        return [(optimizer.param_groups[owners[0]], list(params), None)]
    ends = torch.tensor([p.numel() for p in params]).cumsum(0).tolist()
    starts = [0, *ends[:-1]]
    device = params[0].device
    blocks = []
    for number in sorted(set(owners)):
        members = [k for k, owner in enumerate(owners) if owner == number]
        columns = torch.cat(
            [torch.arange(starts[k], ends[k], device=device) for k in members]
        )
        blocks.append(
            (optimizer.param_groups[number], [params[k] for k in members], columns)
        )
    return blocks


def _state_or_zeros(optimizer, params, key):
    values = [optimizer.state.get(p, {}).get(key) for p in params]
    return flat(
        [torch.zeros_like(p) if v is None else v for p, v in zip(params, values)]
    )


def _per_entry(values, params):
    """One number per parameter: a float when all agree, else one per entry."""
    if all(v == values[0] for v in values):
        return values[0]
    return flat(
        [
            torch.full((p.numel(),), v, dtype=p.dtype, device=p.device)
            for p, v in zip(params, values)
        ]
    )


def _dampened_share(optimizer, params, dampening):
    """The factor of the new gradient in the new momentum buffer: torch starts
    the buffer as the gradient itself (factor 1), then adds it times
    1 - dampening."""
    started = [
        optimizer.state.get(p, {}).get("momentum_buffer") is not None for p in params
    ]
    return _per_entry([1.0 - dampening if s else 1.0 for s in started], params)


def _sgd_updates(G, optimizer, settings, params):
    lr, momentum = settings["lr"], settings["momentum"]
    dampening, nesterov = settings.get("dampening", 0), settings.get("nesterov")
    theta = flat([p.detach() for p in params])
    grads = G + settings["weight_decay"] * theta
    buf = _state_or_zeros(optimizer, params, "momentum_buffer")
    if not (nesterov or dampening):
        return -lr * (grads + momentum * buf)
    if not momentum:
        return -lr * grads
    new_buf = momentum * buf + _dampened_share(optimizer, params, dampening) * grads
    return -lr * (grads + momentum * new_buf if nesterov else new_buf)


def _sgd_descent(G, optimizer, settings, params):
    """-g_j . dtheta_i for SGD, with dtheta_i = -lr (scale g_i + shared)."""
    lr, momentum = settings["lr"], settings["momentum"]
    decay = settings["weight_decay"]
    dampening, nesterov = settings.get("dampening", 0), settings.get("nesterov")
    scale, buf_weight = 1.0, momentum
    plain = not (momentum and (dampening or nesterov))
    if not plain:
        # torch: buf' = momentum buf + share d, step = buf' (+ d for Nesterov
        # as d + momentum buf'), with d = g + decay theta
        share = _dampened_share(optimizer, params, dampening)
        scale = 1.0 + momentum * share if nesterov else share
        buf_weight = momentum * momentum if nesterov else momentum
    decrease = G @ G.T if plain else (G * scale) @ G.T
    # the step every task shares: momentum and weight decay
    shared = 0.0
    if momentum:
        buf = _state_or_zeros(optimizer, params, "momentum_buffer")
        shared = buf_weight * buf
    if decay:
        theta = flat([p.detach() for p in params])
        shared = shared + (scale * decay) * theta
    if torch.is_tensor(shared):
        decrease = decrease + (G @ shared)[None, :]
    return lr * decrease


def _adam_updates(G, optimizer, settings, params):
    lr, decay = settings["lr"], settings["weight_decay"]
    beta1, beta2 = settings["betas"]
    decoupled = isinstance(optimizer, torch.optim.AdamW) or settings.get(
        "decoupled_weight_decay", False
    )
    theta = flat([p.detach() for p in params])
    grads = G if decoupled else G + decay * theta
    first = _state_or_zeros(optimizer, params, "exp_avg")
    second = _state_or_zeros(optimizer, params, "exp_avg_sq")
    steps = [
        float(optimizer.state[p]["step"]) + 1
        if "step" in optimizer.state.get(p, {})
        else 1.0
        for p in params
    ]
    step = _per_entry(steps, params)
    first = beta1 * first + (1 - beta1) * grads
    second = beta2 * second + (1 - beta2) * grads**2
    if settings.get("amsgrad"):
        second = torch.maximum(
            _state_or_zeros(optimizer, params, "max_exp_avg_sq"), second
        )
    denom = (second / (1 - beta2**step)).sqrt() + settings["eps"]
    updates = -(lr / (1 - beta1**step)) * first / denom
    if decoupled and decay:
        updates = updates - (lr * decay) * theta
    return updates


def _block_updates(G, optimizer, settings, params):
    if isinstance(optimizer, torch.optim.SGD):
        return _sgd_updates(G, optimizer, settings, params)
    return _adam_updates(G, optimizer, settings, params)


def task_updates(G, optimizer, params):
    """The step each task's gradient alone would make: (n_tasks, P).

    ``G`` holds the flattened per-task gradients of ``params`` (n_tasks, P);
    the optimizer's state is read, not changed.
    """
    check_optimizer(optimizer)
    blocks = parameter_blocks(optimizer, params)
    if len(blocks) == 1:
        return _block_updates(G, optimizer, blocks[0][0], params)
    updates = torch.empty_like(G)
    for settings, block, columns in blocks:
        updates[:, columns] = _block_updates(G[:, columns], optimizer, settings, block)
    return updates


def descent_matrix(G, optimizer, params):
    """M[i, j] = -g_j . dtheta_i: the first-order decrease of L_j by task i's step."""
    check_optimizer(optimizer)
    total = None
    for settings, block, columns in parameter_blocks(optimizer, params):
        G_block = G if columns is None else G[:, columns]
        if isinstance(optimizer, torch.optim.SGD):
            M = _sgd_descent(G_block, optimizer, settings, block)
        else:
            M = -(_adam_updates(G_block, optimizer, settings, block) @ G_block.T)
        total = M if total is None else total + M
    return total


def etap_scores(G, losses, optimizer, params):
    """z[i, j] = -g_j . dtheta_i / L_j for one step (``losses`` detached)."""
    return descent_matrix(G, optimizer, params) / losses[None, :]


def scored_pairs(losses, has_label):
    """valid[i, j]: z[i -> j] exists at this step (both tasks labelled, L_j > 0)."""
    return has_label[:, None] & (has_label & (losses > 0))[None, :]
