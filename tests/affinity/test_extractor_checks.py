"""scikit-learn's estimator checks on TorchAffinityExtractor."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap._conformance import expected_failed_checks


@parametrize_with_checks(
    [TorchAffinityExtractor(max_epochs=3, batch_size=16, device="cpu", random_state=0)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
