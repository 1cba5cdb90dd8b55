"""GroupSelector passes fit metadata through scikit-learn's metadata routing."""

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklearn_etap import GroupSelector


class RecordingRidge(Ridge):
    """A ridge that keeps the row groups its fit received."""

    def fit(self, X, y, sample_weight=None, groups=None):
        self.groups_seen_ = groups
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_with_routing_groups_reach_a_search_with_group_wise_folds(
    training_rows, routing
):
    P, y, row_group = training_rows(5, n_train_groups=8, seed=1)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=GroupKFold(3))
    sel = GroupSelector(search, 3).fit(P, y, groups=row_group)
    # GroupKFold refuses to split without groups: a search fitted means they came
    assert sel.estimator_.best_params_["alpha"] in (0.1, 1.0)
    assert len(sel.groups_) <= 3


def test_with_routing_only_requested_metadata_is_passed(training_rows, routing):
    P, y, row_group = training_rows(5, n_train_groups=8, seed=1)
    with pytest.raises(UnsetMetadataPassedError, match="groups"):
        GroupSelector(RecordingRidge(), 3).fit(P, y, groups=row_group)
    requested = RecordingRidge().set_fit_request(groups=True)
    sel = GroupSelector(requested, 3).fit(P, y, groups=row_group)
    np.testing.assert_array_equal(sel.estimator_.groups_seen_, row_group)
    # and a weight nobody requested is refused by name, not dropped
    with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
        GroupSelector(requested, 3).fit(
            P, y, groups=row_group, sample_weight=np.ones(len(y))
        )


def test_without_routing_fit_parameters_are_passed_as_given(training_rows):
    P, y, row_group = training_rows(5, n_train_groups=8, seed=1)
    assert not sklearn.get_config()["enable_metadata_routing"]
    sel = GroupSelector(RecordingRidge(), 3).fit(P, y, groups=row_group)
    np.testing.assert_array_equal(sel.estimator_.groups_seen_, row_group)
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=GroupKFold(3))
    assert GroupSelector(search, 3).fit(P, y, groups=row_group).estimator_.n_splits_
    with pytest.raises(TypeError, match="passed on unchanged.*metadata routing"):
        GroupSelector(Ridge(), 3).fit(P, y, groups=row_group)
