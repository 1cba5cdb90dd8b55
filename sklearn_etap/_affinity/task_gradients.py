"""Every task's gradient in batched backward passes, or one pass per task.

The one place they are computed: by the training loop, by the public
``AffinityRecorder`` of a user's own loop and by the benchmarks' research
recorders.
"""

import torch

from .host_memory import release_freed_memory

# One vectorized backward pass holds a gradient of every activation for each
# task it serves: on a CNN over images (40 tasks, batch 128 of 64x64 images)
# that is 1.4 GB at once. A pass serves at most this many bytes of
# activations (tasks x the bytes the forward pass saved for backward): a
# small model (an MLP on a table) keeps one pass for all its tasks.
TASK_PASS_BYTES = 128 * 2**20

# On the CPU a vectorized pass over activations that are large and outweigh
# the weights (convolutions over images) is slower than one plain backward
# pass per task; where the weights dominate or everything is small, the
# vectorized pass wins (benchmarks/bench_cnn_recording.py --parts pass_sizes).
LOOP_SAVED_BYTES = 2 * 2**20
LOOP_SAVED_PER_PARAMETER_BYTE = 2


class SavedActivations:
    """Context counting the bytes the forward pass inside it saves for
    backward: distinct storages, those of ``parameters`` (and their views)
    left out. What one task's share of a vectorized backward pass holds at
    most (the gradients of those activations)."""

    def __init__(self, parameters=()):
        self.bytes = 0
        self._seen = {p.untyped_storage().data_ptr() for p in parameters}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack)

    def _pack(self, tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self._seen:
            self._seen.add(storage.data_ptr())
            self.bytes += storage.nbytes()
        return tensor

    def __enter__(self):
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._seen = set()
        return self._hooks.__exit__(*exc)


def _unpack(tensor):
    return tensor


def graph_saved_bytes(losses, parameters=()):
    """The bytes the graph behind ``losses`` saved for backward, counted as
    :class:`SavedActivations` counts them (distinct storages, those of
    ``parameters`` left out), for a graph built before the caller could
    watch its forward pass (a user's own loop).

    Walks the autograd graph and reads each node's saved tensors, the
    ``_saved_*`` attributes autograd exposes on its nodes.
    """
    seen = {p.untyped_storage().data_ptr() for p in parameters}
    total = 0
    stack = [losses.grad_fn] if losses.grad_fn is not None else []
    visited = set()
    while stack:
        node = stack.pop()
        if node is None or node in visited:
            continue
        visited.add(node)
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            try:
                value = getattr(node, name)
            except RuntimeError:  # a saved tensor already freed
                continue
            for tensor in value if isinstance(value, (tuple, list)) else (value,):
                if not isinstance(tensor, torch.Tensor):
                    continue
                storage = tensor.untyped_storage()
                if storage.data_ptr() not in seen:
                    seen.add(storage.data_ptr())
                    total += storage.nbytes()
        stack.extend(next_node for next_node, _ in node.next_functions)
    return total


def tasks_per_pass(n_tasks, saved_bytes, parameter_bytes=None, device="cpu"):
    """Tasks whose gradients one backward pass computes, given the bytes
    the forward pass saved (None: all tasks in one pass) and those of the
    parameters the pass differentiates.

    At most :data:`TASK_PASS_BYTES` of activation gradients a pass; and on
    the CPU, one task a pass (a plain backward pass each) when the
    activations are large (:data:`LOOP_SAVED_BYTES`) and outweigh the
    parameters (:data:`LOOP_SAVED_PER_PARAMETER_BYTE`): there a vectorized
    pass costs more than one pass per task (a CNN on images; the page "Your
    own model and data" has the measurement), while a model whose weights
    outweigh its activations (an MLP on a table) does best with one
    vectorized pass.
    """
    if not saved_bytes:
        return n_tasks
    if (
        torch.device(device).type == "cpu"
        and parameter_bytes is not None
        and saved_bytes >= LOOP_SAVED_BYTES
        and saved_bytes >= LOOP_SAVED_PER_PARAMETER_BYTE * parameter_bytes
    ):
        return 1
    return int(max(1, min(n_tasks, TASK_PASS_BYTES // saved_bytes)))


def per_task_gradients(
    losses, params, *, retain_graph=False, tasks_per_pass=None, saved_bytes=None
):
    """Gradients of every task's loss with respect to ``params``.

    ONE vectorized backward pass (``is_grads_batched``: the identity matrix
    as the batch of output gradients), or one per ``tasks_per_pass`` tasks
    (None: all tasks in one) to bound the memory the passes hold (1: a
    plain backward pass per task); the
    gradients are the same up to float rounding (a batched matrix product
    may sum in another order). Returns a list with one
    (n_tasks, *param.shape) tensor per parameter; a parameter a task does
    not reach gets zeros. ``retain_graph=True`` keeps the graph for the
    caller's own backward pass (a user's loop that records before it).
    ``saved_bytes`` (what the forward pass saved) sets how often one pass
    per task hands freed memory back: every :data:`TASK_PASS_BYTES` of
    activation gradients, as the vectorized passes do.
    """
    n_tasks = losses.shape[0]
    step = n_tasks if tasks_per_pass is None else max(1, int(tasks_per_pass))
    if step == 1 and n_tasks > 1:
        release_every = (
            max(1, TASK_PASS_BYTES // saved_bytes) if saved_bytes else n_tasks
        )
        return _one_pass_per_task(losses, params, retain_graph, release_every)
    eye = torch.eye(n_tasks, dtype=losses.dtype, device=losses.device)
    parts = []
    for start in range(0, n_tasks, step):
        parts.append(
            torch.autograd.grad(
                losses,
                params,
                grad_outputs=eye[start : start + step],
                retain_graph=retain_graph or start + step < n_tasks,
                is_grads_batched=True,
                allow_unused=True,
                materialize_grads=True,
            )
        )
        if step < n_tasks and losses.device.type == "cpu":
            release_freed_memory()  # the pass's freed activation gradients
    if len(parts) == 1:
        return list(parts[0])
    return [torch.cat(grads) for grads in zip(*parts)]


def _one_pass_per_task(losses, params, retain_graph, release_every):
    """A plain (not vectorized) backward pass per task: cheaper than a
    vectorized pass of one task. The freed heap goes back to the system
    after every ``release_every`` tasks: glibc would keep the freed activation
    gradients of every pass, and trimming after every task costs time where
    they are small."""
    n_tasks = losses.shape[0]
    grads = []
    for task in range(n_tasks):
        grads.append(
            torch.autograd.grad(
                losses[task],
                params,
                retain_graph=retain_graph or task + 1 < n_tasks,
                allow_unused=True,
                materialize_grads=True,
            )
        )
        if losses.device.type == "cpu" and (task + 1) % release_every == 0:
            release_freed_memory()
    if losses.device.type == "cpu" and n_tasks % release_every:
        release_freed_memory()
    return [torch.stack(per_param) for per_param in zip(*grads)]


def flatten_tasks(task_grads):
    """Per-parameter (n_tasks, ...) gradients as one (n_tasks, P) matrix."""
    n_tasks = task_grads[0].shape[0]
    return torch.cat([g.reshape(n_tasks, -1) for g in task_grads], dim=1)


def backward_with_task_gradients(losses, shared_params, head_params, saved_bytes=None):
    """Set the training gradient of all parameters from the per-task ones.

    The training gradient of the summed loss is the sum of the task
    gradients, so one batched pass gives both. The heads ride along in that
    pass: cheaper than a separate backward for them. ``saved_bytes`` (what
    the forward pass saved, :class:`SavedActivations`) splits the tasks
    into passes of :data:`TASK_PASS_BYTES` at most, or one plain pass per
    task where that is cheaper (:func:`tasks_per_pass`). Returns the shared
    (encoder) parameters' per-task gradients, flattened: (n_tasks, P).
    """
    params = shared_params + head_params
    parameter_bytes = sum(p.numel() * p.element_size() for p in params)
    per_pass = tasks_per_pass(
        losses.shape[0], saved_bytes, parameter_bytes, losses.device
    )
    task_grads = per_task_gradients(
        losses, params, tasks_per_pass=per_pass, saved_bytes=saved_bytes
    )
    for param, grads in zip(params, task_grads):
        param.grad = grads.sum(dim=0)
    return flatten_tasks(task_grads[: len(shared_params)])
