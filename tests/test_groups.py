import itertools
from math import comb

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_etap import (
    all_groups,
    encode_groups,
    group_affinity,
    group_row_ids,
    sample_groups,
)
from sklearn_etap._groups import check_groups, decode_rows


def test_encode_groups_layout_and_order():
    P = encode_groups([(3, 1), (0, 2, 3)], n_tasks=4)
    assert P.shape == (5, 8)
    # groups in the order given, member tasks ascending
    expected_targets = [1, 3, 0, 2, 3]
    assert P[:, 4:].argmax(axis=1).tolist() == expected_targets
    np.testing.assert_array_equal(P[:2, :4], [[0, 1, 0, 1]] * 2)
    np.testing.assert_array_equal(P[2:, :4], [[1, 0, 1, 1]] * 3)
    assert np.all(P[:, 4:].sum(axis=1) == 1)


def test_decode_rows_inverts_encode_groups():
    groups = sample_groups(7, 15, random_state=1)
    P = encode_groups(groups, 7)
    membership, target, row_groups = decode_rows(P)
    expected = [g for g in groups for _ in g]
    assert row_groups == expected
    assert target.tolist() == [t for g in groups for t in g]
    assert group_row_ids(groups).tolist() == [
        i for i, g in enumerate(groups) for _ in g
    ]


@pytest.mark.parametrize(
    "groups, message",
    [
        ([(0, 5)], "out of range for 4 tasks"),
        ([(0, -1)], "out of range"),
        ([(0, 1), (1, 0)], "duplicates group 0"),
        ([()], "empty"),
        ([(1, 1)], "more than once"),
    ],
)
def test_encode_groups_rejects_bad_groups(groups, message):
    with pytest.raises(ValueError, match=message):
        encode_groups(groups, n_tasks=4)


def test_encode_groups_rejects_non_integer_tasks():
    with pytest.raises(TypeError, match="integers"):
        encode_groups([(0, 1.5)], n_tasks=4)
    with pytest.raises(TypeError, match="collection"):
        encode_groups([3], n_tasks=4)


def test_check_groups_min_size():
    with pytest.raises(ValueError, match="at least 2"):
        check_groups([(0,)], 3, min_size=2)


def test_decode_rows_rejects_inconsistent_rows():
    P = encode_groups([(0, 1)], 3)
    bad = P.copy()
    bad[0, 3:] = [0, 0, 1]  # target task 2 is not a member of (0, 1)
    with pytest.raises(ValueError, match="not a member"):
        decode_rows(bad)
    with pytest.raises(ValueError, match="2 \\* n_tasks columns"):
        decode_rows(P[:, :5])
    bad = P.copy()
    bad[0, 3:] = 0
    with pytest.raises(ValueError, match="exactly one target"):
        decode_rows(bad)


def test_sample_groups_distinct_sizes_and_reproducible():
    groups = sample_groups(6, 40, random_state=0)
    assert len(groups) == len(set(groups)) == 40
    assert all(len(g) >= 2 and list(g) == sorted(g) for g in groups)
    assert all(0 <= t < 6 for g in groups for t in g)
    assert groups == sample_groups(6, 40, random_state=0)
    assert groups != sample_groups(6, 40, random_state=1)


def test_sample_groups_can_draw_every_group_and_no_more():
    n_available = 2**5 - 1 - 5
    groups = sample_groups(5, n_available, random_state=0)
    assert sorted(groups) == sorted(all_groups(5))
    with pytest.raises(ValueError, match="cannot draw 27 distinct groups"):
        sample_groups(5, n_available + 1, random_state=0)
    with pytest.raises(
        InvalidParameterError, match=r"'n_tasks' .* int in the range \[2, inf\)"
    ):
        sample_groups(1, 1)


def test_sample_groups_size_distribution_is_uniform_over_groups():
    # every group equally likely: group sizes follow comb(n, k)
    n_tasks = 8
    sizes = [len(g) for seed in range(200) for g in sample_groups(n_tasks, 3, seed)]
    counts = np.bincount(sizes, minlength=n_tasks + 1)[2:]
    expected = np.array([comb(n_tasks, k) for k in range(2, n_tasks + 1)], float)
    expected = expected / expected.sum() * len(sizes)
    # sizes 3..5 dominate; each observed share is near its expectation
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 2)


