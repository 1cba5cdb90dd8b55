"""The linearized estimate's trust check as `etap run --linearized` reports it."""

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_etap import LinearizedGainEstimator, TorchAffinityExtractor, measure_gains
from sklearn_etap._cli.linearized_check import (
    agreement_verdict,
    linearized_agreement,
    linearized_html,
    linearized_lines,
)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(160, 4))
    shared = X[:, 0] + X[:, 1]
    Y = np.c_[shared, shared + 0.2 * rng.normal(size=160), np.sin(3 * X[:, 2])]
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(4,), max_epochs=5, random_state=0
    ).fit(X[:120], Y[:120])
    groups = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    gains = measure_gains(
        ext, X[:120], Y[:120], groups, X[120:], Y[120:], random_state=0, progress=False
    )
    data = Bunch(X_train=X[:120], Y_train=Y[:120])
    return ext, data, gains


@pytest.mark.slow
def test_the_reported_agreement_is_the_estimators_trust_check(fitted):
    ext, data, gains = fitted
    check = linearized_agreement(ext, data, gains, seed=0)
    expected = (
        LinearizedGainEstimator(ext, random_state=0)
        .fit(data.X_train, data.Y_train)
        .score_against(gains.X, gains.y)
    )
    assert check["n_rows"] == expected["n_rows"] == 9
    for name in ("within_task_r", "pooled_r"):
        assert check[name] == pytest.approx(expected[name], nan_ok=True) or (
            check[name] is None and np.isnan(expected[name])
        )
    assert check["n_parameters"] == sum(p.numel() for p in ext.module_.parameters())


@pytest.mark.parametrize(
    "within, says",
    [(0.6, "holds"), (0.2, "only weakly"), (-0.1, "does NOT agree"), (None, "cannot")],
)
def test_the_verdict_follows_the_within_task_r(within, says):
    check = {
        "within_task_r": within,
        "pooled_r": 0.5,
        "n_rows": 12,
        "n_tasks_scored": 3,
        "n_parameters": 100,
        "alpha": 1e-3,
        "verdict": agreement_verdict(np.nan if within is None else within),
    }
    assert says in check["verdict"]
    (line,) = linearized_lines({"linearized": check})
    assert says in line and "12 measured" in line
    assert says in linearized_html({"linearized": check})
    assert linearized_lines({"linearized": None}) == []
    assert linearized_html({}) == ""
