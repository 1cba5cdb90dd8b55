"""ETAP's affinity recorded in a user's own training loop.

:class:`AffinityRecorder` is called once per training step with the step's
per-task losses, before the user's own backward pass and optimizer step. On
the steps its schedule samples (one at a random place in every block of
``every``, as the extractor's), it takes every task's gradient of the shared
weights with the function the extractor's loop uses (one batched backward
pass that keeps the graph) and scores them with the extractor's ETAP
recorder. It never sets ``.grad``, steps the optimizer or draws from torch's
random state, so the user's training is exactly what it is without it.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from .recording import ETAPRecorder, RecordingSchedule
from .scores import check_optimizer, parameter_blocks
from .task_gradients import (
    flatten_tasks,
    graph_saved_bytes,
    per_task_gradients,
    tasks_per_pass,
)


def check_recordable_optimizer(optimizer, shared_parameters, names=None):
    """Raise unless ETAP's score has a rule for ``optimizer``'s update.

    The score needs the step one task's gradient alone would make: the rules
    of :mod:`.scores` cover torch's SGD (momentum, dampening, Nesterov,
    weight decay), Adam (L2 or decoupled weight decay, AMSGrad) and AdamW,
    with any number of parameter groups, as long as the optimizer holds every
    shared parameter.
    """
    check_optimizer(optimizer)
    parameter_blocks(optimizer, shared_parameters, names)


class AffinityRecorder:
    """Record ETAP's task affinity in your own PyTorch training loop.

    Call :meth:`record` once per training step with every task's loss on the
    batch, after the forward pass and before your ``backward()`` and
    ``optimizer.step()``. On one step at a random place in every block of
    ``every`` steps it computes every task's gradient of the shared weights
    (one batched backward pass that keeps the graph for yours) and adds
    ETAP's score of every task pair, weighted by its block's length, exactly
    as :class:`~sklearn_etap.TorchAffinityExtractor` records during its fit.
    Your training is unchanged: the recorder never sets ``.grad``, steps the
    optimizer or draws from torch's random state.

    At step k, with g_i the gradient of task i's loss L_i and dtheta_i the
    step the optimizer would take with g_i alone (its learning rate,
    momentum, Adam moments and weight decay as they are before the step),
    the score is ``z_k[i -> j] = -g_j . dtheta_i / L_j``; ``affinity_[i, j]``
    estimates its mean over every step.

    Optimizers: ``torch.optim.SGD`` (momentum, dampening, Nesterov, weight
    decay), ``torch.optim.Adam`` (L2 or decoupled weight decay, AMSGrad) and
    ``torch.optim.AdamW``, with any number of parameter groups: each shared
    parameter's step takes its own group's settings (the heads' groups do not
    matter). ``maximize=True`` and other optimizers raise an error.

    Parameters
    ----------
    shared_parameters : iterable of torch.nn.Parameter or of (str, Parameter)
        The weights every task shares (the encoder's, e.g.
        ``model.encoder.parameters()``, or ``model.encoder.named_parameters()``
        for errors that name a parameter); those that do not require a
        gradient are left out. The optimizer must hold every one of them.
    n_tasks : int
        Number of tasks: the length of the loss vector passed to
        :meth:`record`.
    every : int, default=100
        One step is scored at a random place in every block of this many;
        1 scores every step. The extractor's ``affinity_every="auto"`` on a
        long training of up to 10 tasks; with more tasks, raise it with the
        number of tasks as the extractor does
        (``100 + 20 * max(0, n_tasks - 10)``).
    n_steps : int, default=None
        The number of steps the training will take, when known (epochs times
        batches per epoch): the last, partial block is then sampled within
        itself, as the extractor does. ``None``: every block is ``every``
        steps long, and a last partial block may go unrecorded.
    random_state : int, RandomState instance or None, default=None
        Seeds the places of the scored steps; the same integer as the
        extractor's ``random_state`` scores the same steps.

    Attributes
    ----------
    affinity_ : ndarray of shape (n_tasks, n_tasks)
        ``affinity_[i, j]``: the block-weighted mean of the recorded
        z[i -> j]; NaN for a pair never scored (a task without labels in
        every recorded batch). Available once a step was recorded.
    n_steps_ : int
        Steps passed to :meth:`record` so far.
    n_recorded_steps_ : int
        Steps scored so far.

    See Also
    --------
    TorchAffinityExtractor : Trains its own model and records the same score.
    sklearn_etap.callbacks.TrainingCallback : Hooks of the extractor's loop.

    Notes
    -----
    A task without labels in a batch should have a loss of 0 there (a masked
    mean whose count is clamped to 1, as the extractor computes it), or be
    marked by ``has_label``: the pairs it is part of are not scored on that
    step.

    Examples
    --------
    >>> import torch
    >>> from sklearn_etap import AffinityRecorder
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(256, 4)
    >>> Y = torch.stack([X[:, 0], X[:, 0] + X[:, 1], -X[:, 0]], dim=1)
    >>> encoder = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    >>> heads = torch.nn.Linear(8, 3)
    >>> params = [*encoder.parameters(), *heads.parameters()]
    >>> optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    >>> rec = AffinityRecorder(encoder.parameters(), n_tasks=3, every=4,
    ...                        random_state=0)
    >>> for epoch in range(5):
    ...     for batch in torch.randperm(256).split(32):
    ...         task_losses = ((heads(encoder(X[batch])) - Y[batch]) ** 2).mean(0)
    ...         optimizer.zero_grad()
    ...         _ = rec.record(task_losses, optimizer)
    ...         task_losses.sum().backward()
    ...         optimizer.step()
    >>> rec.n_steps_, rec.n_recorded_steps_
    (40, 10)
    >>> rec.affinity_.shape
    (3, 3)
    """

    def __init__(
        self, shared_parameters, n_tasks, *, every=100, n_steps=None, random_state=None
    ):
        if isinstance(shared_parameters, torch.Tensor):
            shared_parameters = [shared_parameters]
        named = [
            item if isinstance(item, tuple) else (None, item)
            for item in shared_parameters
        ]
        kept = [
            (f"number {k} (shape {tuple(p.shape)})" if name is None else repr(name), p)
            for k, (name, p) in enumerate(named)
            if p.requires_grad
        ]
        params = [p for _, p in kept]
        if not params:
            raise ValueError(
                "shared_parameters holds no tensor that requires a gradient; pass "
                "the shared weights, e.g. model.encoder.parameters()."
            )
        for name, value, least in (("n_tasks", n_tasks, 1), ("every", every, 1)):
            if not isinstance(value, Integral) or value < least:
                raise ValueError(f"{name} must be an int >= {least}; got {value!r}.")
        if n_steps is not None and (not isinstance(n_steps, Integral) or n_steps < 1):
            raise ValueError(f"n_steps must be None or an int >= 1; got {n_steps!r}.")
        self.shared_parameters = params
        self.n_tasks = int(n_tasks)
        self.every = int(every)
        self.n_steps = n_steps
        self.random_state = random_state
        # drawn as the extractor draws its seed, so equal integers sample alike
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        self._schedule = RecordingSchedule(self.every, seed, n_steps)
        self._scores = ETAPRecorder(
            self.n_tasks, params[0].device, every=self.every, seed=seed
        )
        self._n_steps_seen = 0
        self._labels = [label for label, _ in kept]
        self._checked_optimizer = None

    @property
    def n_steps_(self):
        """Steps passed to :meth:`record` so far.

        Returns
        -------
        n_steps : int
            The count.
        """
        return self._n_steps_seen

    @property
    def n_recorded_steps_(self):
        """Steps scored so far.

        Returns
        -------
        n_recorded_steps : int
            The count.
        """
        return self._scores.n_recorded_steps

    @property
    def affinity_(self):
        """The recorded affinity: ``affinity_[i, j]`` estimates mean z[i -> j].

        Returns
        -------
        affinity : ndarray of shape (n_tasks, n_tasks)
            NaN for a pair never scored.

        Raises
        ------
        NotFittedError
            When no step was recorded yet.
        """
        if self.n_recorded_steps_ == 0:
            raise NotFittedError(
                f"no step recorded yet ({self.n_steps_} steps seen, one in "
                f"{self.every} is scored): call record() at every training step."
            )
        return self._scores.affinity()

    def record(self, task_losses, optimizer, *, has_label=None):
        """Take this step's per-task losses; score the step if it is sampled.

        Call it at every training step, after the forward pass and before
        ``backward()`` and ``optimizer.step()`` (the graph and the
        optimizer's state before the step are what it reads). It leaves
        ``.grad``, the optimizer and torch's random state as they are.

        Parameters
        ----------
        task_losses : torch.Tensor of shape (n_tasks,) or sequence of scalars
            Every task's loss on the batch, attached to the graph (not
            detached); their sum is what you train on.
        optimizer : torch.optim.SGD, torch.optim.Adam or torch.optim.AdamW
            The optimizer about to take the step; it holds every shared
            parameter, in any of its parameter groups. It is checked at the
            first step and at every scored step.
        has_label : array-like of bool of shape (n_tasks,), default=None
            Whether each task has a label in the batch. ``None``: the tasks
            whose loss is finite and not 0.

        Returns
        -------
        recorded : bool
            Whether this step was scored.
        """
        step = self._n_steps_seen
        self._n_steps_seen += 1
        sampled = self._schedule.records(step)
        # at the first step (and for a new optimizer) rather than at the
        # first sampled one; a sampled step checks again (groups may change)
        if sampled or id(optimizer) != self._checked_optimizer:
            check_recordable_optimizer(optimizer, self.shared_parameters, self._labels)
            self._checked_optimizer = id(optimizer)
        if not sampled:
            return False
        losses = self._loss_vector(task_losses)
        try:
            # split the tasks into passes as the extractor's training loop does
            saved = graph_saved_bytes(losses, self.shared_parameters)
            passes = tasks_per_pass(
                self.n_tasks,
                saved,
                sum(p.numel() * p.element_size() for p in self.shared_parameters),
                losses.device,
            )
            task_grads = per_task_gradients(
                losses,
                self.shared_parameters,
                retain_graph=True,
                tasks_per_pass=passes,
                saved_bytes=saved,
            )
        except RuntimeError as exc:
            raise RuntimeError(
                f"could not differentiate task_losses ({exc}). Call record() "
                "before backward(), on losses computed with gradients enabled "
                "from the shared parameters."
            ) from exc
        if has_label is None:
            detached = losses.detach()
            labelled = torch.isfinite(detached) & (detached != 0)
        else:
            labelled = torch.as_tensor(
                has_label, dtype=torch.bool, device=losses.device
            )
            if labelled.shape != (self.n_tasks,):
                raise ValueError(
                    f"has_label has shape {tuple(labelled.shape)}; expected "
                    f"({self.n_tasks},): one flag per task."
                )
        self._scores.record(
            flatten_tasks(task_grads),
            losses,
            labelled,
            optimizer,
            self.shared_parameters,
            self._schedule.weight,
        )
        return True

    def _loss_vector(self, task_losses):
        if not isinstance(task_losses, torch.Tensor):
            task_losses = torch.stack([torch.as_tensor(t) for t in task_losses])
        if task_losses.shape != (self.n_tasks,):
            raise ValueError(
                f"task_losses has shape {tuple(task_losses.shape)}; expected "
                f"({self.n_tasks},): one loss per task (reduce each task's loss "
                "over the batch)."
            )
        if not task_losses.requires_grad:
            raise ValueError(
                "task_losses does not require a gradient: compute them with "
                "gradients enabled (not under torch.no_grad() or detached), and "
                "call record() before backward()."
            )
        return task_losses
