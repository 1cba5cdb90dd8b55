"""The estimator checks each shipped default is exempt from, with the reason.

The one home of the package's ``expected_failed_checks`` (scikit-learn's way
of declaring a genuine exception to its common checks). Every estimator runs
``parametrize_with_checks`` on its shipped defaults; two reasons exempt some
checks:

- **Group rows.** ``ResidualRidge()``, ``ETAPRegressor()`` and
  ``GroupSelector`` read group-task rows ``[u_G | e_t]`` (0/1 values, one
  target bit, the target a member of its group) and refuse any other ``X``
  with an error saying so; guessing whether ``X`` holds group
  rows would silently change the grouping and the centring. scikit-learn's
  checks draw random continuous ``X``, and its input tags can only make that
  positive, rounded, one-dimensional or a kernel or distance matrix, never
  group rows. So every check that needs a successful fit on generated ``X``
  fails on these defaults, for this one reason. That list is derived, not
  written out: the checks scikit-learn yields for the estimator
  (:func:`~sklearn.utils.estimator_checks.estimator_checks_generator`)
  minus those that never fit on generated ``X`` or only check that ``fit``
  refuses an input (:data:`NO_VALID_X_NEEDED`). The same properties are
  tested on group rows in ``tests/prediction/test_default_conformance.py``
  and ``tests/selection/test_selector_checks.py``.
- **float32.** ``TorchAffinityExtractor`` computes in float32 like any torch
  model; see :data:`FLOAT32_REASON`.

``tests/test_conformance.py`` keeps every declared list equal to the checks
that fail.
"""

from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import estimator_checks_generator

from ._affinity import TorchAffinityExtractor
from ._prediction import ETAPRegressor, ResidualRidge
from ._prediction.stages import reads_group_rows
from ._selection import GroupSelector

GROUP_ROWS_REASON = (
    "fits on scikit-learn's random continuous X, which is not group-task rows "
    "[u_G | e_t] (built with encode_groups), and the estimator refuses it "
    "(docs: 'Estimator checks'; the same property is tested on group rows)"
)

FLOAT32_REASON = (
    "the model computes in float32 like any torch model; BLAS picks its "
    "matrix-product kernel by batch size, so a row transformed alone and in "
    "a batch can differ by float32 rounding (~2e-7 relative), above the "
    "check's rtol of 1e-7."
)

#: Checks that pass on an estimator refusing every generated ``X``: they
#: never fit it on generated ``X`` (construction, parameters, tags, repr,
#: clone, an unfitted estimator, methods it does not have), or they only
#: check that ``fit`` refuses an input (sparse, complex, empty or 1-D ``X``,
#: one feature, NaN in ``y``, ``y=None``, negative ``X`` under the
#: ``positive_only`` tag, weights that are all zero).
NO_VALID_X_NEEDED = frozenset(
    {
        "check_all_zero_sample_weights_error",
        "check_complex_data",
        "check_do_not_raise_errors_in_init_or_set_params",
        "check_estimator_cloneable",
        "check_estimator_repr",
        "check_estimator_sparse_array",
        "check_estimator_sparse_matrix",
        "check_estimator_sparse_tag",
        "check_estimator_tags_renamed",
        "check_estimators_empty_data_messages",
        "check_estimators_partial_fit_n_features",
        "check_estimators_unfitted",
        "check_fit1d",
        "check_fit2d_1feature",
        "check_fit_non_negative",
        "check_get_params_invariance",
        "check_mixin_order",
        "check_no_attributes_set_in_init",
        "check_non_transformer_estimators_n_iter",
        "check_parameters_default_constructible",
        "check_requires_y_none",
        "check_set_params",
        "check_supervised_y_no_nan",
        "check_valid_tag_types",
    }
)

#: Without the ``positive_only`` tag this check fits on iris's rows; with
#: it, it only checks that negative ``X`` is refused.
POSITIVE_ONLY_CHECK = "check_positive_only_tag_during_fit"

#: GroupSelector refuses a single row (it needs two) before it reads the
#: rows, which is all this check asks.
ONE_SAMPLE_CHECK = "check_fit2d_1sample"


def reads_only_group_rows(estimator):
    """Whether ``estimator`` refuses every ``X`` that is not group-task rows."""
    if isinstance(estimator, GroupSelector):
        return True
    if isinstance(estimator, ResidualRidge):
        return estimator.encoding != "passthrough"
    if isinstance(estimator, ETAPRegressor):
        return reads_group_rows(estimator.affinity, estimator.residual_estimator)
    return False


def checks_fitting_on_generated_x(estimator):
    """The checks scikit-learn runs on ``estimator`` that need it fitted on
    generated ``X``: every check it yields but those in
    :data:`NO_VALID_X_NEEDED` (sorted names)."""
    names = {
        getattr(check, "func", check).__name__
        for _, check in estimator_checks_generator(estimator, mark=None)
    }
    passing = set(NO_VALID_X_NEEDED)
    if get_tags(estimator).input_tags.positive_only:
        passing.add(POSITIVE_ONLY_CHECK)
    if isinstance(estimator, GroupSelector):
        passing.add(ONE_SAMPLE_CHECK)
    return sorted(names - passing)


def expected_failed_checks(estimator):
    """``{check name: reason}`` for ``parametrize_with_checks``.

    Empty for every estimator and configuration not listed in the module
    docstring (``SplineAffinityRegressor``, the configurations that take
    columns as given such as ``ResidualRidge(encoding="passthrough")``).

    Parameters
    ----------
    estimator : estimator
        An instance given to ``parametrize_with_checks``.

    Returns
    -------
    expected : dict
        The checks expected to fail, each with its reason.
    """
    if reads_only_group_rows(estimator):
        return dict.fromkeys(
            checks_fitting_on_generated_x(estimator), GROUP_ROWS_REASON
        )
    if isinstance(estimator, TorchAffinityExtractor):
        return {"check_methods_subset_invariance": FLOAT32_REASON}
    return {}
