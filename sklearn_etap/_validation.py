"""The one import of scikit-learn's parameter-validation helpers.

``Interval``, ``StrOptions``, ``HasMethods``, ``Options``, ``validate_params``
and ``InvalidParameterError`` live in ``sklearn.utils._param_validation``, a
private module with no public home (scikit-learn 1.6 to 1.9). Every module of
this package imports them from here, so a move on scikit-learn's side is
fixed in this one file.
"""

from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "validate_params",
]
