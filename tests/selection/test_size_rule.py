"""GroupSizeRule: per-task levels plus one shared slope on group size."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_etap import GroupSelector, GroupSizeRule, all_groups, encode_groups


def test_recovers_planted_levels_and_slope_exactly():
    groups = all_groups(5, min_size=2)
    P = encode_groups(groups, 5)
    level = np.array([0.3, -0.1, 0.0, 0.2, -0.4])
    size = P[:, :5].sum(axis=1)
    task = P[:, 5:].argmax(axis=1)
    y = level[task] - 0.05 * size
    rule = GroupSizeRule().fit(P, y)
    np.testing.assert_allclose(rule.task_level_, level, atol=1e-10)
    assert np.isclose(rule.size_slope_, -0.05)
    np.testing.assert_allclose(rule.predict(P), y, atol=1e-10)


def test_with_a_negative_slope_the_selector_keeps_the_positive_tasks_in_pairs():
    # levels 0.3 for tasks 0, 1 and -0.5 for 2, 3; a slope of -0.1 per member:
    # pairs give 0.1 to tasks 0 and 1, and the others are best alone (0)
    groups = all_groups(4, min_size=2)
    P = encode_groups(groups, 4)
    level = np.array([0.3, 0.3, -0.5, -0.5])
    y = level[P[:, 4:].argmax(axis=1)] - 0.1 * P[:, :4].sum(axis=1)
    sel = GroupSelector(GroupSizeRule(), n_groups=3).fit(P, y)
    assert sel.groups_ == [(2,), (3,), (0, 1)]
    assert np.isclose(sel.predicted_gain_, 0.2)


@parametrize_with_checks([GroupSizeRule()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
