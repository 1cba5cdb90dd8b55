"""Which gains the selection of ``etap run`` reads, in both measuring modes."""

import numpy as np
import pytest

from sklearn_etap import MeasuredGains
from sklearn_etap._cli.measuring import MEASUREMENTS


class Constant:
    """A predictor that predicts the same gain for every (group, task) row."""

    def __init__(self, value):
        self.value = value

    def predict(self, X):
        return np.full(len(X), self.value)


def measured(groups, gains_by_group, n_tasks):
    stl = np.ones((n_tasks, 1))
    mtl = np.concatenate([1 - np.asarray(gains_by_group[g]) for g in groups])
    return MeasuredGains(
        groups=list(groups),
        n_tasks=n_tasks,
        seeds=np.array([0]),
        stl_loss_per_seed=stl,
        mtl_loss_per_seed=mtl[:, None],
    )


@pytest.mark.parametrize("mode", sorted(MEASUREMENTS))
def test_a_measured_group_counts_with_its_measured_gains_not_a_prediction(mode):
    # All tasks together was measured (a reference answer) and hurt every
    # task; the predictor, fitted on other groups, calls it a gain. The
    # selection must read what was measured (etap run once chose such a group
    # on its prediction), and the prediction for a group never measured.
    n_tasks = 3
    table = {(0, 1, 2): [-0.5, -0.25, -1.0], (0, 1): [0.1, 0.2]}
    gains = measured([(0, 1), (0, 1, 2)], table, n_tasks)
    candidates = [(0, 1), (0, 2), (0, 1, 2)]
    got = MEASUREMENTS[mode]().selection_gains(Constant(0.7), candidates, gains)
    np.testing.assert_allclose(got[0], table[(0, 1)])
    np.testing.assert_allclose(got[1], [0.7, 0.7])
    np.testing.assert_allclose(got[2], table[(0, 1, 2)])