def test_sample_groups_max_size():
    groups = sample_groups(6, 20, random_state=0, max_size=3)
    assert {len(g) for g in groups} <= {2, 3}


def test_group_affinity_matches_brute_force():
    rng = np.random.RandomState(0)
    n_tasks = 6
    A = rng.normal(size=(n_tasks, n_tasks))
    groups = [
        g
        for k in range(2, n_tasks + 1)
        for g in itertools.combinations(range(n_tasks), k)
    ]
    P = encode_groups(groups, n_tasks)
    expected = [np.mean([A[s, t] for s in g if s != t]) for g in groups for t in g]
    np.testing.assert_allclose(group_affinity(A, P), expected, rtol=1e-12)


def test_group_affinity_of_singleton_is_zero_and_errors():
    A = np.ones((3, 3))
    np.testing.assert_array_equal(group_affinity(A, encode_groups([(1,)], 3)), [0.0])
    with pytest.raises(ValueError, match="affinity has 3 tasks"):
        group_affinity(A, encode_groups([(0, 1)], 4))
    with pytest.raises(ValueError, match="square"):
        group_affinity(np.ones((3, 2)), encode_groups([(0, 1)], 3))
    A[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        group_affinity(A, encode_groups([(0, 1)], 3))


# ------------------------------------------------------------ messages


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: encode_groups(None, 3),
            "The 'groups' parameter of encode_groups must be an instance of",
        ),
        (
            lambda: group_row_ids(None),
            "The 'groups' parameter of group_row_ids must be an instance of",
        ),
        (
            lambda: encode_groups([(0, 1)], 0),
            r"The 'n_tasks' parameter of encode_groups must be an int in the "
            r"range \[1, inf\)",
        ),
        (
            lambda: sample_groups(5, 2, max_size=2.7),
            r"The 'max_size' parameter of sample_groups must be an int in the "
            r"range \[2, inf\) or None. Got 2.7",
        ),
        (
            lambda: sample_groups(5, -1),
            r"The 'n_groups' parameter of sample_groups must be an int in the "
            r"range \[1, inf\). Got -1",
        ),
        (
            lambda: sample_groups(5, 2.0),
            "The 'n_groups' parameter of sample_groups must be an int",
        ),
        (
            lambda: all_groups(4, max_size=0),
            "The 'max_size' parameter of all_groups must be an int",
        ),
        (
            lambda: all_groups(3.0),
            "The 'n_tasks' parameter of all_groups must be an int",
        ),
    ],
)
def test_public_functions_name_the_bad_argument(call, message):
    with pytest.raises(InvalidParameterError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_groups_none_is_named_wherever_groups_are_checked():
    # check_groups is reached by encode_groups, measure_gains, MeasuredGains
    # and GroupSelector's candidates: each says what groups must be.
    with pytest.raises(TypeError, match=r"^groups must be a list of groups"):
        check_groups(None, 3)
    with pytest.raises(TypeError, match=r"^candidates must be a list of groups"):
        check_groups(5, 3, name="candidates")


def test_sample_groups_max_size_above_n_tasks():
    with pytest.raises(ValueError, match="max_size=6 exceeds n_tasks=5"):
        sample_groups(5, 2, max_size=6)


def test_group_row_ids_and_all_groups():
    assert group_row_ids([]).tolist() == []
    assert group_row_ids(iter([(0, 1), (2,)])).tolist() == [0, 0, 1]
    with pytest.raises(TypeError, match="group 1 of groups is 3"):
        group_row_ids([(0, 1), 3])
    groups = all_groups(5)
    assert len(groups) == 2**5 - 1 - 5 == len(set(groups))
    assert [len(g) for g in groups] == sorted(len(g) for g in groups)
    assert all_groups(5, min_size=1, max_size=1) == [(t,) for t in range(5)]
    assert all_groups(3, max_size=10) == all_groups(3)
    assert all_groups(4, min_size=3, max_size=2) == []


def test_sample_groups_of_more_tasks_than_floats_can_count():
    # comb(1100, 550) is beyond float64: the size weights are exact integers
    groups = sample_groups(1100, 3, random_state=0)
    assert len(set(groups)) == 3
    assert all(2 <= len(g) <= 1100 and list(g) == sorted(set(g)) for g in groups)
    assert sample_groups(1100, 3, random_state=0) == groups
