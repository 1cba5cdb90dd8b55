"""GroupSelector against scikit-learn's estimator checks.

The checks fit on random float features; ``GroupSelector.fit`` needs group-task
rows, so the checks that need a successful fit on them are declared as expected
failures (``sklearn_etap/_conformance.py``), and what each of them checks is
tested on valid rows here.
"""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_etap import GroupSelector
from sklearn_etap._conformance import expected_failed_checks


def test_properties_of_the_failing_checks_on_group_rows(training_rows):
    """What the checks declared below test, on valid group-task rows."""
    P, y, _ = training_rows(5, n_train_groups=8, seed=9)
    sel = GroupSelector(Ridge(alpha=0.5), 3)
    params = joblib.hash(sel.get_params(deep=True))
    # check_estimators_fit_returns_self, *_overwrite_params, check_n_features_in
    assert sel.fit(P, y) is sel
    assert joblib.hash(sel.get_params(deep=True)) == params
    assert sel.n_features_in_ == P.shape[1] == 2 * sel.n_tasks_
    expected = (sel.groups_, sel.predicted_gain_, sel.predict(P))
    # check_regressors_no_decision_function, check_fit_score_takes_y
    assert not hasattr(sel, "decision_function")
    assert np.isclose(sel.score(P, y), sel.estimator_.score(P, y))
    # check_dict_unchanged: predict and score leave the fitted state alone
    state = joblib.hash(sel.__dict__)
    sel.predict(P)
    sel.score(P, y)
    assert joblib.hash(sel.__dict__) == state
    # check_methods_subset_invariance / sample_order_invariance
    order = np.random.default_rng(0).permutation(len(P))
    np.testing.assert_allclose(sel.predict(P[order]), expected[2][order])
    np.testing.assert_allclose(sel.predict(P[:3]), expected[2][:3])
    # check_n_features_in_after_fitting, check_fit2d_predict1d
    with pytest.raises(ValueError, match="features"):
        sel.predict(P[:, :-2])
    with pytest.raises(ValueError, match="2D array"):
        sel.predict(P[0])

    def same_fit(P_other, y_other):
        other = GroupSelector(Ridge(alpha=0.5), 3).fit(P_other, y_other)
        assert other.groups_ == expected[0]
        assert np.isclose(other.predicted_gain_, expected[1])
        np.testing.assert_allclose(other.predict(P), expected[2], rtol=1e-5)

    # check_fit_idempotent (refit of the same object), check_estimators_dtypes,
    # check_regressors_int, check_dtype_object, check_f_contiguous_array_estimator,
    # check_regressor_data_not_an_array, check_readonly_memmap_input
    same_fit(P, y)
    sel.fit(P, y)
    assert sel.groups_ == expected[0]
    np.testing.assert_allclose(sel.predict(P), expected[2])
    same_fit(P.astype(np.int64), y)
    same_fit(P.astype(np.float32), y)
    same_fit(P.astype(object), y)
    same_fit(np.asfortranarray(P), y)
    same_fit(P.tolist(), y.tolist())
    readonly = P.copy()
    readonly.flags.writeable = False
    same_fit(readonly, y)
    # check_supervised_y_2d: a column vector y warns and is used as 1-D
    with pytest.warns(DataConversionWarning):
        same_fit(P, y[:, None])
    # check_estimators_nan_inf
    for bad in (np.nan, np.inf):
        P_bad = P.astype(float)
        P_bad[0, 0] = bad
        with pytest.raises(ValueError, match="NaN|infinity"):
            GroupSelector(Ridge(), 3).fit(P_bad, y)
    # check_pipeline_consistency, check_estimators_pickle
    pipe = make_pipeline(GroupSelector(Ridge(alpha=0.5), 3)).fit(P, y)
    assert np.isclose(pipe.score(P, y), sel.score(P, y))
    restored = pickle.loads(pickle.dumps(sel))
    np.testing.assert_array_equal(restored.predict(P), sel.predict(P))


# The checks generate random float features; GroupSelector.fit needs
# group-task rows [u_G | e_t] (0/1, 2 * n_tasks columns) because it reads the
# number of tasks from them and predicts its own candidate rows. Every check
# that needs a successful fit on them is declared, with that reason, in the
# package's one list (sklearn_etap/_conformance.py); what each checks is
# tested on valid rows in test_properties_of_the_failing_checks_on_group_rows.
@parametrize_with_checks(
    [GroupSelector(Ridge(), n_groups=2)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
