import numpy as np
import pytest

from sklearn_etap import encode_groups, group_row_ids, sample_groups


def _training_rows(n_tasks, n_train_groups=6, seed=0):
    """Rows of ``n_train_groups`` random groups with random gains, and row ids."""
    groups = sample_groups(n_tasks, n_train_groups, random_state=seed)
    P = encode_groups(groups, n_tasks)
    y = np.random.default_rng(seed).normal(0, 0.2, len(P))
    return P, y, group_row_ids(groups)


@pytest.fixture
def training_rows():
    """``training_rows(n_tasks, n_train_groups=6, seed=0)`` -> ``(P, y, row_group)``."""
    return _training_rows
