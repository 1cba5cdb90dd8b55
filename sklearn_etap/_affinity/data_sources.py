"""Training data that does not sit on the device: memory maps and torch Datasets.

In-memory arrays go to the device whole (:class:`~.training.TaskData`: the
fastest path for data that fits). The two sources here hand the training loop
one batch at a time instead, as :class:`~.training.TaskData` on the device,
and share its protocol (``len``, ``device``, ``n_tasks``, ``batches``,
``in_order``, ``probe``, ``subset``):

- :class:`HostArrays`: a memory-mapped array (``np.load(mmap_mode="r")``,
  ``np.memmap``), read a batch of rows at a time through its file
  (:class:`FileRows`), so the process's memory does not grow with the file;
- :class:`DatasetSource`: a ``torch.utils.data.Dataset`` yielding ``(x, y)``,
  loaded through a ``DataLoader`` (worker processes, pinned memory and
  non-blocking copies on CUDA).

The labels of both are small (n_samples x n_tasks) and sit on the device
whole; only the inputs stream. The shuffling order comes from the training
loop's seeded generator, as for in-memory arrays, so a source gives the
same batches as the arrays it holds.
"""

import mmap
import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .training import TaskData

# The inputs of one scoring batch (in_order) stay under this many bytes.
SCORING_BATCH_BYTES = 8 * 2**20


def is_dataset(X):
    """Whether ``X`` is a torch ``Dataset`` (not an array)."""
    return isinstance(X, Dataset)


def memory_map_of(X):
    """The ``np.memmap`` behind ``X`` when it is a shared (read-only or
    read-write) memory map or a view of one, else None."""
    base = X
    while base is not None:
        if isinstance(base, np.memmap) and getattr(base, "filename", None):
            # "c" (copy-on-write) maps privately: the file does not hold the
            # caller's changes, so such a map is read like any array
            return base if base.mode in ("r", "r+", "readonly", "readwrite") else None
        base = getattr(base, "base", None)
    return None


class FileRows:
    """Rows of a C-contiguous memory-mapped array, read through its file.

    Reading through the mapping would make every page read count in the
    process's resident memory (with large page-cache folios, a whole folio
    per row touched); ``os.preadv`` copies the rows from the page cache
    into the batch and leaves nothing mapped. Runs of consecutive rows are
    read in one call.
    """

    def __init__(self, X, memmap_):
        mapping = memmap_.base
        mapped_at = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
        # the mapping starts at the offset rounded down to the granularity
        file_start = memmap_.offset - memmap_.offset % mmap.ALLOCATIONGRANULARITY
        self.path = memmap_.filename
        self.start = file_start + (X.ctypes.data - mapped_at)
        self.row_shape, self.dtype = X.shape[1:], X.dtype
        self.row_bytes = X[:1].nbytes
        self._fd = None

    def __getstate__(self):
        return {**self.__dict__, "_fd": None}

    def __del__(self):
        if self._fd is not None:
            os.close(self._fd)

    def read(self, rows):
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        order = np.argsort(rows, kind="stable")
        ordered = np.asarray(rows)[order]
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
            view = memoryview(out[a:b]).cast("B")
            position = self.start + int(ordered[a]) * self.row_bytes
            while len(view):
                n_read = os.preadv(self._fd, [view], position)
                if n_read <= 0:
                    raise OSError(f"could not read {self.path} at byte {position}")
                view, position = view[n_read:], position + n_read
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return out[inverse]


def row_reader(X):
    """A :class:`FileRows` for a C-contiguous memory map ``X``, else None."""
    memmap_ = memory_map_of(X)
    if memmap_ is None or not isinstance(memmap_.base, mmap.mmap):
        return None
    if not X.flags.c_contiguous:
        return None
    return FileRows(X, memmap_)


def label_tensors(Y, device):
    """``targets`` (0 where missing) and ``present`` float32 tensors on ``device``."""
    present = ~np.isnan(Y)
    return (
        torch.as_tensor(np.where(present, Y, 0.0), dtype=torch.float32, device=device),
        torch.as_tensor(present, dtype=torch.float32, device=device),
    )


