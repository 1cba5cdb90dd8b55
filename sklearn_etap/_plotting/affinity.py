"""AffinityMatrixDisplay: the task-affinity matrix as a heatmap."""

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import import_pyplot, resolve_task_names


class AffinityMatrixDisplay:
    """Task-affinity heatmap: row ``i``, column ``j`` is how task ``i`` helps ``j``.

    Build it from a matrix, as :class:`~sklearn.metrics.ConfusionMatrixDisplay`
    is built from one, then call :meth:`plot`; or in one step from a fitted
    extractor with :meth:`from_estimator`. Colours are centred on 0: red
    cells are pairs where the row task's updates lowered the column task's
    loss, blue cells pairs where they raised it. Pairs never scored (NaN)
    stay blank, and so does the diagonal unless ``show_diagonal``.

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks)
        ``affinity[i, j]``, e.g. ``TorchAffinityExtractor().affinity_``.
    task_names : list, default=None
        One distinct name per task, for the tick labels; ``None`` names the
        tasks by their indices 0, 1, ..., as every other stage does.

    Attributes
    ----------
    task_names_ : list
        The names the ticks show: ``task_names``, or the integer indices.
    im_ : matplotlib.image.AxesImage
        The heatmap.
    text_ : ndarray of shape (n_tasks, n_tasks) of matplotlib.text.Text or None
        The value printed in each cell, when ``include_values``.
    colorbar_ : matplotlib.colorbar.Colorbar or None
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure

    See Also
    --------
    GainPredictionDisplay : Predicted against measured gains.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_etap import AffinityMatrixDisplay
    >>> A = np.array([[0.0, 0.2, -0.1], [0.1, 0.0, 0.3], [-0.2, 0.05, 0.0]])
    >>> disp = AffinityMatrixDisplay(A, task_names=["a", "b", "c"]).plot()
    >>> [t.get_text() for t in disp.ax_.get_xticklabels()]
    ['a', 'b', 'c']
    >>> disp.text_[0, 1].get_text()
    '0.2'
    """

    def __init__(self, affinity, *, task_names=None):
        self.affinity = affinity
        self.task_names = task_names

    def plot(
        self,
        ax=None,
        *,
        cmap="RdBu_r",
        include_values=None,
        values_format=".2g",
        show_diagonal=False,
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        cmap : str or matplotlib Colormap, default="RdBu_r"
            A diverging map: the colour scale is symmetric around 0.
        include_values : bool, default=None
            Print each value in its cell; ``None``: when at most 12 tasks.
        values_format : str, default=".2g"
            Format of the printed values.
        show_diagonal : bool, default=False
            Draw ``affinity[i, i]``. A task's affinity to itself is not used
            by ETAP (a group's affinity towards ``t`` averages the *other*
            members) and is usually the largest, so it is left blank and out
            of the colour scale by default.
        colorbar : bool, default=True
            Draw a colour bar next to the heatmap.
        im_kw : dict, default=None
            Passed to ``ax.imshow``.
        text_kw : dict, default=None
            Passed to ``ax.text`` for the printed values.

        Returns
        -------
        display : AffinityMatrixDisplay
            This display, with the drawn matplotlib objects stored on it.
        """
        plt = import_pyplot(f"{type(self).__name__}.plot")
        affinity = check_array(
            self.affinity, ensure_all_finite="allow-nan", input_name="affinity"
        )
        n_tasks = affinity.shape[0]
        if affinity.shape != (n_tasks, n_tasks):
            raise ValueError(
                f"affinity must be a square (n_tasks, n_tasks) matrix; got shape "
                f"{affinity.shape}."
            )
        self.task_names_ = resolve_task_names(self.task_names, n_tasks)
        if not show_diagonal:
            affinity = affinity.copy()
            np.fill_diagonal(affinity, np.nan)
        if ax is None:
            size = 2.5 + 0.45 * n_tasks
            _, ax = plt.subplots(figsize=(size + 1.2, size))
        finite = affinity[np.isfinite(affinity)]
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        bound = bound if bound > 0 else 1.0
        im_kw = {"cmap": cmap, "vmin": -bound, "vmax": bound, **(im_kw or {})}
        self.im_ = ax.imshow(np.ma.masked_invalid(affinity), **im_kw)
        self.colorbar_ = ax.figure.colorbar(self.im_, ax=ax) if colorbar else None
        if self.colorbar_ is not None:
            self.colorbar_.set_label("affinity")

        if include_values is None:
            include_values = n_tasks <= 12
        self.text_ = None
        if include_values:
            self.text_ = np.empty((n_tasks, n_tasks), dtype=object)
            for i in range(n_tasks):
                for j in range(n_tasks):
                    value = affinity[i, j]
                    label = "" if np.isnan(value) else format(value, values_format)
                    dark = abs(value) > 0.6 * bound if np.isfinite(value) else False
                    kw = {
                        "ha": "center",
                        "va": "center",
                        "fontsize": "small",
                        "color": "white" if dark else "black",
                        **(text_kw or {}),
                    }
                    self.text_[i, j] = ax.text(j, i, label, **kw)

        ax.set(
            xticks=np.arange(n_tasks),
            yticks=np.arange(n_tasks),
            xticklabels=[str(name) for name in self.task_names_],
            yticklabels=[str(name) for name in self.task_names_],
            xlabel="task helped (j)",
            ylabel="task whose update is scored (i)",
            title="task affinity A[i, j]",
        )
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, task_names=None, ax=None, **kwargs):
        """Plot the ``affinity_`` of a fitted extractor.

        Parameters
        ----------
        estimator : TorchAffinityExtractor
            Fitted, with affinity recording on.
        task_names : list of str, default=None
            ``None``: the extractor's ``task_names_`` (the columns of a
            DataFrame ``Y``), else 0, 1, ...
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : AffinityMatrixDisplay
            The display, drawn.
        """
        import_pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        affinity = getattr(estimator, "affinity_", None)
        if affinity is None:
            raise ValueError(
                f"{type(estimator).__name__} has no affinity_ (it was fitted with "
                "affinity=None); refit it with affinity='etap' to record one."
            )
        if task_names is None:
            task_names = getattr(estimator, "task_names_", None)
        return cls(affinity, task_names=task_names).plot(ax=ax, **kwargs)
