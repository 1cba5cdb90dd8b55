"""ETAP's affinity recorded during a PyTorch Lightning ``Trainer.fit``.

Needs the optional extra: ``pip install "sklearn-etap[lightning]"`` (Lightning
2.0 or newer). :class:`AffinityCallback` records with the same
:class:`~sklearn_etap.AffinityRecorder` a hand-written loop uses, from a
``LightningModule`` that follows a two-part protocol:

- ``shared_parameters()`` returns the weights every task shares (the
  encoder's);
- ``training_step`` returns a dict with ``"loss"`` (what Lightning trains on,
  usually ``task_losses.sum()``) and ``"task_losses"`` (a tensor with every
  task's loss on the batch, attached to the graph), and optionally
  ``"has_label"`` (whether each task has a label in the batch).
"""

import functools

try:
    from lightning.pytorch import Callback
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sklearn_etap.lightning needs PyTorch Lightning 2.0 or newer: install "
        'the extra with `pip install "sklearn-etap[lightning]"` (or `pip install '
        "lightning`)."
    ) from exc

from ._affinity.user_recorder import AffinityRecorder

__all__ = ["AffinityCallback"]


class AffinityCallback(Callback):
    """Lightning callback recording ETAP's task affinity during ``Trainer.fit``.

    On every training step it passes the step's per-task losses to an
    :class:`~sklearn_etap.AffinityRecorder` before Lightning's backward pass
    (``on_before_backward``: the graph and the optimizer's state before the
    step), which scores one step at a random place in every block of
    ``every``. The training is the one Lightning runs without the callback:
    the recorder never sets ``.grad``, steps the optimizer or draws from
    torch's random state.

    The ``LightningModule`` must define ``shared_parameters()`` (the weights
    every task shares) and return from ``training_step`` a dict with
    ``"loss"`` and ``"task_losses"`` (every task's loss on the batch, a
    tensor of shape (n_tasks,) attached to the graph), optionally
    ``"has_label"``. One optimizer, automatic optimization and
    ``accumulate_grad_batches=1``: the score models one optimizer step per
    backward pass. The optimizer is one the recorder supports (SGD, Adam or
    AdamW, any number of parameter groups holding the shared parameters).

    Parameters
    ----------
    every : int, default=100
        One step is scored at a random place in every block of this many;
        1 scores every step (the extractor's ``affinity_every``; its
        ``"auto"`` default is 100 on a long training of up to 10 tasks and
        ``10 * n_tasks`` beyond).
    random_state : int, RandomState instance or None, default=None
        Seeds the places of the scored steps.

    Attributes
    ----------
    recorder_ : AffinityRecorder
        The recorder the last ``fit`` fed (created at its first step; it
        samples within the last partial block when the trainer knows its
        number of steps).
    affinity_ : ndarray of shape (n_tasks, n_tasks)
        ``recorder_.affinity_``: ``affinity_[i, j]`` estimates the mean over
        the training's steps of ETAP's score z[i -> j].

    See Also
    --------
    sklearn_etap.AffinityRecorder : The recorder, for a hand-written loop.

    Examples
    --------
    >>> import torch
    >>> import lightning.pytorch as pl
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from sklearn_etap.lightning import AffinityCallback
    >>> class TwoTasks(pl.LightningModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 8),
    ...                                            torch.nn.ReLU())
    ...         self.heads = torch.nn.Linear(8, 2)
    ...     def shared_parameters(self):
    ...         return self.encoder.parameters()
    ...     def training_step(self, batch, batch_idx):
    ...         x, y = batch
    ...         task_losses = ((self.heads(self.encoder(x)) - y) ** 2).mean(0)
    ...         return {"loss": task_losses.sum(), "task_losses": task_losses}
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(128, 4)
    >>> data = DataLoader(TensorDataset(X, X[:, :2] * 2), batch_size=32)
    >>> callback = AffinityCallback(every=2, random_state=0)
    >>> trainer = pl.Trainer(max_epochs=3, callbacks=[callback], logger=False,
    ...                      enable_progress_bar=False, enable_checkpointing=False,
    ...                      enable_model_summary=False)
    >>> trainer.fit(TwoTasks(), data)
    >>> callback.recorder_.n_steps_, callback.recorder_.n_recorded_steps_
    (12, 6)
    >>> callback.affinity_.shape
    (2, 2)
    """

    def __init__(self, every=100, random_state=None):
        self.every = every
        self.random_state = random_state

    @property
    def affinity_(self):
        """The recorded affinity (``recorder_.affinity_``).

        Returns
        -------
        affinity : ndarray of shape (n_tasks, n_tasks)
            NaN for a pair never scored.
        """
        return self.recorder_.affinity_

    def on_fit_start(self, trainer, pl_module):
        """Check the module's protocol and start capturing its task losses.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        """
        if not callable(getattr(pl_module, "shared_parameters", None)):
            raise TypeError(
                f"{type(pl_module).__name__} has no shared_parameters() method; "
                "AffinityCallback needs it to return the weights every task "
                "shares (e.g. self.encoder.parameters())."
            )
        if not pl_module.automatic_optimization or trainer.accumulate_grad_batches != 1:
            raise ValueError(
                "AffinityCallback needs automatic optimization and "
                "accumulate_grad_batches=1: it scores one optimizer step per "
                "backward pass."
            )
        steps = trainer.estimated_stepping_batches
        self._n_steps = int(steps) if steps != float("inf") else None
        # named after the module's attributes, so errors can name a parameter
        names = {id(p): name for name, p in pl_module.named_parameters()}
        self._shared = [
            item if isinstance(item, tuple) else (names.get(id(item)), item)
            for item in pl_module.shared_parameters()
        ]
        self._step_output = None
        self.recorder_ = None
        original = pl_module.training_step

        @functools.wraps(original)
        def training_step(*args, **kwargs):
            output = original(*args, **kwargs)
            self._step_output = output
            return output

        # an instance attribute over the class's method, removed at teardown
        pl_module.training_step = self._wrapper = training_step

    def on_before_backward(self, trainer, pl_module, loss):
        """Score the step when sampled: the graph exists, the optimizer has not moved.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained.
        loss : torch.Tensor
            The loss Lightning is about to differentiate.
        """
        output, self._step_output = self._step_output, None
        if not isinstance(output, dict) or "task_losses" not in output:
            raise ValueError(
                f"{type(pl_module).__name__}.training_step returned "
                f"{type(output).__name__}; with AffinityCallback it must return a "
                'dict with "loss" and "task_losses" (every task\'s loss on the '
                "batch, a tensor attached to the graph)."
            )
        if len(trainer.optimizers) != 1:
            raise ValueError(
                f"the module configures {len(trainer.optimizers)} optimizers; "
                "AffinityCallback needs exactly one."
            )
        task_losses = output["task_losses"]
        if self.recorder_ is None:
            self.recorder_ = AffinityRecorder(
                self._shared,
                len(task_losses),
                every=self.every,
                n_steps=self._n_steps,
                random_state=self.random_state,
            )
        self.recorder_.record(
            task_losses, trainer.optimizers[0], has_label=output.get("has_label")
        )

    def teardown(self, trainer, pl_module, stage):
        """Give the module back its own ``training_step``.

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module trained.
        stage : str
            ``"fit"``, ``"validate"``, ...
        """
        if vars(pl_module).get("training_step") is getattr(self, "_wrapper", None):
            del pl_module.training_step
