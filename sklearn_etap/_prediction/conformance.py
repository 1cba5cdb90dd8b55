"""The estimator checks the shipped defaults cannot pass, each with its reason.

scikit-learn's common checks (``parametrize_with_checks``) fit on random
continuous matrices. ``ResidualRidge()`` and ``ETAPRegressor()`` read
group-task rows ``[u_G | e_t]`` (0/1, one target bit, the target a member of
its group) and refuse anything else with an error naming ``encode_groups``,
as the documentation promises: guessing whether ``X`` holds group rows would
silently change the grouping and centring. So the checks that fit on such
matrices cannot pass on these defaults. This module is the one list of those
exceptions; ``tests/prediction/test_default_conformance.py`` runs the same
properties (fit returns self, pickling, idempotence, row order and subset
invariance, dtypes, read-only and list input, unchanged parameters, weights
as repetition) on real group rows, and every other check runs on the
defaults and passes.
"""

from .etap import ETAPRegressor
from .residual_ridge import ResidualRidge
from .stages import reads_group_rows

GROUP_ROWS_REASON = (
    "fits on random continuous X, which is not group-task rows [u_G | e_t]; "
    "the default refuses it with an error naming encode_groups (see "
    "sklearn_etap/_prediction/conformance.py; the same property is tested on "
    "group rows in tests/prediction/test_default_conformance.py)"
)

# Checks that fit every estimator on random continuous X.
FIT_ON_RANDOM_X = (
    "check_array_api_input",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_readonly_memmap_input",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_supervised_y_2d",
)
# ... and those of them that also pass sample_weight (ResidualRidge.fit takes it).
FIT_ON_RANDOM_X_WEIGHTED = (
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
)
# ETAPRegressor(affinity=None) may get a negative affinity column, so it does
# not declare positive_only; the check's iris rows then fail as group rows.
ETAP_NOT_POSITIVE_ONLY = ("check_positive_only_tag_during_fit",)


def expected_failed_checks(estimator):
    """``{check name: reason}`` for ``parametrize_with_checks``.

    Empty for every configuration that takes columns as given
    (``ResidualRidge(encoding="passthrough")``, an ``ETAPRegressor`` whose
    residual stage is one), and for ``SplineAffinityRegressor``.

    Parameters
    ----------
    estimator : estimator
        An instance given to ``parametrize_with_checks``.

    Returns
    -------
    expected : dict
        The checks expected to fail, each with its reason.
    """
    if isinstance(estimator, ResidualRidge) and estimator.encoding != "passthrough":
        names = FIT_ON_RANDOM_X + FIT_ON_RANDOM_X_WEIGHTED
    elif isinstance(estimator, ETAPRegressor) and reads_group_rows(
        estimator.affinity, estimator.residual_estimator
    ):
        names = FIT_ON_RANDOM_X + ETAP_NOT_POSITIVE_ONLY
    else:
        names = ()
    return dict.fromkeys(names, GROUP_ROWS_REASON)
