"""The training settings of ``etap run``: options named after the extractor's
parameters, early stopping on, regression targets standardized.

Every option maps to the :class:`~sklearn_etap.TorchAffinityExtractor`
parameter of the same name (``--learning-rate`` to ``learning_rate``), so a
setting found on the command line carries over to the Python API unchanged.
"""

import argparse
import contextlib
import os
import warnings

from sklearn.exceptions import ConvergenceWarning

from .._gains import TrivialPredictorWarning
from .._validation import InvalidParameterError
from .data import UsageError

# Start of the extractor's warning when early stopping reaches max_epochs.
_EPOCH_LIMIT = "Stopped at max_epochs"

#: option -> (extractor parameter, type, help). ``None`` defaults keep the
#: extractor's own default.
_OPTIONS = {
    "--learning-rate": ("learning_rate", float, "step size of the optimizer (0.01)"),
    "--optimizer": ("optimizer", str, "sgd (with momentum; default) or adam"),
    "--momentum": ("momentum", float, "SGD momentum (0.9)"),
    "--batch-size": ("batch_size", int, "samples per optimizer step (64)"),
    "--weight-decay": ("weight_decay", float, "L2 penalty (0)"),
    "--validation-fraction": (
        "validation_fraction",
        float,
        "share of the training rows held out for early stopping (0.1)",
    ),
    "--n-iter-no-change": (
        "n_iter_no_change",
        int,
        "epochs without improvement after which early stopping ends a training (10)",
    ),
}


_METAVARS = {float: "X", int: "N", str: "NAME"}


def add_training_options(parser):
    """Add the training settings to the ``run`` parser."""
    group = parser.add_argument_group(
        "training settings (the TorchAffinityExtractor parameters of the same name)"
    )
    for option, (_, kind, text) in _OPTIONS.items():
        group.add_argument(
            option, type=kind, default=None, metavar=_METAVARS[kind], help=text
        )
    group.add_argument(
        "--hidden-layer-sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="UNITS",
        help="units of the MLP encoder's layers (32 16)",
    )
    group.add_argument(
        "--early-stopping",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="stop each training once its validation loss stops improving, "
        "keeping the best epoch (default: on)",
    )
    group.add_argument(
        "--standardize-targets",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="standardize the regression targets with the training rows' mean "
        "and standard deviation (default: on; the scale used is reported)",
    )
    group.add_argument(
        "--n-seeds",
        type=int,
        default=1,
        metavar="S",
        help="trainings of every measured group and single-task model, with "
        "different seeds; their spread widens the reported interval (1)",
    )


def extractor_params(options):
    """The extractor parameters the options set (the others keep defaults)."""
    params = {
        name: getattr(options, option[2:].replace("-", "_"))
        for option, (name, _, _) in _OPTIONS.items()
    }
    params["hidden_layer_sizes"] = options.hidden_layer_sizes and tuple(
        options.hidden_layer_sizes
    )
    params["max_epochs"] = options.epochs
    params = {name: value for name, value in params.items() if value is not None}
    params["early_stopping"] = bool(options.early_stopping)
    return params


def short_training_interval(extractor):
    """The recording interval of a fitted extractor whose training was too
    short for the long-training interval (``affinity_every="auto"`` lowered it
    so that the run records at least 4 steps), else None."""
    from .._affinity.recording import LONG_TRAINING_EVERY, STEPS_PER_TASK

    every = getattr(extractor, "affinity_every_", None)
    if extractor.affinity_every != "auto" or every is None:
        return None
    long = max(LONG_TRAINING_EVERY, STEPS_PER_TASK * extractor.n_tasks_)
    return every if every < long else None


def check_training_options(options):
    """Raise UsageError naming the option whose value the extractor refuses."""
    from .._affinity import TorchAffinityExtractor

    if options.n_seeds < 1:
        raise UsageError(f"--n-seeds {options.n_seeds}: train at least 1 seed.")
    params = extractor_params(options)
    for name, value in params.items():
        try:
            TorchAffinityExtractor(**{name: value})._validate_params()
        except InvalidParameterError as exc:
            option = "--epochs" if name == "max_epochs" else _option_of(name)
            shown = " ".join(map(str, value)) if isinstance(value, tuple) else value
            raise UsageError(f"{option} {shown}: {exc}") from exc


def _option_of(name):
    return "--" + name.replace("_", "-")


@contextlib.contextmanager
def training_warnings_reported_once():
    """Silence the per-training warnings the printout reports better.

    Early stopping that runs to the last epoch warns once per training
    (dozens of lines, from worker processes too, which inherit the
    environment's filter); the trivial-predictor warning is the printout's
    own WARNING line.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_EPOCH_LIMIT, category=ConvergenceWarning
        )
        warnings.filterwarnings("ignore", category=TrivialPredictorWarning)
        previous = os.environ.get("PYTHONWARNINGS")
        os.environ["PYTHONWARNINGS"] = ",".join(
            filter(None, [previous, f"ignore:{_EPOCH_LIMIT}"])
        )
        try:
            yield
        finally:
            if previous is None:
                del os.environ["PYTHONWARNINGS"]
            else:
                os.environ["PYTHONWARNINGS"] = previous
