"""Recorders of inter-task affinity, plugged into the training loop.

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

TAG (Fifty et al., NeurIPS 2021) instead takes that step on a copy of the
shared weights and measures z[i -> j] = 1 - L_j(after) / L_j(before) on the
same batch: one extra forward pass per task.

A score z[i -> j] exists at a step only when both tasks have labels in the
batch (and L_j > 0); the recorders keep per-pair counts and average over the
steps where the score exists.
"""

from contextlib import contextmanager

import numpy as np
import torch

from .training import masked_task_losses


def per_task_gradients(losses, params, method="batched"):
    """Gradients of every task's loss with respect to ``params``.

    ``"batched"`` runs ONE vectorized backward pass (``is_grads_batched``: the
    identity matrix as the batch of output gradients); ``"loop"`` runs one
    backward pass per task, the way research code usually does it. Both return
    a list with one (n_tasks, *param.shape) tensor per parameter.
    """
    n_tasks = losses.shape[0]
    if method == "batched":
        eye = torch.eye(n_tasks, dtype=losses.dtype, device=losses.device)
        return list(
            torch.autograd.grad(
                losses,
                params,
                grad_outputs=eye,
                is_grads_batched=True,
                allow_unused=True,
                materialize_grads=True,
            )
        )
    per_task = [
        torch.autograd.grad(
            losses[task],
            params,
            retain_graph=True,
            allow_unused=True,
            materialize_grads=True,
        )
        for task in range(n_tasks)
    ]
    return [torch.stack(grads) for grads in zip(*per_task)]


def set_training_gradients(params, task_grads):
    """The training gradient of the summed loss is the sum of the task gradients."""
    for param, grads in zip(params, task_grads):
        param.grad = grads.sum(dim=0)


def _flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def _flat_tasks(task_grads):
    n_tasks = task_grads[0].shape[0]
    return torch.cat([g.reshape(n_tasks, -1) for g in task_grads], dim=1)


def _optimizer_settings(optimizer):
    if len(optimizer.param_groups) != 1:
        raise ValueError("affinity recording expects one optimizer parameter group.")
    return optimizer.param_groups[0]


def _state_or_zeros(optimizer, params, key):
    values = [optimizer.state.get(p, {}).get(key) for p in params]
    return _flat(
        [torch.zeros_like(p) if v is None else v for p, v in zip(params, values)]
    )


def task_updates(G, optimizer, params):
    """The step each task's gradient alone would make: (n_tasks, P).

    ``G`` holds the flattened per-task gradients of ``params`` (n_tasks, P);
    the optimizer's state is read, not changed.
    """
    settings = _optimizer_settings(optimizer)
    lr = settings["lr"]
    theta = _flat([p.detach() for p in params])
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
        settings = _optimizer_settings(optimizer)
        decrease = G @ G.T
        # the step every task shares: momentum and weight decay
        drift = 0.0
        if settings["momentum"]:
            buf = _state_or_zeros(optimizer, params, "momentum_buffer")
            drift = settings["momentum"] * buf
        if settings["weight_decay"]:
            theta = _flat([p.detach() for p in params])
            drift = drift + settings["weight_decay"] * theta
        if torch.is_tensor(drift):
            decrease = decrease + (G @ drift)[None, :]
        return settings["lr"] * decrease
    return -(task_updates(G, optimizer, params) @ G.T)


def shared_task_gradients(data, method):
    """Per-task gradients of the shared weights, flattened: (n_tasks, P).

    Sets the training gradient of the shared weights and the heads on the way.
    The heads ride along in the batched pass: cheaper than a separate backward
    for them (benchmark: 0.52 ms against 0.64 ms per step).
    """
    params = data.shared_params + data.head_params
    task_grads = per_task_gradients(data.losses, params, method)
    set_training_gradients(params, task_grads)
    return _flat_tasks(task_grads[: len(data.shared_params)])


def scored_pairs(losses, has_label):
    """valid[i, j]: z[i -> j] exists at this step (both tasks labelled, L_j > 0)."""
    return has_label[:, None] & (has_label & (losses > 0))[None, :]


class _AffinityAccumulator:
    """Weighted sums and counts of per-step scores, kept on the device (no host sync).

    A recorded step is weighted by the number of steps it stands for (the
    length of its block in the recording schedule), so
    ``A = sum_k w_k z_k / sum_k w_k`` over the recorded steps is an unbiased
    estimate of the every-step mean when the place of each recorded step is
    drawn uniformly within its block: a step of a short last block does not
    count as much as one of a full block.
    """

    def __init__(self, n_tasks, device):
        self.total = torch.zeros((n_tasks, n_tasks), dtype=torch.float64, device=device)
        self.count = torch.zeros((n_tasks, n_tasks), dtype=torch.float64, device=device)
        self.n_recorded_steps = 0

    def add(self, scores, losses, has_label, weight=1.0):
        valid = scored_pairs(losses, has_label)
        self.total += weight * torch.where(valid, scores, 0.0).double()
        self.count += weight * valid.double()
        self.n_recorded_steps += 1

    def affinity(self):
        """A[i, j]: weighted mean of the recorded z[i -> j]; NaN if never scored."""
        total, count = self.total.cpu().numpy(), self.count.cpu().numpy()
        out = total / np.where(count > 0, count, 1.0)
        out[count == 0] = float("nan")
        return out


