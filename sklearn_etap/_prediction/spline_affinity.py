"""Stage 1 of ETAP: a smooth non-linear map from group affinity to gain."""

from numbers import Integral, Real

from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import Interval, StrOptions

ALPHAS = tuple(10.0**k for k in range(-3, 5))


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
        ``ALPHAS`` (1e-3 to 1e4) by scikit-learn's efficient leave-one-out
        (``RidgeCV``); the large values let an uninformative affinity be
        switched off instead of fitting noise.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted ``SplineTransformer`` + ``Ridge`` (or ``RidgeCV``) pipeline.
    alpha_ : float
        The penalty used: ``alpha``, or the one ``RidgeCV`` chose.
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
            Per-row weights for the ridge.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        # The knots span the training range: one sample cannot place them.
        X, y = validate_data(self, X, y, y_numeric=True, ensure_min_samples=2)
        self.pipeline_ = make_pipeline(
            SplineTransformer(
                n_knots=self.n_knots,
                degree=self.degree,
                knots=self.knots,
                extrapolation=self.extrapolation,
            ),
            RidgeCV(alphas=ALPHAS) if self.alpha is None else Ridge(alpha=self.alpha),
        )
        # The knots see the weights too: zero-weight rows must not stretch the
        # knot range, so weighting stays equivalent to dropping or repeating rows.
        last = self.pipeline_.steps[-1][0]
        self.pipeline_.fit(
            X,
            y,
            splinetransformer__sample_weight=sample_weight,
            **{f"{last}__sample_weight": sample_weight},
        )
        self.alpha_ = float(
            self.pipeline_[-1].alpha_ if self.alpha is None else self.alpha
        )
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
