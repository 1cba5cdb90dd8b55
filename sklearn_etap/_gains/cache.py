"""On-disk store of finished gain trainings, so interrupted measurements resume.

Each finished training is one small JSON file of plain numbers (its test
losses and any blown-up task), named by a key made of the extractor's
settings, the hashes of the data it saw, its seed and the versions of
sklearn-etap and torch. Nothing is unpickled: a file is parsed as JSON and
checked (the key it claims, the number of losses, finite values); an entry
that fails is reported and trained again. A file is written to a temporary
name and renamed into place (``os.replace``), so a training is either fully
on disk or absent, even when the run is killed, and two processes on one
directory never see half a file. The data is hashed once per measurement
(:func:`data_keys`), never once per training.

Entries live in one folder per (format, sklearn-etap version, torch version):
another version may train differently, so its entries are not reused, and
opening the store says how many such entries the directory holds.
"""

import json
import os
import stat
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch

from .keys import describe

# Bump when the meaning of a stored training changes (e.g. how rows are
# filtered before fitting), so old entries stop matching.
_STORE_FORMAT = 2


def training_overrides(seed, n_threads=None):
    """The parameters measure_gains sets in every training, with their values.

    The ONE list of them: the cache key leaves out exactly these names
    (:data:`OVERRIDDEN_PARAMS`), since they do not change what a training
    computes, or (the seed) enter the key on their own. ``n_threads=None``
    keeps the extractor's own thread bound.
    """
    overrides = {"affinity": None, "random_state": seed, "verbose": False}
    overrides["n_threads"] = n_threads
    # A user's callbacks observe the extractor's own run (a recorder of
    # affinity, say); the gain trainings run without them.
    overrides["callbacks"] = None
    return overrides


OVERRIDDEN_PARAMS = tuple(training_overrides(0))


def versions():
    """The versions a stored training depends on, beyond its settings and data."""
    from .. import __version__

    return {"sklearn_etap": __version__, "torch": torch.__version__}


def estimator_key(extractor):
    """Hash of the extractor's settings, as far as they define a training.

    Each parameter is described by what can be observed of it
    (:mod:`.keys`): a torch module by its class, weights and plain
    attributes; a class or function (a module factory, a lambda) by its
    compiled code, the helpers and globals that code reads, its closure and
    defaults. A parameter that cannot be observed is refused with a
    ``ValueError`` naming it.
    """
    params = extractor.get_params(deep=False)
    cls = type(extractor)
    described = [
        (name, describe(value, name))
        for name, value in sorted(params.items())
        if name not in OVERRIDDEN_PARAMS
    ]
    return joblib.hash((describe(cls, "extractor"), described, versions()))


def data_keys(X, Y, X_test, Y_test):
    """Hash the inputs once: one key for the features, one per task column."""
    features = joblib.hash((X, X_test))
    columns = [
        joblib.hash((np.ascontiguousarray(Y[:, j]), np.ascontiguousarray(Y_test[:, j])))
        for j in range(Y.shape[1])
    ]
    return features, columns


def training_key(extractor_key, features_key, column_keys, seed):
    """Key of one training: its settings, its data and its seed."""
    return joblib.hash(
        (_STORE_FORMAT, extractor_key, features_key, list(column_keys), int(seed))
    )


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# The models compute in float32: a finite loss of a training is below this.
_LARGEST_LOSS = float(np.finfo(np.float32).max)


def check_losses(losses):
    """Why ``losses`` cannot be test losses of a training, or ``None``.

    Every loss the extractor computes (squared error, cross-entropy) is
    finite, at least 0 and below the float32 range the models compute in.
    """
    if not np.isfinite(losses).all():
        return "non-finite losses"
    if (losses < 0).any():
        return f"negative losses ({losses.min():.3g}); a loss is at least 0"
    if (losses > _LARGEST_LOSS).any():
        return (
            f"losses up to {losses.max():.3g}, beyond float32, in which models compute"
        )
    return None


def _entry_size_limit(n_losses):
    """Bytes an honest entry of ``n_losses`` losses stays under, with room."""
    return 4096 + 512 * n_losses


class _DamagedEntry(ValueError):
    """A cache entry that is not a readable stored training."""


class StoredTraining:
    """One finished training: its test losses, and its blown-up tasks as
    ``(column, loss before training, loss at the end)``, columns of its ``Y``."""

    def __init__(self, losses, blown_up=()):
        self.losses = np.asarray(losses, dtype=float)
        self.blown_up = [(int(t), float(a), float(b)) for t, a, b in blown_up]


