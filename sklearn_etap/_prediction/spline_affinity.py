"""Stage 1 of ETAP: a smooth non-linear map from group affinity to gain."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import Interval, StrOptions
from .group_loo import group_loo_errors
from .validation import check_weights

ALPHAS = tuple(10.0**k for k in range(-3, 5))
# The intercept column's scale in the penalty search: its penalty is then
# alpha * 1e-6, negligible, while the closed form stays exact and stable.
INTERCEPT_SCALE = 1e3
TIE_TOLERANCE = 1e-8


def repeated_row_ids(X, y):
    """One id per distinct ``(x, y)`` row: copies of a row share an id."""
    _, ids = np.unique(np.column_stack([X, y]), axis=0, return_inverse=True)
    return ids.ravel()


def choose_alpha(basis, y, sample_weight, alphas=ALPHAS):
    """The penalty of least leave-one-out error, and every candidate's error.

    Copies of one row are left out together and a row's weight multiplies
    its error, so a weight of 2 and a row given twice choose the same
    penalty (``RidgeCV`` leaves one copy out at a time). Exact closed form:
    one SVD for all candidates.
    """
    root = np.sqrt(sample_weight)
    features = np.column_stack([np.full(len(y), INTERCEPT_SCALE), basis])
    errors = group_loo_errors(
        features * root[:, None], y * root, repeated_row_ids(basis, y), alphas
    )
    # Ties to rounding (flat errors at large penalties) go to the largest
    # penalty, so that a weight of 2 and a repeated row, whose errors differ
    # in the last bits, cannot choose differently.
    near_best = errors <= errors.min() * (1 + TIE_TOLERANCE) + np.finfo(float).tiny
    alphas = np.asarray(alphas, dtype=float)
    return float(alphas[near_best].max()), errors


class SplineAffinityRegressor(RegressorMixin, BaseEstimator):
    """B-spline expansion of every input column followed by ridge regression.

    ETAP's first stage: it maps the group affinity ``z[G -> t]`` of a
    group-task row to the row's multi-task gain with a smooth, possibly
    non-monotone curve. It is scikit-learn's :class:`~sklearn.preprocessing.
    SplineTransformer` followed by :class:`~sklearn.linear_model.Ridge`, with
    the parameters of both exposed so that ``GridSearchCV`` tunes them.

    Parameters
    ----------
    degree : int, default=3
        Polynomial degree of the B-splines (the paper searches 2 to 6).
    n_knots : int, default=4
        Number of knots, boundary knots included, when ``knots`` is a
        string. Keep it at most about ``sqrt(n_training_groups) + 1``: each
        extra knot adds a basis function to fit from few groups.
    knots : {"uniform", "quantile"} or array-like of shape (n_knots, n_features), \
            default="uniform"
        Knot placement, as in :class:`~sklearn.preprocessing.SplineTransformer`.
    extrapolation : {"constant", "linear", "continue", "periodic", "error"}, \
            default="constant"
        What the basis does outside the training range of the affinity
        scores. Affinities of unseen groups often fall outside it; the default
        ``"constant"`` holds the prediction at its value at the nearest
        boundary, so predictions cannot explode. ``"linear"`` continues the
        boundary slope; ``"continue"`` evaluates the outer polynomials and
        grows like ``|x| ** degree``.
    alpha : float or None, default=None
        Ridge penalty on the spline coefficients (the intercept is not
        penalised). The paper searches 0.001 to 1. ``None`` chooses it from
        ``ALPHAS`` (1e-3 to 1e4) by exact leave-one-out error in closed
        form, copies of a row left out together, so that a weight of 2 and a
        repeated row give the same fit; the large values let an
        uninformative affinity be switched off instead of fitting noise.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted ``SplineTransformer`` + ``Ridge`` pipeline.
    alpha_ : float
        The penalty used: ``alpha``, or the one chosen from ``ALPHAS``.
    cv_errors_ : ndarray of shape (n_alphas,) or None
        Weighted mean squared leave-one-out error of every candidate penalty
        (``None`` when ``alpha`` was given).
    n_features_in_ : int
        Number of input columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had string column names.

    See Also
    --------
    ETAPRegressor : Stacks this stage with a residual stage on group membership.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_etap import SplineAffinityRegressor
    >>> z = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> y = np.sin(3 * z).ravel()
    >>> reg = SplineAffinityRegressor(degree=3, n_knots=6, alpha=1e-3).fit(z, y)
    >>> reg.score(z, y) > 0.99
    True
    >>> reg.predict([[-5.0], [-1.0], [1.0], [5.0]]).round(2)  # constant outside
    array([-0.14, -0.14,  0.14,  0.14])
    """

    _parameter_constraints: dict = {
        "degree": [Interval(Integral, 0, None, closed="left")],
        "n_knots": [Interval(Integral, 2, None, closed="left")],
        "knots": [StrOptions({"uniform", "quantile"}), "array-like"],
        "extrapolation": [
            StrOptions({"constant", "linear", "continue", "periodic", "error"})
        ],
        "alpha": [Interval(Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        degree=3,
        n_knots=4,
        knots="uniform",
        extrapolation="constant",
        alpha=None,
    ):
        self.degree = degree
        self.n_knots = n_knots
        self.knots = knots
        self.extrapolation = extrapolation
        self.alpha = alpha

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the spline basis and the ridge on it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Affinity features, typically one column ``z[G -> t]``.
        y : array-like of shape (n_samples,)
            Measured gains.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights, equivalent to repeating rows: they place the
            knots, weight the penalty search and the ridge.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        # The knots span the training range: one sample cannot place them.
        X, y = validate_data(self, X, y, y_numeric=True, ensure_min_samples=2)
        weights = check_weights(sample_weight, X)
        spline = SplineTransformer(
            n_knots=self.n_knots,
            degree=self.degree,
            knots=self.knots,
            extrapolation=self.extrapolation,
        )
        # The knots see the weights too: zero-weight rows must not stretch the
        # knot range, so weighting stays equivalent to dropping or repeating rows.
        basis = spline.fit_transform(
            X, sample_weight=None if sample_weight is None else weights
        )
        self.cv_errors_ = None
        self.alpha_ = None if self.alpha is None else float(self.alpha)
        if self.alpha_ is None:
            self.alpha_, self.cv_errors_ = choose_alpha(basis, y, weights)
        self.pipeline_ = make_pipeline(spline, Ridge(alpha=self.alpha_))
        self.pipeline_[-1].fit(basis, y, sample_weight=weights)
        return self

    def predict(self, X):
        """Predict gains from affinity features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Affinity features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted gains.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.pipeline_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
