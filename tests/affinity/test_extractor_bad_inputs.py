"""The extractor names the real problem of labels and inputs it cannot use."""

import numpy as np
import pytest
from small_extractor import small
from torch import nn


def test_binary_labels_other_than_0_and_1_are_refused_when_scoring(make_task_data):
    X, Y = make_task_data()
    ext = small().fit(X, Y)  # tasks 2 and 3 are binary
    for bad in (2.0, -7.0):
        Y_bad = Y.copy()
        Y_bad[5, 2] = bad
        with pytest.raises(ValueError, match=rf"task 2 is binary but Y holds the label\(s\) \[{bad}\]"):  # fmt: skip # noqa: E501
            ext.task_losses(X, Y_bad)
    # a regression task takes any value
    Y_reg = Y.copy()
    Y_reg[5, 0] = -7.0
    assert np.isfinite(ext.task_losses(X, Y_reg)).all()


def test_an_all_nan_target_warns_that_its_loss_is_nan(make_task_data):
    X, Y = make_task_data()
    ext = small().fit(X, Y)
    with pytest.warns(RuntimeWarning, match=r"task\(s\) \[0, 1, 2, 3\] have no label"):
        losses = ext.task_losses(X, np.full_like(Y, np.nan))
    assert np.isnan(losses).all()


def test_values_too_large_for_float32_are_named(make_task_data):
    X, Y = make_task_data()
    X_big = X.copy()
    X_big[0, 3] = 1e200
    with pytest.raises(ValueError, match=r"X holds 1e\+200 \(column 3\), too large for float32"):  # fmt: skip # noqa: E501
        small().fit(X_big, Y)
    Y_big = Y.copy()
    Y_big[0, 1] = -1e200
    with pytest.raises(ValueError, match=r"Y holds -1e\+200 \(column 1\), too large for float32"):  # fmt: skip # noqa: E501
        small().fit(X, Y_big)
    ext = small().fit(X, Y)
    with pytest.raises(ValueError, match="too large for float32"):
        ext.predict(X_big)
    with pytest.raises(ValueError, match="too large for float32"):
        ext.task_losses(X, Y_big)


def test_an_encoder_built_for_another_width_names_the_expected_width(make_task_data):
    X, Y = make_task_data()  # 5 features
    with pytest.raises(
        ValueError, match=r"rows of 5 features.*nn\.Linear\(5, \.\.\.\)"
    ):
        small(encoder=nn.Linear(4, 8)).fit(X, Y)