class TrainingStore:
    """Finished trainings in ``location``, one JSON file each.

    Parameters
    ----------
    location : str or path-like
        Directory of the store; created when missing. Reusing it across calls
        (and processes) shares the finished trainings.
    """

    def __init__(self, location):
        self.location = Path(location)
        v = versions()
        self.folder = self.location / (
            f"format{_STORE_FORMAT}-sklearn_etap-{v['sklearn_etap']}-torch-{v['torch']}"
        )
        self.folder.mkdir(parents=True, exist_ok=True)

    def stale_entries(self):
        """Entries of other formats or versions: {folder or format: count}."""
        counts = {}
        for folder in self.location.iterdir():
            if folder.is_dir() and folder.name.startswith("format"):
                if folder != self.folder:
                    n = sum(1 for f in folder.glob("*.json"))
                    if n:
                        counts[folder.name] = n
        joblib_dir = self.location / "joblib"
        if joblib_dir.is_dir():  # format 1: joblib.Memory pickles, never read
            n = sum(1 for _ in joblib_dir.rglob("output.pkl"))
            if n:
                counts["format1 (joblib pickles)"] = n
        return counts

    def _path(self, key):
        if not (isinstance(key, str) and key.isalnum()):
            raise ValueError(f"invalid training key {key!r}")
        return self.folder / f"{key}.json"

    def load(self, key, n_losses):
        """The stored training for ``key``; ``None`` if absent or invalid.

        An invalid entry (not a regular file, larger than any training
        writes, not JSON, another key, another number of losses, losses no
        training gives) gives a ``UserWarning`` naming the file and
        ``None``, so the training runs again and overwrites it. Only regular
        files are read, never more than an entry can hold: a FIFO, a device
        or a directory at an entry's path cannot block or exhaust the run.
        """
        path = self._path(key)
        try:
            raw = _read_entry(path, _entry_size_limit(n_losses))
            if raw is None:
                return None
            return self._parse(raw, key, n_losses)
        except (_DamagedEntry, ValueError, TypeError, KeyError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            warnings.warn(
                f"cache entry {path} is invalid ({reason}); training it again.",
                UserWarning,
                stacklevel=5,
            )
            return None
        except OSError as exc:
            warnings.warn(
                f"cache entry {path} cannot be read ({exc}); training it again.",
                UserWarning,
                stacklevel=5,
            )
            return None

    @staticmethod
    def _parse(raw, key, n_losses):
        entry = json.loads(raw.decode("utf-8"))
        if not isinstance(entry, dict):
            raise TypeError("not a JSON object")
        if entry.get("format") != _STORE_FORMAT or entry.get("key") != key:
            raise ValueError("it claims another key or format")
        losses = entry["losses"]
        if not isinstance(losses, list) or not all(map(_is_number, losses)):
            raise TypeError("losses are not a list of numbers")
        losses = np.asarray(losses, dtype=float)
        if losses.shape != (n_losses,):
            raise ValueError(f"{losses.size} losses for {n_losses} task(s)")
        problem = check_losses(losses)
        if problem is not None:
            raise ValueError(problem)
        blown_up = entry.get("blown_up", [])
        if not isinstance(blown_up, list) or any(
            not isinstance(b, list)
            or len(b) != 3
            or not all(map(_is_number, b))
            or not 0 <= b[0] < n_losses
            for b in blown_up
        ):
            raise TypeError("blown_up is not a list of [task, start, end]")
        return StoredTraining(losses, blown_up)

    def save(self, key, training):
        """Store ``training`` under ``key``: temporary file, then ``os.replace``.

        Trainings with losses :func:`check_losses` refuses are not stored
        (they would be refused when read), nor where a directory or other
        non-file holds the entry's path (:meth:`load` warned about it).
        """
        if check_losses(training.losses) is not None:
            return
        text = json.dumps(
            {
                "format": _STORE_FORMAT,
                "key": key,
                "losses": training.losses.tolist(),
                "blown_up": [list(b) for b in training.blown_up],
                "versions": versions(),
            }
        )
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(key))
        except OSError as exc:
            # e.g. a directory at the entry's path (not ours to delete) or a
            # full disk: the training stands, but a resume would redo it.
            Path(tmp).unlink(missing_ok=True)
            warnings.warn(
                f"could not store a finished training in the gain cache at "
                f"{self._path(key)} ({exc}); a rerun will train it again.",
                UserWarning,
                stacklevel=2,
            )
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _read_entry(path, limit):
    """The bytes of the regular file ``path``, ``None`` if absent.

    Opened without blocking (a FIFO would block a plain open) and checked to
    be a regular file before reading; at most ``limit`` bytes are read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:  # Windows cannot open a directory
        raise _DamagedEntry("it is a directory, not a file") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _DamagedEntry("it is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise _DamagedEntry("it is not a regular file (a FIFO, device or socket?)")
        if info.st_size > limit:
            raise _DamagedEntry(f"{info.st_size} bytes, more than an entry holds")
        raw = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise _DamagedEntry("more bytes than an entry holds")
    return raw
