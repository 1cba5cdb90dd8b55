"""make_etap_search refuses fold counts cross-validation cannot use."""

import numpy as np
import pytest

from sklearn_etap import make_etap_search


@pytest.mark.parametrize("n_splits", [1, 0, -4, 2.5, True])
def test_fewer_than_two_folds_are_refused(n_splits):
    A = np.eye(4)
    with pytest.raises(ValueError, match=r"n_splits=.*at least 2"):
        make_etap_search(A, 8, n_splits=n_splits)


def test_folds_are_capped_at_the_groups():
    A = np.eye(4)
    assert make_etap_search(A, 8, n_splits=2).cv.n_splits == 2
    assert make_etap_search(A, 8, n_splits=10).cv.n_splits == 8
