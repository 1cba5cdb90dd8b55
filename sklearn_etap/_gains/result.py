"""The result of :func:`measure_gains`: measured MTL gains of group-task rows."""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._groups import check_groups, encode_groups, group_row_ids
from .._task_names import check_task_names, resolve_names


@dataclass(frozen=True, eq=False)
class MeasuredGains:
    """Measured MTL gains of task groups, one row per (group, member task).

    Only the losses are stored; gains and encodings are derived from them,
    so they always agree. The gain of task ``t`` in group ``G`` for seed
    ``s`` is ``(stl_loss_per_seed[t, s] - mtl_loss_per_seed[row, s]) /
    stl_loss_per_seed[t, s]``; ``y`` averages it over the seeds.

    Parameters
    ----------
    groups : list of tuple of int
        The measured groups, sorted tuples, in the order given.
    n_tasks : int
        Number of tasks (columns of ``Y``).
    seeds : ndarray of shape (n_seeds,)
        The ``random_state`` of the models of each repetition; the STL
        models and the MTL models of repetition ``s`` share ``seeds[s]``.
    stl_loss_per_seed : ndarray of shape (n_tasks, n_seeds)
        Test loss of each task's single-task model; NaN for tasks in no group.
    mtl_loss_per_seed : ndarray of shape (n_rows, n_seeds)
        Test loss of the row's task in its group's model.
    metadata : dict
        JSON-serialisable description of how the gains were measured.
    task_names : list of str, default=None
        One name per task (the columns of a DataFrame ``Y``); ``None``: the
        tasks are known by their indices.
    trivial_loss : ndarray of shape (n_tasks,), default=None
        Test loss of each task's trivial predictor (training mean for
        regression, base rate for binary), the bar a model must clear to
        have learned anything. ``None``: unknown (all NaN).

    Attributes
    ----------
    X : ndarray of shape (n_rows, 2 * n_tasks)
        ``encode_groups(groups, n_tasks)``.
    y : ndarray of shape (n_rows,)
        Gains averaged over the seeds.
    y_per_seed : ndarray of shape (n_rows, n_seeds)
        Gain of every row in every repetition.
    y_std : ndarray of shape (n_rows,)
        Standard deviation (ddof=1) of the per-seed gains; NaN with one seed.
    row_group : ndarray of shape (n_rows,)
        Index into ``groups`` of each row's group.
    row_task : ndarray of shape (n_rows,)
        The task each row describes.
    stl_loss : ndarray of shape (n_tasks,)
        STL test loss averaged over the seeds (NaN for tasks in no group).
    mtl_loss : ndarray of shape (n_rows,)
        MTL test loss averaged over the seeds.
    names : list
        ``task_names``, or the task indices when it is ``None``.
    group_names : list of tuple
        ``groups`` with every task index replaced by its name.
    stl_no_better_than_trivial : ndarray of bool, shape (n_tasks,)
        True where a task's single-task model (mean test loss over the seeds)
        is no better than its trivial predictor: its gains are measured
        against a model that learned nothing.
    mtl_no_better_than_trivial : ndarray of bool, shape (n_rows,)
        The same for the row's task in its group's model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import MeasuredGains
    >>> gains = MeasuredGains(
    ...     groups=[(0, 1)], n_tasks=3, seeds=np.array([7]),
    ...     stl_loss_per_seed=np.array([[1.0], [2.0], [np.nan]]),
    ...     mtl_loss_per_seed=np.array([[0.5], [3.0]]))
    >>> gains.y
    array([ 0.5, -0.5])
    >>> gains.X
    array([[1., 1., 0., 1., 0., 0.],
           [1., 1., 0., 0., 1., 0.]])
    """

    groups: list
    n_tasks: int
    seeds: np.ndarray
    stl_loss_per_seed: np.ndarray
    mtl_loss_per_seed: np.ndarray
    metadata: dict = field(default_factory=dict)
    task_names: list = None
    trivial_loss: np.ndarray = None

    def __post_init__(self):
        names = check_task_names(self.task_names, self.n_tasks)
        object.__setattr__(self, "task_names", names)
        trivial = self.trivial_loss
        trivial = np.full(self.n_tasks, np.nan) if trivial is None else trivial
        trivial = np.asarray(trivial, dtype=float)
        if trivial.shape != (self.n_tasks,):
            raise ValueError(
                f"trivial_loss has shape {trivial.shape}; expected ({self.n_tasks},): "
                "one trivial test loss per task."
            )
        object.__setattr__(self, "trivial_loss", trivial)

    @property
    def names(self):
        return resolve_names(self.task_names, self.n_tasks)

    @property
    def group_names(self):
        names = self.names
        return [tuple(names[t] for t in group) for group in self.groups]

    @property
    def X(self):
        return encode_groups(self.groups, self.n_tasks)

    @property
    def row_group(self):
        return group_row_ids(self.groups)

    @property
    def row_task(self):
        return np.array([t for g in self.groups for t in g], dtype=int)

    @property
    def y_per_seed(self):
        stl = self.stl_loss_per_seed[self.row_task]
        # A zero STL loss leaves the relative gain undefined: NaN, not inf.
        return np.divide(
            stl - self.mtl_loss_per_seed,
            stl,
            out=np.full(stl.shape, np.nan),
            where=stl != 0,
        )

    @property
    def y(self):
        return self.y_per_seed.mean(axis=1)

    @property
    def y_std(self):
        if len(self.seeds) < 2:
            return np.full(len(self.row_task), np.nan)
        return self.y_per_seed.std(axis=1, ddof=1)

    @property
    def stl_loss(self):
        return self.stl_loss_per_seed.mean(axis=1)

    @property
    def mtl_loss(self):
        return self.mtl_loss_per_seed.mean(axis=1)

    @property
    def stl_no_better_than_trivial(self):
        # NaN compares False: a task without a trivial loss is not flagged.
        return self.stl_loss >= self.trivial_loss

    @property
    def mtl_no_better_than_trivial(self):
        return self.mtl_loss >= self.trivial_loss[self.row_task]

    def _columns(self):
        """Table columns as (name, values) pairs, one value per row."""
        columns = [
            ("group", ["-".join(map(str, g)) for g in self.groups for _ in g]),
            ("task", self.row_task),
        ]
        if self.task_names is not None:
            names = self.task_names
            columns += [
                (
                    "group_name",
                    [
                        " + ".join(str(names[t]) for t in g)
                        for g in self.groups
                        for _ in g
                    ],
                ),
                ("task_name", [names[t] for t in self.row_task]),
            ]
        columns += [
            ("gain", self.y),
            ("gain_std", self.y_std),
            ("stl_loss", self.stl_loss[self.row_task]),
            ("mtl_loss", self.mtl_loss),
            ("trivial_loss", self.trivial_loss[self.row_task]),
            (
                "stl_no_better_than_trivial",
                self.stl_no_better_than_trivial[self.row_task],
            ),
            ("mtl_no_better_than_trivial", self.mtl_no_better_than_trivial),
        ]
        for s in range(len(self.seeds)):
            columns.append((f"gain_seed{s}", self.y_per_seed[:, s]))
        for s in range(len(self.seeds)):
            columns.append((f"mtl_loss_seed{s}", self.mtl_loss_per_seed[:, s]))
        return columns

    def to_frame(self):
        """The rows as a :class:`pandas.DataFrame` (needs pandas).

        Columns: ``group`` (tasks joined by ``-``, e.g. ``"0-2-5"``),
        ``task``, with task names ``group_name`` (names joined by `` + ``)
        and ``task_name``, then ``gain``, ``gain_std``, ``stl_loss``,
        ``mtl_loss``, ``trivial_loss``, ``stl_no_better_than_trivial``,
        ``mtl_no_better_than_trivial`` and per seed ``s`` ``gain_seed{s}``
        and ``mtl_loss_seed{s}``.

        Returns
        -------
        frame : pandas.DataFrame
            One row per (group, member task), in the order of ``X`` and ``y``.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the env
            raise ImportError(
                "to_frame needs pandas; install it with `pip install pandas`."
            ) from exc
        return pd.DataFrame(dict(self._columns()))

    def save(self, path):
        """Write the rows to ``path`` (CSV) and the rest to a JSON sidecar.

        The CSV has the columns of :meth:`to_frame`, floats written exactly.
        The sidecar, ``path`` with the suffix ``.json`` (``gains.csv`` ->
        ``gains.json``), holds ``n_tasks``, ``seeds``, ``stl_loss_per_seed``,
        ``trivial_loss``, ``metadata`` and ``task_names``. :meth:`load` reads both back.

        Parameters
        ----------
        path : str or path-like
            The CSV file to write; the sidecar goes next to it.
        """
        path = Path(path)
        columns = self._columns()
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([name for name, _ in columns])
            for row in zip(*(values for _, values in columns)):
                writer.writerow([_format(v) for v in row])
        sidecar = {
            "n_tasks": self.n_tasks,
            "seeds": [int(s) for s in self.seeds],
            "stl_loss_per_seed": [
                [None if np.isnan(v) else float(v) for v in task]
                for task in self.stl_loss_per_seed
            ],
            "trivial_loss": [
                None if np.isnan(v) else float(v) for v in self.trivial_loss
            ],
            "metadata": self.metadata,
            "task_names": self.task_names,
        }
        _sidecar(path).write_text(json.dumps(sidecar, indent=1, allow_nan=False))

    @classmethod
    def load(cls, path):
        """Read what :meth:`save` wrote.

        Parameters
        ----------
        path : str or path-like
            The CSV file :meth:`save` wrote; its JSON sidecar must be next to it.

        Returns
        -------
        gains : MeasuredGains
            The saved gains.

        Raises
        ------
        ValueError
            When ``path`` is a directory, or a file is not what :meth:`save`
            writes (the message names the file).
        """
        path = Path(path)
        sidecar = _read_sidecar(path)
        n_seeds = len(sidecar["seeds"])
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        groups, seen = [], set()
        for row in rows:
            if row["group"] not in seen:
                seen.add(row["group"])
                groups.append(tuple(int(t) for t in row["group"].split("-")))
        n_tasks = int(sidecar["n_tasks"])
        mtl = np.array(
            [[float(row[f"mtl_loss_seed{s}"]) for s in range(n_seeds)] for row in rows]
        ).reshape(len(rows), n_seeds)
        stl = np.array(
            [
                [np.nan if v is None else v for v in task]
                for task in sidecar["stl_loss_per_seed"]
            ],
            dtype=float,
        ).reshape(n_tasks, n_seeds)
        return cls(
            groups=check_groups(groups, n_tasks),
            n_tasks=n_tasks,
            seeds=np.array(sidecar["seeds"], dtype=np.int64),
            stl_loss_per_seed=stl,
            mtl_loss_per_seed=mtl,
            metadata=sidecar["metadata"],
            task_names=sidecar.get("task_names"),
            trivial_loss=_trivial_from_sidecar(sidecar, n_tasks),
        )


def _trivial_from_sidecar(sidecar, n_tasks):
    # Files saved before trivial losses were measured have none.
    values = sidecar.get("trivial_loss") or [None] * n_tasks
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _sidecar(path):
    return path.with_suffix(".json")


def _read_sidecar(path):
    if path.is_dir():
        raise ValueError(
            f"MeasuredGains.load({str(path)!r}): {path} is a directory; pass the "
            "CSV file MeasuredGains.save wrote (its .json sidecar sits next to it)."
        )
    sidecar = _sidecar(path)
    try:
        content = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{sidecar} not found: MeasuredGains.load({str(path)!r}) reads the "
            "CSV and the .json sidecar MeasuredGains.save writes next to it."
        ) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, not UTF-8
        raise ValueError(
            f"{sidecar} is not the JSON sidecar MeasuredGains.save writes "
            f"({type(exc).__name__}: {exc}); it is damaged or another file."
        ) from None
    if not isinstance(content, dict) or not {"n_tasks", "seeds"} <= set(content):
        raise ValueError(
            f"{sidecar} is JSON but not the sidecar MeasuredGains.save writes "
            "(no n_tasks and seeds)."
        )
    return content


def _format(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))
