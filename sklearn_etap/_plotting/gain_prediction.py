"""GainPredictionDisplay: predicted against measured multi-task gains."""

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._base import import_pyplot


def _pearson_r(y_true, y_pred):
    """Pearson r over the finite pairs; NaN when undefined (constant or < 2)."""
    finite = np.isfinite(y_true) & np.isfinite(y_pred)
    a, b = y_true[finite], y_pred[finite]
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


class GainPredictionDisplay:
    """Predicted against measured gains, one point per group-task row.

    Points on the dashed diagonal are predicted exactly. The legend gives
    Pearson r between the two, the figure the paper reports (measured gains
    are noisy, so no predictor reaches 1; see the docs on gain noise).
    Build it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    y_true : ndarray of shape (n_rows,)
        Measured gains.
    y_pred : ndarray of shape (n_rows,)
        Predicted gains.

    Attributes
    ----------
    pearson_r_ : float
        Pearson r over the rows where both are finite (NaN if undefined).
    scatter_ : matplotlib.collections.PathCollection
    line_ : matplotlib.lines.Line2D
        The diagonal ``y = x``.
    ax_ : matplotlib.axes.Axes
    figure_ : matplotlib.figure.Figure

    See Also
    --------
    AffinityMatrixDisplay : The task-affinity heatmap.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_etap import GainPredictionDisplay
    >>> disp = GainPredictionDisplay.from_predictions(
    ...     [0.1, -0.2, 0.3, 0.0], [0.05, -0.1, 0.2, 0.05])
    >>> round(disp.pearson_r_, 3)
    0.981
    >>> disp.ax_.get_xlabel()
    'predicted gain'
    """

    def __init__(self, *, y_true, y_pred):
        self.y_true = y_true
        self.y_pred = y_pred

    def plot(self, ax=None, *, title=None, scatter_kw=None, line_kw=None):
        """Draw the scatter plot and the diagonal.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        title : str, default=None
            ``None``: "predicted vs measured gain".
        scatter_kw : dict, default=None
            Passed to ``ax.scatter``.
        line_kw : dict, default=None
            Passed to ``ax.plot`` for the diagonal.

        Returns
        -------
        display : GainPredictionDisplay
            This display, with the drawn matplotlib objects and ``pearson_r_``
            stored on it.
        """
        plt = import_pyplot(f"{type(self).__name__}.plot")
        y_true = column_or_1d(self.y_true, dtype=float, input_name="y_true")
        y_pred = column_or_1d(self.y_pred, dtype=float, input_name="y_pred")
        check_consistent_length(y_true, y_pred)
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        self.pearson_r_ = _pearson_r(y_true, y_pred)
        label = f"rows (n={y_true.size}, Pearson r={self.pearson_r_:.2f})"
        scatter_kw = {"alpha": 0.7, "label": label, **(scatter_kw or {})}
        self.scatter_ = ax.scatter(y_pred, y_true, **scatter_kw)

        values = np.concatenate([y_true, y_pred])
        values = values[np.isfinite(values)]
        low, high = (values.min(), values.max()) if values.size else (0.0, 1.0)
        pad = 0.05 * (high - low) if high > low else 0.1
        low, high = low - pad, high + pad
        line_kw = {"color": "black", "linestyle": "--", "alpha": 0.6, **(line_kw or {})}
        (self.line_,) = ax.plot([low, high], [low, high], **line_kw)
        ax.set(
            xlim=(low, high),
            ylim=(low, high),
            xlabel="predicted gain",
            ylabel="measured gain",
            title="predicted vs measured gain" if title is None else title,
        )
        ax.set_aspect("equal")
        ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, **kwargs):
        """Plot an estimator's predicted gains of rows ``X`` against ``y``.

        Parameters
        ----------
        estimator : regressor
            Fitted, e.g. an ``ETAPRegressor`` or a fitted ``GridSearchCV``.
        X : array-like of shape (n_rows, n_features)
            Group-task rows (``MeasuredGains.X``).
        y : array-like of shape (n_rows,)
            Their measured gains (``MeasuredGains.y``).
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : GainPredictionDisplay
            The display, drawn.
        """
        import_pyplot(f"{cls.__name__}.from_estimator")
        y_pred = estimator.predict(X)
        return cls.from_predictions(y, y_pred, ax=ax, **kwargs)

    @classmethod
    def from_predictions(cls, y_true, y_pred, *, ax=None, **kwargs):
        """Plot predicted gains ``y_pred`` against measured ``y_true``.

        Parameters
        ----------
        y_true : array-like of shape (n_rows,)
            Measured gains.
        y_pred : array-like of shape (n_rows,)
            Predicted gains.
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` makes a new figure.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : GainPredictionDisplay
            The display, drawn.
        """
        import_pyplot(f"{cls.__name__}.from_predictions")
        return cls(y_true=y_true, y_pred=y_pred).plot(ax=ax, **kwargs)
