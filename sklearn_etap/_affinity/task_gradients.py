"""Every task's gradient in one batched backward pass.

The one place they are computed: by the training loop, by the public
``AffinityRecorder`` of a user's own loop and by the benchmarks' research
recorders.
"""

import torch


def per_task_gradients(losses, params, *, retain_graph=False):
    """Gradients of every task's loss with respect to ``params``.

    ONE vectorized backward pass (``is_grads_batched``: the identity matrix
    as the batch of output gradients). Returns a list with one
    (n_tasks, *param.shape) tensor per parameter; a parameter a task does
    not reach gets zeros. ``retain_graph=True`` keeps the graph for the
    caller's own backward pass (a user's loop that records before it).
    """
    eye = torch.eye(losses.shape[0], dtype=losses.dtype, device=losses.device)
    return list(
        torch.autograd.grad(
            losses,
            params,
            grad_outputs=eye,
            retain_graph=retain_graph,
            is_grads_batched=True,
            allow_unused=True,
            materialize_grads=True,
        )
    )


def flatten_tasks(task_grads):
    """Per-parameter (n_tasks, ...) gradients as one (n_tasks, P) matrix."""
    n_tasks = task_grads[0].shape[0]
    return torch.cat([g.reshape(n_tasks, -1) for g in task_grads], dim=1)


def backward_with_task_gradients(losses, shared_params, head_params):
    """Set the training gradient of all parameters from the per-task ones.

    The training gradient of the summed loss is the sum of the task
    gradients, so one batched pass gives both. The heads ride along in that
    pass: cheaper than a separate backward for them. Returns the shared
    (encoder) parameters' per-task gradients, flattened: (n_tasks, P).
    """
    params = shared_params + head_params
    task_grads = per_task_gradients(losses, params)
    for param, grads in zip(params, task_grads):
        param.grad = grads.sum(dim=0)
    return flatten_tasks(task_grads[: len(shared_params)])
