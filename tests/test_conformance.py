"""The declared exemptions from scikit-learn's checks say only what is true.

``sklearn_etap/_conformance.py`` derives, for each estimator reading group
rows, the checks that need a successful fit on generated ``X``. Here every
declared list is compared with the checks that actually fail: an exemption for
a check that passes, or a failure not declared, would make the list (and the
docs page that describes it) say something false about the defaults. Every
failure is the refusal of non-group rows (an error naming group-task rows),
not some other error.
"""

import warnings

import pytest
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import check_estimator

from sklearn_etap import (
    ETAPRegressor,
    GroupSelector,
    ResidualRidge,
    SplineAffinityRegressor,
)
from sklearn_etap._conformance import (
    GROUP_ROWS_REASON,
    NO_VALID_X_NEEDED,
    expected_failed_checks,
)

DEFAULTS = [
    ResidualRidge(),
    ETAPRegressor(),
    GroupSelector(Ridge(), n_groups=2),
]


def _messages(exc):
    """The messages of an exception and of those it was raised from."""
    while exc is not None:
        yield str(exc)
        exc = exc.__cause__ or exc.__context__


def _results(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return check_estimator(estimator, on_fail=None)


@pytest.mark.parametrize("estimator", DEFAULTS, ids=lambda e: type(e).__name__)
def test_the_exemptions_are_exactly_the_checks_that_fail(estimator):
    results = _results(estimator)
    failed = {r["check_name"]: r for r in results if r["status"] == "failed"}
    ran = {r["check_name"] for r in results if r["status"] != "skipped"}
    declared = expected_failed_checks(estimator)
    assert set(failed) == set(declared) & ran
    assert set(declared.values()) == {GROUP_ROWS_REASON}
    for name, result in failed.items():
        # the refusal of non-group rows, by the one error that names it
        messages = list(_messages(result["exception"]))
        assert any("group-task rows" in m for m in messages), (name, messages)


def test_the_checks_needing_no_valid_x_pass_where_the_others_fail():
    # The derivation's one hand-written list names checks that exist and that
    # pass on every default reading group rows.
    for estimator in DEFAULTS:
        status = {r["check_name"]: r["status"] for r in _results(estimator)}
        for name in NO_VALID_X_NEEDED & set(status):
            assert status[name] == "passed", (type(estimator).__name__, name)


def test_estimators_taking_any_columns_declare_nothing():
    for estimator in (
        SplineAffinityRegressor(),
        ResidualRidge(encoding="passthrough"),
        ETAPRegressor(residual_estimator=ResidualRidge(encoding="passthrough")),
    ):
        assert expected_failed_checks(estimator) == {}