def _to_device(x, device):
    """A batch of inputs on ``device``: floating point as float32, other
    dtypes (token ids, say) as they are. On CUDA the batch is copied from
    pinned memory without blocking, and converted on the device."""
    if device.type == "cuda":
        if not x.is_pinned():
            x = x.pin_memory()
        x = x.to(device, non_blocking=True)
    return x.float() if x.is_floating_point() else x


class _Source:
    """What both sources share: labels on the device, indices into the data."""

    def __init__(self, Y, device, index):
        self.Y = Y
        self._device = device
        self.index = np.arange(Y.shape[0]) if index is None else np.asarray(index)
        self.targets, self.present = label_tensors(Y[self.index], device)

    def __len__(self):
        return len(self.index)

    @property
    def device(self):
        return self._device

    @property
    def n_tasks(self):
        return self.Y.shape[1]

    def _labels(self, positions):
        positions = torch.as_tensor(positions, device=self._device)
        return self.targets[positions], self.present[positions]

    def batches(self, order, batch_size):
        order = order.numpy()
        chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        for positions, x in zip(chunks, self._inputs(chunks)):
            yield TaskData(x, *self._labels(positions))

    def in_order(self, batch_size):
        # scoring batches are large (4096); a batch of large inputs (images)
        # would hold its copy and its pages at once, so they are capped
        if not hasattr(self, "_input_bytes"):
            self._input_bytes = max(1, self.probe(1).nbytes) if len(self) else 1
        batch_size = max(1, min(batch_size, SCORING_BATCH_BYTES // self._input_bytes))
        return self.batches(torch.arange(len(self)), batch_size)

    def probe(self, n_rows):
        return next(iter(self._inputs([np.arange(min(n_rows, len(self)))])))


class HostArrays(_Source):
    """A (memory-mapped) array of inputs, read a batch of rows at a time.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...)
        The inputs, left where they are (a memory map stays on disk).
    Y : ndarray of shape (n_samples, n_tasks)
        Labels, NaN for missing.
    device : torch.device
    index : ndarray of int, default=None
        The rows of ``X`` and ``Y`` this source holds (None: all).
    """

    def __init__(self, X, Y, device, index=None, reader=None):
        super().__init__(Y, device, index)
        self.X = X
        self._reader = row_reader(X) if reader is None else reader

    def subset(self, positions):
        index = self.index[positions]
        return HostArrays(self.X, self.Y, self._device, index, self._reader)

    def _inputs(self, chunks):
        for positions in chunks:
            rows = self.index[positions]
            if self._reader is not None:
                rows = self._reader.read(rows)
            else:
                rows = self.X[rows]
            rows = np.asarray(rows, dtype=np.float32)
            yield _to_device(torch.from_numpy(rows), self._device)


class _Inputs:
    """``collate_fn`` of the loader: the batch's stacked inputs (labels are
    taken from the labels read before training)."""

    def __call__(self, items):
        inputs = [
            item[0] if isinstance(item, (tuple, list)) else item for item in items
        ]
        return torch.utils.data.default_collate(inputs)


class DatasetSource(_Source):
    """A torch ``Dataset`` of ``(x, y)`` items loaded through a ``DataLoader``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
    Y : ndarray of shape (len(dataset), n_tasks)
        Its labels, read once (:func:`read_labels`).
    device : torch.device
    num_workers : int, default=0
        The loader's worker processes (0: load in the training process).
    index : ndarray of int, default=None
        The items this source holds (None: all).
    """

    def __init__(self, dataset, Y, device, *, num_workers=0, index=None):
        super().__init__(Y, device, index)
        self.dataset = dataset
        self.num_workers = num_workers

    def subset(self, positions):
        return DatasetSource(
            self.dataset,
            self.Y,
            self._device,
            num_workers=self.num_workers,
            index=self.index[positions],
        )

    def _inputs(self, chunks):
        loader = DataLoader(
            self.dataset,
            batch_sampler=[self.index[positions].tolist() for positions in chunks],
            num_workers=self.num_workers,
            collate_fn=_Inputs(),
            # pinned by the loader (in a background thread) for a CUDA model
            pin_memory=self._device.type == "cuda",
            # the loader's own seed: the training's random stream is untouched
            generator=torch.Generator().manual_seed(0),
        )
        for x in loader:
            yield _to_device(x, self._device)


class _Labels:
    """``collate_fn`` reading the labels of a batch of items as float64."""

    def __call__(self, items):
        labels = []
        for item in items:
            y = item[1]
            if isinstance(y, torch.Tensor):
                y = y.detach().cpu().numpy()
            labels.append(np.asarray(y, dtype=np.float64).reshape(-1))
        return labels


class LabelledDataset(Dataset):
    """A Dataset whose labels are known: items ``(x, labels[i])``.

    ``x`` comes from ``dataset[index[i]]``; the labels are given (read once
    by :func:`read_labels`), so a model trained on a few of the tasks
    (``labels[:, columns]``) does not read the whole dataset again for them.
    """

    def __init__(self, dataset, labels, index=None):
        self.dataset = dataset
        self.labels = np.asarray(labels, dtype=np.float64)
        self.index = np.arange(len(self.labels)) if index is None else index

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        return self.dataset[int(self.index[i])][0], self.labels[i]

    def with_labels(self, rows, labels):
        """The items ``rows`` (a boolean mask or indices) with ``labels[rows]``
        as their labels (some of the tasks' columns, say)."""
        return LabelledDataset(self.dataset, labels[rows], self.index[rows])


class ArrayRows(LabelledDataset):
    """Rows ``index`` of an array (a memory map) with their labels, as a Dataset.

    The extractor trains on it as on :class:`HostArrays` (a batch of rows at
    a time from the file), so a gain training on some rows of a memory map
    copies nothing.
    """

    def __getitem__(self, i):
        return self.dataset[int(self.index[i])], self.labels[i]

    def with_labels(self, rows, labels):
        return ArrayRows(self.dataset, labels[rows], self.index[rows])

    def source(self, device):
        """The rows as :class:`HostArrays` on ``device``."""
        Y = np.full((len(self.dataset), self.labels.shape[1]), np.nan)
        Y[self.index] = self.labels
        return HostArrays(self.dataset, Y, device, index=self.index)


def read_labels(dataset, num_workers=0, batch_size=256):
    """The label vector of every item of ``dataset``: (len(dataset), n_tasks).

    Reads every item once (the inputs too: a Dataset has no other way to
    give its labels), except for a :class:`LabelledDataset`. Refuses items
    that are not ``(x, y)`` pairs, labels of varying length and an empty
    dataset, each with a message that says so.
    """
    if isinstance(dataset, LabelledDataset):
        return dataset.labels
    try:
        n_samples = len(dataset)
    except TypeError:
        raise TypeError(
            f"X is a {type(dataset).__name__} without __len__ (an IterableDataset?); "
            "fit needs a map-style torch Dataset whose items are (x, y) pairs."
        ) from None
    if n_samples == 0:
        raise ValueError("X is an empty Dataset; it must hold at least one item.")
    first = dataset[0]
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise ValueError(
            f"X is a Dataset whose items are {type(first).__name__}; each item must "
            "be a pair (x, y): the input and its label vector (one entry per "
            "task, NaN for a missing label)."
        )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_Labels(),
        generator=torch.Generator().manual_seed(0),
    )
    rows = [y for batch in loader for y in batch]
    lengths = {len(y) for y in rows}
    if len(lengths) != 1:
        first_other = next(i for i, y in enumerate(rows) if len(y) != len(rows[0]))
        raise ValueError(
            f"the Dataset's label vectors have different lengths: item 0 has "
            f"{len(rows[0])} labels, item {first_other} has {len(rows[first_other])}; "
            "every item needs one label per task (NaN for a missing label)."
        )
    return np.stack(rows)


def input_shape(source):
    """The shape of one input of ``source`` (from its first item)."""
    return tuple(source.probe(1).shape[1:])
