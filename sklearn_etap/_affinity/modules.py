"""The multi-task torch module: a shared encoder and one head per task.

The built-in encoder is a ReLU multilayer perceptron; the built-in heads are
one linear unit per task, stored as the rows of a single ``nn.Linear`` (row
``t`` of its weight and entry ``t`` of its bias are task ``t``'s head, so the
heads stay independent but run as one matrix product). A user's own encoder
and heads plug into the same :class:`MultiTaskModule`.
"""

import copy

import torch
from torch import nn


class MLPEncoder(nn.Sequential):
    """ReLU multilayer perceptron; its last hidden layer is the representation."""

    def __init__(self, n_features, hidden_layer_sizes):
        layers = []
        n_in = n_features
        for n_out in hidden_layer_sizes:
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
            n_in = n_out
        super().__init__(*layers)


class ListHeads(nn.Module):
    """One user-given module per task, each mapping the representation to its
    task's outputs (``widths[t]`` of them: 1, or k for a k-class task)."""

    def __init__(self, heads, widths=None):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.widths = [1] * len(heads) if widths is None else list(widths)

    def forward(self, representation):
        outputs = []
        for task, (head, width) in enumerate(zip(self.heads, self.widths)):
            out = head(representation)
            if out.ndim == 1 and width == 1:
                out = out.unsqueeze(1)
            if out.ndim != 2 or out.shape != (representation.shape[0], width):
                expected = (
                    "(batch_size,) or (batch_size, 1): one output (a value or a "
                    "logit) per sample"
                    if width == 1
                    else f"(batch_size, {width}): the {width} outputs its task "
                    "type asks for"
                )
                raise ValueError(
                    f"the head of task {task} returned a tensor of shape "
                    f"{tuple(out.shape)} for a batch of {representation.shape[0]} "
                    f"samples; it must return shape {expected}."
                )
            outputs.append(out)
        return torch.cat(outputs, dim=1)


class MultiTaskModule(nn.Module):
    """A shared ``encoder`` followed by ``heads`` giving one output column per task.

    ``forward`` returns ``(outputs, representation)``: the (batch, n_tasks)
    outputs (values for regression tasks, logits for binary tasks) and the
    encoder's (batch, n_representation) output.
    """

    def __init__(self, encoder, heads):
        super().__init__()
        self.encoder = encoder
        self.heads = heads

    def forward(self, x):
        representation = self.encoder(x)
        return self.heads(representation), representation


def check_representation(representation, n_samples):
    """Raise a clear error unless the encoder returned a (n_samples, d) float tensor."""
    if not isinstance(representation, torch.Tensor):
        raise TypeError(
            f"the encoder returned {type(representation).__name__}; it must return "
            "one torch.Tensor of shape (batch_size, n_representation)."
        )
    if representation.ndim != 2 or representation.shape[0] != n_samples:
        raise ValueError(
            f"the encoder returned a tensor of shape {tuple(representation.shape)} "
            f"for a batch of {n_samples} samples; it must return shape "
            "(batch_size, n_representation), e.g. flatten its output with "
            "torch.flatten(h, start_dim=1)."
        )
    if not representation.is_floating_point():
        raise TypeError(
            f"the encoder returned a {representation.dtype} tensor; it must be "
            "floating point."
        )


def build_module(
    encoder, heads, hidden_layer_sizes, n_features, n_tasks, probe, widths=None
):
    """Build a fresh :class:`MultiTaskModule` (under the caller's seeded torch RNG).

    Parameters
    ----------
    encoder : None, nn.Module or callable
        ``None``: :class:`MLPEncoder` with ``hidden_layer_sizes``. A module:
        deep-copied, its weights used as given. A callable (a module class,
        say): called as ``encoder(n_features)`` and must return a module.
    heads : None, callable or list of nn.Module
        ``None``: one linear unit per task. A callable: called once per task as
        ``heads(n_representation)``. A list: one module per task, deep-copied.
    hidden_layer_sizes : sequence of int
    n_features, n_tasks : int
    probe : torch.Tensor
        A few input rows, used to find and check the representation size.
    widths : list of int, default=None
        Outputs of every task's head (None: one each).
    """
    widths = [1] * n_tasks if widths is None else list(widths)
    if encoder is None and probe.ndim != 2:
        raise ValueError(
            f"the built-in MLP encoder takes inputs of one axis, but X's inputs "
            f"have shape {tuple(probe.shape[1:])}; pass an encoder that takes "
            "them (a CNN for images, say), or flatten the inputs."
        )
    if encoder is None:
        encoder_module = MLPEncoder(n_features, hidden_layer_sizes)
    elif isinstance(encoder, nn.Module):
        encoder_module = copy.deepcopy(encoder)
    else:
        encoder_module = encoder(n_features)
        if not isinstance(encoder_module, nn.Module):
            raise TypeError(
                f"encoder(n_features) returned {type(encoder_module).__name__}; a "
                "callable encoder must return a torch.nn.Module."
            )
    # probe in eval mode: a training-mode pass would update BatchNorm
    # statistics (and fail on a single row); train() switches back each epoch
    encoder_module = encoder_module.to(probe.device).eval()
    with torch.no_grad():
        try:
            representation = encoder_module(probe)
        except RuntimeError as exc:
            raise ValueError(
                f"the encoder fails on X's rows of {n_features} features ({exc}). "
                f"Build it for {n_features} input features (its first layer "
                f"nn.Linear({n_features}, ...)), or pass a callable "
                "encoder(n_features) that builds it for the data."
            ) from exc
    check_representation(representation, probe.shape[0])
    n_representation = representation.shape[1]

    if isinstance(heads, nn.Module):
        raise TypeError(
            "heads is a single module; pass a callable heads(n_representation) "
            "that builds one head, or a list with one module per task."
        )
    if heads is None:
        head_module = nn.Linear(n_representation, sum(widths))
    else:
        if isinstance(heads, (list, tuple)):
            if len(heads) != n_tasks:
                raise ValueError(
                    f"heads lists {len(heads)} modules but Y has {n_tasks} task "
                    "columns; give one head per task, or a callable "
                    "heads(n_representation) that builds one head."
                )
            head_list = [copy.deepcopy(head) for head in heads]
        else:
            head_list = [heads(n_representation) for _ in range(n_tasks)]
        for task, head in enumerate(head_list):
            if not isinstance(head, nn.Module):
                raise TypeError(
                    f"the head of task {task} is {type(head).__name__}; heads "
                    "must be torch.nn.Module instances."
                )
        head_module = ListHeads(head_list, widths)
    module = MultiTaskModule(encoder_module, head_module).to(probe.device).eval()
    with torch.no_grad():
        outputs, _ = module(probe)
    if outputs.shape != (probe.shape[0], sum(widths)):
        raise ValueError(
            f"the heads returned shape {tuple(outputs.shape)}; expected "
            f"({probe.shape[0]}, {sum(widths)}): the outputs of every task "
            "side by side (one per regression, binary or custom task, k per "
            "k-class task)."
        )
    return module
