"""TorchAffinityExtractor: one multi-task torch model on all tasks, and affinities."""

import copy
import math

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state

from .._task_names import names_from_columns
from .checks import (
    PARAMETER_CONSTRAINTS,
    check_hidden_layer_sizes,
    check_precision,
    resolve_device,
)
from .data_sources import is_dataset
from .fit_callbacks import builtin_callbacks, make_recorder
from .fit_warnings import warn_after_fit
from .inference import TrainedModelMixin
from .inputs import training_inputs, training_sources
from .modules import build_module
from .randomness import seeded_torch
from .recording import auto_recording_interval
from .safeguards import torch_threads
from .task_types import TaskLoss, resolve_tasks
from .training import fit_loop, make_optimizer

DEFAULT_AFFINITY_EVERY = "auto"


class TorchAffinityExtractor(
    TrainedModelMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Train one multi-task torch model on all tasks and record their affinities.

    The model is a shared encoder followed by one head per task. During
    training the extractor records ETAP's affinity score (Ayman et al., ICLR
    2026) of every ordered task pair: at step k, with g_i the gradient of task
    i's batch loss L_i with respect to the shared (encoder) weights and
    dtheta_i the step the optimizer would take with g_i alone,

        z_k[i -> j] = -g_j . dtheta_i / L_j

    which for SGD with momentum is the paper's
    ``g_j . (eta g_i - beta v_{k-1}) / L_j`` (positive: task i's update lowers
    task j's loss). ``affinity_[i, j]`` estimates the mean of z_k[i -> j]
    over every step. All per-task gradients of a step come from one batched
    backward pass, whose sum is the training gradient.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(32, 16)
        Units of the built-in ReLU MLP encoder; the last size is the size of
        the representation. Ignored when ``encoder`` is given.
    encoder : torch.nn.Module or callable, default=None
        A user's shared encoder. It must map a float tensor of shape
        (batch_size, n_features) to ONE tensor of shape (batch_size,
        n_representation). A module instance is deep-copied in ``fit`` and
        trained from the weights it has; a callable (a module class, say) is
        called as ``encoder(n_features)`` under the seeded torch RNG and must
        return such a module. All its trainable parameters are shared.
    heads : callable or list of torch.nn.Module, default=None
        ``None``: the outputs of every task (one, or k for a k-class task)
        as the rows of one ``nn.Linear``. A callable is called once per task
        as ``heads(n_representation)``; a list gives one module per task (so
        it only fits a ``Y`` with that many columns). Each head maps the
        representation to its task's outputs: shape (batch_size, 1) or
        (batch_size,) for one output, (batch_size, k) for k.
    task_types : {"auto", "regression", "binary", "multiclass"} or list, \
            default="auto"
        Loss of each task: ``"regression"`` (mean squared error),
        ``"binary"`` (labels {0, 1}, binary cross-entropy with logits),
        ``("multiclass", k)`` (k outputs; labels the class indices 0 .. k-1
        stored as floats; cross-entropy; ``"multiclass"`` alone: k = the
        largest training label + 1), or a callable ``loss(output, target)``
        returning per-sample losses of shape (batch_size,) (a custom task
        with one output; ``(loss, n_outputs)`` for several). ``"auto"``: a
        column whose labels are all 0 or 1 is binary, any other is
        regression. A list gives one entry per task. The user guide's page
        "Data sets, memory maps and task types" shows each.
    optimizer : {"sgd", "adam", "adamw"}, default="sgd"
        ``"sgd"``: SGD with momentum (the paper's setting). ``"adam"``: Adam;
        the affinity then scores the Adam step each task's gradient alone
        would make. ``"adamw"``: AdamW, ``weight_decay`` decoupled.
    learning_rate : float, default=0.01
        Step size of the optimizer. Too large a value makes the training
        blow up (a ``ConvergenceWarning``) or diverge (a ``ValueError``).
    momentum : float, default=0.9
        SGD momentum (unused by Adam).
    batch_size : int, default=64
        Samples per optimizer step (the last batch of an epoch may be
        smaller).
    max_epochs : int, default=50
        Passes over the training samples (fewer with ``early_stopping``).
    weight_decay : float, default=0.0
        L2 penalty added to the gradient by the optimizer. It is not
        task-specific: like the momentum term, it enters every task's step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples and stop once the
        summed validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the best epoch's weights are kept.
    validation_fraction : float, default=0.1
        Share of the samples held out for early stopping (at least one);
        only used when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without an improvement of the validation loss by ``tol``
        after which early stopping ends the training.
    tol : float, default=1e-4
        The least decrease of the summed validation loss that counts as an
        improvement for early stopping.
    affinity : {"etap", "tag"} or None, default="etap"
        ``"etap"``: ETAP's score. ``"tag"``: TAG's lookahead score (Fifty et
        al. 2021), ``1 - L_j(after) / L_j(before)`` after task i's step alone,
        as a baseline. ``None``: plain training, ``affinity_`` is None.
    affinity_every : int or "auto", default="auto"
        The exact score (about a backward pass per task) is computed on one
        random step in every block of this many steps (seeded by
        ``random_state``), weighted by its block's length; 1: every step.
        ``"auto"``: ``max(100, 10 * n_tasks)``, so that the recording costs
        about the same small share of the training (under 10% on the
        benchmarked models) whatever the number of tasks, lowered to
        ``n_planned_steps // 4`` when the planned training (``max_epochs``
        times the batches of an epoch) is too short to record 4 steps at
        that interval. It depends on the data's shape only, never on
        timings; ``affinity_every_`` holds the value used.
    affinity_control_variate : bool, default=False
        Score at every step the part all tasks share (momentum, weight
        decay) by one extra forward pass, and correct it on the sampled
        steps: an unbiased control variate. It fixes only each target task's
        column level; the user guide's affinity page compares its cost and
        agreement with sampling alone.
    device : str, default="auto"
        ``"auto"``: CUDA when available, else CPU; or any torch device string.
    num_workers : int, default=0
        Worker processes of the ``DataLoader`` that loads a
        ``torch.utils.data.Dataset`` input (0: load in the training process).
        Unused with arrays. The shuffling order never depends on it.
    n_threads : int or None, default=1
        Torch threads ``fit``, ``predict``, ``transform`` and ``task_losses``
        use; the process's setting is restored when they return. Small
        models gain nothing from more threads, and torch's default of one
        per core oversubscribes cores that joblib workers or other fits
        share (the benchmark results page times both). Raise it for large
        encoders on an idle machine; ``None`` leaves torch's setting as it
        is.
    precision : {"32", "bf16-mixed"}, default="32"
        The training's arithmetic, named as PyTorch Lightning names it.
        ``"32"``: float32 throughout. ``"bf16-mixed"``: float32 weights,
        gradients and optimizer; every forward pass of the training (the
        recorders' extra passes included) under ``torch.autocast`` with
        bfloat16, its outputs back in float32, so the losses, the per-task
        gradients and the affinity scores are float32. It needs a CPU or a
        CUDA device that supports bfloat16. ``predict``, ``transform`` and
        ``task_losses`` run in float32. float16 is not offered: it needs a
        gradient scaler, whose scaled per-task gradients the recording would
        have to undo.
    compile : bool, default=False
        Take the forward pass of the training steps through
        ``torch.compile`` (as skorch's ``compile``). A step whose per-task
        gradients are recorded runs the uncompiled module (the batched
        backward pass cannot go through a compiled graph), and so does every
        step with ``affinity="tag"`` or ``affinity_control_variate=True``
        (their extra passes replay the step's random draws). The first
        compiled fit of a process compiles (seconds to minutes on a CPU);
        every later ``fit`` traces the model again and reuses inductor's
        cache. It pays off on long trainings of large models. ``module_``
        is the uncompiled module.
    callbacks : list of TrainingCallback or None, default=None
        The user's own :class:`sklearn_etap.callbacks.TrainingCallback`
        objects, notified by the training loop after the built-in ones
        (divergence check, early stopping, progress bar, affinity recorder).
        ``fit`` trains with copies of them, kept in ``callbacks_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialization, the shuffling and the validation
        split. Two CPU fits with the same integer seed are bit-identical.
    verbose : bool, default=False
        Show a progress bar over epochs with the running loss.

    Attributes
    ----------
    affinity_ : ndarray of shape (n_tasks, n_tasks) or None
        ``affinity_[i, j]``: an unbiased estimate of the every-step mean of
        z[i -> j] (``affinity_every``, ``affinity_control_variate``); NaN for
        a pair never scored (a task without labels in every recorded batch).
    n_tasks_ : int
        Number of tasks (columns of ``Y``, or the length of a Dataset's
        label vectors).
    task_names_ : ndarray of object of shape (n_tasks,)
        The column labels of ``Y`` when it was a DataFrame with string
        labels, else the integers ``0 .. n_tasks - 1``.
    task_types_ : ndarray of str of shape (n_tasks,)
        ``"regression"``, ``"binary"``, ``"multiclass"`` or ``"custom"`` for
        every task, as resolved from ``task_types``.
    n_outputs_ : ndarray of int of shape (n_tasks,)
        Outputs of every task's head (k for a k-class task, else 1 or the
        ``n_outputs`` of a custom loss).
    loss_curve_ : list of float
        Mean summed training loss of every epoch.
    validation_scores_ : list of float or None
        Summed validation loss of every epoch with ``early_stopping``.
    n_iter_ : int
        Epochs run.
    n_steps_ : int
        Optimizer steps taken.
    n_recorded_steps_ : int
        Steps at which the exact score was computed.
    affinity_every_ : int
        The recording interval used: ``affinity_every``, or what ``"auto"``
        resolved to.
    callbacks_ : list of TrainingCallback
        The copies of ``callbacks`` the training notified (empty without
        ``callbacks``): what they recorded.
    module_ : torch.nn.Module
        The trained model (``module_.encoder``, ``module_.heads``); its
        ``forward`` returns ``(outputs, representation)``.
    device_ : torch.device
        The device the model was trained on.
    n_features_in_ : int
        Number of features seen in ``fit`` (array input only).
    feature_names_in_ : ndarray of shape (n_features_in,)
        Names of the features seen in ``fit``, when ``X`` has string column
        names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import TorchAffinityExtractor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = np.c_[X[:, 0] + X[:, 1], X[:, 0] - X[:, 1], X[:, 0] > 0]
    >>> ext = TorchAffinityExtractor(max_epochs=5, device="cpu", random_state=0)
    >>> ext.fit(X, Y).affinity_.shape
    (3, 3)
    >>> ext.task_types_.tolist()
    ['regression', 'regression', 'binary']
    >>> ext.transform(X).shape
    (200, 16)
    >>> ext.predict(X).shape
    (200, 3)
    >>> ext.task_losses(X, Y).shape
    (3,)
    """

    per_task_params = ("task_types", "heads")  # measure_gains cuts them per model
    _parameter_constraints = PARAMETER_CONSTRAINTS

    def __init__(
        self,
        *,
        hidden_layer_sizes=(32, 16),
        encoder=None,
        heads=None,
        task_types="auto",
        optimizer="sgd",
        learning_rate=0.01,
        momentum=0.9,
        batch_size=64,
        max_epochs=50,
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        affinity="etap",
        affinity_every=DEFAULT_AFFINITY_EVERY,
        affinity_control_variate=False,
        device="auto",
        num_workers=0,
        n_threads=1,
        precision="32",
        compile=False,
        callbacks=None,
        random_state=None,
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.encoder = encoder
        self.heads = heads
        self.task_types = task_types
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.affinity = affinity
        self.affinity_every = affinity_every
        self.affinity_control_variate = affinity_control_variate
        self.device = device
        self.num_workers = num_workers
        self.n_threads = n_threads
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, Y=None):
        """Train the multi-task model on all columns of ``Y`` and record affinities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            Training inputs: an array (copied to the device), a memory-mapped
            array (``np.load(path, mmap_mode="r")``: read a batch of rows at
            a time from its file; it may have more axes, e.g. images), or a
            ``torch.utils.data.Dataset`` whose items are ``(x, y)`` pairs,
            ``y`` the label vector (NaN for missing), loaded a batch at a
            time through a ``DataLoader``.
        Y : array-like of shape (n_samples, n_tasks) or (n_samples,), default=None
            One column per task; NaN marks a missing label (the sample still
            trains the other tasks). A 1-D ``Y`` is one task. None when
            ``X`` is a Dataset (its items carry the labels).

        Returns
        -------
        self : TorchAffinityExtractor
            The fitted extractor.

        Raises
        ------
        ValueError
            When a task's training loss becomes NaN or infinite; the message
            names the task and the epoch.

        Warns
        -----
        ConvergenceWarning
            When a task's training loss ends more than 10 times above its
            loss before training (the training blew up: lower
            ``learning_rate``), or early stopping reached ``max_epochs``.
        UserWarning
            When ``affinity_`` has NaN entries (the warning names the tasks:
            tasks with too few labels to be in a recorded batch), or no step
            was recorded.
        """
        data, validation, seed = self._prepare_training(
            X, Y, check_random_state(self.random_state)
        )
        check_precision(self.precision, self.device_)
        is_binary = TaskLoss(self._task_specs, self.device_)
        self.affinity_every_ = self._recording_interval(len(data))
        recorder = make_recorder(
            self.affinity,
            self.n_tasks_,
            self.device_,
            every=self.affinity_every_,
            seed=seed,
            control_variate=self.affinity_control_variate,
        )
        patience = (self.n_iter_no_change, self.tol) if self.early_stopping else None
        builtin = builtin_callbacks(
            recorder, patience, validation, is_binary, verbose=self.verbose
        )
        self.callbacks_ = [copy.deepcopy(cb) for cb in self.callbacks or []]
        with torch_threads(self.n_threads), seeded_torch(seed, self.device_):
            module = self._build_module(data)
            optimizer = make_optimizer(
                self.optimizer,
                module.parameters(),
                self.learning_rate,
                self.momentum,
                self.weight_decay,
            )
            history = fit_loop(
                module,
                optimizer,
                data,
                is_binary,
                batch_size=self.batch_size,
                max_epochs=self.max_epochs,
                generator=torch.Generator().manual_seed(seed),
                callbacks=builtin + self.callbacks_,
                precision=self.precision,
                compile=self.compile,
            )
        self.module_ = module
        self.loss_curve_ = history.loss_curve
        self.validation_scores_ = (
            history.validation_curve if self.early_stopping else None
        )
        self.n_iter_ = history.n_epochs
        self.n_steps_ = history.n_steps
        self.affinity_ = None if recorder is None else recorder.affinity()
        self.n_recorded_steps_ = 0 if recorder is None else recorder.n_recorded_steps
        warn_after_fit(
            history,
            affinity=self.affinity_,
            n_recorded_steps=self.n_recorded_steps_,
            affinity_every=self.affinity_every_,
            max_epochs=self.max_epochs if self.early_stopping else None,
        )
        return self

    def _prepare_training(self, X, Y, rng):
        """Validate the data, learn its tasks; the training and validation
        sources and the torch seed (``rng``'s first draw)."""
        names = None if is_dataset(X) else names_from_columns(Y)
        X, Y = training_inputs(self, X, Y)
        self._hidden = check_hidden_layer_sizes(self.hidden_layer_sizes, self.encoder)
        self.n_tasks_ = Y.shape[1]
        self.task_names_ = np.asarray(
            range(self.n_tasks_) if names is None else names, dtype=object
        )
        specs = resolve_tasks(self.task_types, Y)
        self.task_types_ = np.asarray([spec.kind for spec in specs], dtype=str)
        self.n_outputs_ = np.asarray([spec.n_outputs for spec in specs], dtype=int)
        self._task_specs = specs
        self.device_ = resolve_device(self.device)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        fraction = self.validation_fraction if self.early_stopping else None
        data, validation = training_sources(
            X, Y, self.device_, fraction, rng, self.num_workers
        )
        return data, validation, seed

    def _build_module(self, data):
        """The untrained model, under the caller's seeded torch RNG."""
        probe = data.probe(8)
        self._input_shape = tuple(probe.shape[1:])
        return build_module(
            self.encoder,
            self.heads,
            self._hidden,
            self._input_shape[0],
            self.n_tasks_,
            probe=probe,
            widths=self.n_outputs_,
        )

    def _recording_interval(self, n_fit_rows):
        if self.affinity_every != "auto":
            return int(self.affinity_every)
        n_planned = self.max_epochs * math.ceil(n_fit_rows / self.batch_size)
        return auto_recording_interval(self.n_tasks_, n_planned)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def initialize_module(self, X, Y=None):
        """Build the untrained model ``fit(X, Y)`` would train, and train nothing.

        As skorch's ``NeuralNet.initialize_module``, it sets ``module_`` and
        returns the extractor: ``module_`` is the multi-task model (encoder
        and heads sized for ``X`` and ``Y``'s tasks) with the weights ``fit``
        starts from for the same ``random_state`` (bit-identical on the CPU
        with an integer seed). What ``fit`` learns of the data before it
        trains is set too (``n_tasks_``, ``task_names_``, ``task_types_``,
        ``n_outputs_``, ``device_``, ``n_features_in_`` for arrays); what the
        training gives (``affinity_``, ``loss_curve_``, ...) is not. Use it
        to load stored weights (``module_.load_state_dict``) or to look at
        the model before training. ``random_state`` is left as it was: a
        RandomState instance is copied, not drawn from, so a ``fit`` that
        follows starts from the same weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or Dataset
            The inputs ``fit`` would train on (as in :meth:`fit`).
        Y : array-like of shape (n_samples, n_tasks) or (n_samples,), default=None
            The labels ``fit`` would train on (as in :meth:`fit`); None when
            ``X`` is a Dataset.

        Returns
        -------
        self : TorchAffinityExtractor
            The extractor, its ``module_`` untrained.

        Examples
        --------
        >>> import numpy as np
        >>> import torch
        >>> from sklearn_etap import TorchAffinityExtractor
        >>> rng = np.random.RandomState(0)
        >>> X, Y = rng.normal(size=(100, 4)), rng.normal(size=(100, 2))
        >>> ext = TorchAffinityExtractor(device="cpu", random_state=0)
        >>> module = ext.initialize_module(X, Y).module_
        >>> [tuple(p.shape) for p in module.parameters()]
        [(32, 4), (32,), (16, 32), (16,), (2, 16), (2,)]
        >>> again = TorchAffinityExtractor(device="cpu", random_state=0)
        >>> weights = again.initialize_module(X, Y).module_.state_dict()
        >>> all(torch.equal(weights[k], v) for k, v in module.state_dict().items())
        True
        """
        self._validate_params()
        # fit's steps up to its first training step, from a copy of
        # random_state: the same torch seed and probe rows, so fit's weights
        data, _, seed = self._prepare_training(
            X, Y, check_random_state(copy.deepcopy(self.random_state))
        )
        with torch_threads(self.n_threads), seeded_torch(seed, self.device_):
            self.module_ = self._build_module(data)
        return self
