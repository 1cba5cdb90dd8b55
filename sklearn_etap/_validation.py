"""The one home of scikit-learn's private parameter-validation names.

scikit-learn documents parameter constraints (``_parameter_constraints``)
for third-party estimators but keeps their building blocks in the private
module ``sklearn.utils._param_validation``. Every module of the package
imports them from here, so a change in scikit-learn is met in one place.
"""

from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "validate_params",
]