class ETAPRecorder(_AffinityAccumulator):
    """ETAP's affinity from one batched backward pass per recorded step.

    Parameters
    ----------
    n_tasks : int
    device : torch.device
    gradient : {"parameters", "representation"}
        ``"parameters"``: the gradients with respect to the shared weights
        (the paper's score). ``"representation"``: a cheap approximation using
        the gradients with respect to the shared representation of the batch
        (backward through the heads only), z = eta g_i . g_j / L_j; the
        momentum and weight-decay terms, which live in weight space, drop out.
    method : {"batched", "loop"}
        How the per-task gradients are computed (see
        :func:`per_task_gradients`).
    """

    def __init__(self, n_tasks, device, gradient="parameters", method="batched"):
        super().__init__(n_tasks, device)
        self.gradient = gradient
        self.method = method

    def step(self, data):
        losses = data.losses
        if self.gradient == "representation":
            # one batched pass through the heads only, then ONE ordinary pass
            # through the encoder with the summed representation gradient
            rep_grads, *head_grads = per_task_gradients(
                losses, [data.representation, *data.head_params], self.method
            )
            set_training_gradients(data.head_params, head_grads)
            data.representation.backward(rep_grads.sum(dim=0))
            G = rep_grads.reshape(losses.shape[0], -1)
            lr = _optimizer_settings(data.optimizer)["lr"]
            decrease = lr * (G @ G.T)
        else:
            G = shared_task_gradients(data, self.method)
            decrease = descent_matrix(G, data.optimizer, data.shared_params)
        losses = losses.detach()
        self.add(decrease / losses[None, :], losses, data.has_label, data.weight)


def lookahead_losses(data, buffers, shared_values):
    """Per-task losses on the step's batch with the shared weights replaced.

    The forward pass runs on copies of ``buffers`` (the module's named
    buffers), which take its in-place updates (BatchNorm running statistics),
    so the trained model is the same as without recording.
    """
    batch = data.batch
    values = {name: buffer.clone() for name, buffer in buffers.items()}
    values.update(zip(data.shared_names, shared_values))
    out, _ = torch.func.functional_call(data.module, values, (batch.X,), strict=False)
    return masked_task_losses(out, batch.targets, batch.present, data.is_binary)[0]


def get_rng_state(device):
    """Torch's random state on the CPU and, for a CUDA ``device``, on that device."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@contextmanager
def replaying_step_randomness(data):
    """Extra forward passes of a step, drawing what the step's own pass drew.

    ``replay()`` (yielded) resets torch's random state to the one before the
    step's forward pass (``data.rng_state``: the same dropout masks); on
    exit, even on an error, the state after that pass is restored, so the
    extra passes take nothing from the random stream training uses.
    """
    device = data.losses.device
    after_forward = get_rng_state(device)

    def replay():
        if data.rng_state is not None:
            set_rng_state(data.rng_state, device)

    try:
        yield replay
    finally:
        set_rng_state(after_forward, device)


class TAGRecorder(_AffinityAccumulator):
    """TAG's lookahead affinity: one extra forward pass per task per recorded step.

    The lookahead step of task i is the optimizer's step with task i's
    gradient alone (the same ``dtheta_i`` as ETAP's), applied to a copy of the
    shared weights; the heads keep their current weights. Every lookahead
    pass runs from the random state of the step's own forward pass (so a
    dropout layer draws the same masks as in training), and the random state
    after that forward pass is restored afterwards: the lookaheads consume
    nothing of the random stream, and the trained model is the one plain
    training gives.
    """

    replays_forward = True  # the training loop passes the step's random state
    get_rng_state = staticmethod(get_rng_state)

    def __init__(self, n_tasks, device, method="batched"):
        super().__init__(n_tasks, device)
        self.method = method

    def step(self, data):
        G = shared_task_gradients(data, self.method)
        updates = task_updates(G, data.optimizer, data.shared_params)
        before = data.losses.detach()
        sizes = [p.numel() for p in data.shared_params]
        buffers = dict(data.module.named_buffers())
        scores = torch.empty((len(before), len(before)), device=before.device)
        with torch.no_grad(), replaying_step_randomness(data) as replay:
            for task, update in enumerate(updates):
                steps = update.split(sizes)
                lookahead = [
                    p.detach() + s.view_as(p) for p, s in zip(data.shared_params, steps)
                ]
                replay()
                after = lookahead_losses(data, buffers, lookahead)
                scores[task] = 1 - after / before
        self.add(scores, before, data.has_label, data.weight)
