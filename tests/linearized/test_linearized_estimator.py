"""LinearizedGainEstimator against a brute-force computation, on planted
structure, under projection and caching, and on bad input."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from sklearn_etap import (
    LinearizedGainEstimator,
    TorchAffinityExtractor,
    all_groups,
    encode_groups,
)
from sklearn_etap._linearized import gain_agreement
from sklearn_etap.datasets import make_task_clusters


def tiny_problem(seed=0, n=80):
    rng = check_random_state(seed)
    X = rng.normal(size=(n, 3))
    Y = np.c_[
        X[:, 0] + 0.3 * rng.normal(size=n),
        X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=n),
        (X[:, 2] + 0.5 * rng.normal(size=n) > 0).astype(float),
    ]
    Y[rng.rand(n) < 0.2, 1] = np.nan  # missing labels are skipped
    return X, Y


@pytest.fixture(scope="module")
def tiny():
    X, Y = tiny_problem()
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(3,),
        max_epochs=10,
        batch_size=16,
        affinity=None,
        device="cpu",
        random_state=0,
    ).fit(X, Y)
    return X, Y, ext


def autograd_jacobian(module, X):
    """(n, n_tasks, n_parameters): one backward pass per sample and task."""
    params = [p for p in module.parameters() if p.requires_grad]
    rows = []
    for x in torch.as_tensor(X, dtype=torch.float32):
        out, _ = module(x[None])
        per_task = []
        for t in range(out.shape[1]):
            grads = torch.autograd.grad(out[0, t], params, retain_graph=True)
            per_task.append(torch.cat([g.reshape(-1) for g in grads]))
        rows.append(torch.stack(per_task))
    with torch.no_grad():
        outputs = module(torch.as_tensor(X, dtype=torch.float32))[0]
    return outputs.double().numpy(), torch.stack(rows).double().numpy()


def brute_force_gains(est, X, Y, groups):
    """The estimator's definition, recomputed with explicit Jacobians, full
    Newton steps (exact Hessians) and numpy.linalg.solve."""
    outputs, J = autograd_jacobian(est.extractor.module_, X)
    binary = est.task_types_ == "binary"
    lam = est.penalty_

    def parts(t, validation):
        rows = ~np.isnan(Y[:, t]) & (est.validation_mask_ == validation)
        return J[rows, t], outputs[rows, t], Y[rows, t]

    def loss(t, delta, validation):
        Jt, f, y = parts(t, validation)
        z = f + Jt @ delta
        if binary[t]:
            return np.mean(np.logaddexp(0, z) - y * z)
        return np.mean((z - y) ** 2)

    def fit(group):
        delta = np.zeros(J.shape[2])
        for _ in range(100):
            grad, hess = lam * delta, lam * np.eye(len(delta))
            for t in group:
                Jt, f, y = parts(t, False)
                z = f + Jt @ delta
                if binary[t]:
                    p = 1 / (1 + np.exp(-z))
                    slope, curve = p - y, p * (1 - p)
                else:
                    slope, curve = 2 * (z - y), np.full_like(z, 2.0)
                grad += Jt.T @ slope / len(y) / len(group)
                hess += (Jt * curve[:, None]).T @ Jt / len(y) / len(group)
            delta = delta - np.linalg.solve(hess, grad)
        return delta

    alone = {t: loss(t, fit((t,)), True) for t in range(Y.shape[1])}
    gains = []
    for group in groups:
        delta = fit(group)
        gains += [(alone[t] - loss(t, delta, True)) / alone[t] for t in group]
    return np.array(gains), J


def test_matches_brute_force_jacobians_and_solves(tiny):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, n_components=None, max_iter=50, random_state=0)
    est.fit(X, Y)
    groups = all_groups(3)
    expected, J = brute_force_gains(est, X, Y, groups)
    assert est.n_parameters_ == J.shape[2] == est.n_components_
    np.testing.assert_allclose(
        est.predict(encode_groups(groups, 3)), expected, rtol=1e-4, atol=1e-7
    )
    # the relative penalty is scaled by the Hessians' mean diagonal
    assert est.penalty_ == pytest.approx(est.alpha_ * est._scale)
    assert est.alpha_ in est.alphas
    assert est.alpha_scores_.argmin() == list(est.alphas).index(est.alpha_)


def test_a_task_alone_gains_nothing(tiny):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(est.predict(encode_groups([(0,), (2,)], 3)), 0.0)


def test_planted_cluster_partners_rank_above_every_other_task():
    """make_task_clusters: tasks 0-2 and 3-5 share a factor each; with a
    one-unit encoder, training a task with its cluster helps it and with any
    other task hurts it (benchmarks/data/gains_clusters_8tasks.csv)."""
    data = make_task_clusters(random_state=0)
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(1,),
        optimizer="adam",
        learning_rate=0.05,
        batch_size=200,
        max_epochs=400,
        affinity=None,
        device="cpu",
        random_state=0,
    ).fit(data.X_train, data.Y_train)
    est = LinearizedGainEstimator(ext, random_state=0).fit(data.X_train, data.Y_train)
    pairs = all_groups(8, max_size=2)
    gain = dict(
        zip([(t, g) for g in pairs for t in g], est.predict(encode_groups(pairs, 8)))
    )
    for cluster in data.clusters:
        for task in cluster:

            def with_(partner, task=task):
                return gain[(task, tuple(sorted((task, partner))))]

            inside = [with_(p) for p in cluster if p != task]
            outside = [with_(p) for p in range(8) if p not in cluster]
            assert min(inside) > max(outside), (task, inside, outside)
    # and the trust check sees it against the measured table's pattern
    rows = encode_groups(pairs, 8)
    in_cluster = np.array(
        [any(set(g) <= set(c) for c in data.clusters) for g in pairs for _ in g]
    )
    agreement = est.score_against(rows, np.where(in_cluster, 1.0, -1.0))
    assert agreement["within_task_r"] > 0.5


def test_large_projection_preserves_the_estimates(tiny):
    X, Y, ext = tiny
    P = encode_groups(all_groups(3), 3)
    exact = LinearizedGainEstimator(ext, alpha=0.01, n_components=None, random_state=0)
    projected = clone(exact).set_params(n_components=400)
    small = clone(exact).set_params(n_components=2)
    e = exact.fit(X, Y).predict(P)
    assert projected.fit(X, Y).n_components_ == 400
    p = projected.predict(P)
    assert np.corrcoef(e, p)[0, 1] > 0.99
    np.testing.assert_allclose(p, e, atol=0.1 * np.abs(e).max())
    # a 2-column projection is a different (much cruder) model
    assert np.abs(small.fit(X, Y).predict(P) - e).max() > np.abs(p - e).max()


def test_auto_projection_applies_only_above_the_threshold(tiny, monkeypatch):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    assert est.n_components_ == est.n_parameters_  # small model: exact
    monkeypatch.setattr("sklearn_etap._linearized.estimator.AUTO_COMPONENTS", 10)
    assert clone(est).fit(X, Y).n_components_ == 10


def test_cached_groups_give_identical_estimates(tiny, monkeypatch):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    P = encode_groups(all_groups(3), 3)
    first = est.predict(P)
    calls = []
    import sklearn_etap._linearized.estimator as module

    original = module.fit_displacement
    monkeypatch.setattr(
        module, "fit_displacement", lambda *a, **k: calls.append(a) or original(*a, **k)
    )
    again = est.predict(P)
    reversed_rows = est.predict(P[::-1])[::-1]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, reversed_rows)
    assert calls == []  # every group came from the cache
    # a fresh estimator (empty cache) computes the same numbers
    np.testing.assert_array_equal(clone(est).fit(X, Y).predict(P), first)


def test_conventions_clone_pickle_and_fitted_attributes(tiny):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, alpha=0.1, random_state=0)
    assert est.get_params()["extractor"] is ext
    with pytest.raises(NotFittedError):
        est.predict(encode_groups([(0, 1)], 3))
    est.fit(X, Y)
    assert est.alpha_ == 0.1 and est.alpha_scores_ is None
    assert est.validation_mask_.sum() == round(0.2 * len(X))
    P = encode_groups([(0, 1, 2)], 3)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(P), est.predict(P))
    assert not hasattr(clone(est), "alpha_")


def test_clear_errors_on_bad_input(tiny):
    X, Y, ext = tiny
    unfitted = TorchAffinityExtractor(max_epochs=1)
    with pytest.raises(NotFittedError):
        LinearizedGainEstimator(unfitted).fit(X, Y)
    with pytest.raises(TypeError, match="fitted TorchAffinityExtractor"):
        LinearizedGainEstimator("not an extractor").fit(X, Y)
    with pytest.raises(ValueError, match="X has 2 features but the extractor"):
        LinearizedGainEstimator(ext).fit(X[:, :2], Y)
    with pytest.raises(ValueError, match="Y has shape"):
        LinearizedGainEstimator(ext).fit(X, Y[:, :2])
    with pytest.raises(ValueError, match="alphas"):
        LinearizedGainEstimator(ext, alphas=[]).fit(X, Y)
    with pytest.raises(ValueError, match="labelled samples in the validation"):
        LinearizedGainEstimator(ext, validation_fraction=0.01).fit(X, Y)
    est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="group-task rows"):
        est.predict(encode_groups([(0, 1)], 4))  # a task the model does not have
    with pytest.raises(ValueError, match="not a member of its group"):
        est.predict([[1, 1, 0, 0, 0, 1]])


def test_a_penalty_at_the_top_of_the_grid_warns(tiny):
    X, Y, ext = tiny
    est = LinearizedGainEstimator(ext, random_state=0).fit(X, Y)
    below = [a for a in est.alphas if a < est.alpha_]
    assert below, "the default grid must reach below the chosen penalty"
    with pytest.warns(UserWarning, match="largest of alphas"):
        clone(est).set_params(alphas=below).fit(X, Y)


def test_gain_agreement_known_values():
    task = np.array([0, 0, 0, 1, 1, 1])
    measured = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    estimated = np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0])
    agreement = gain_agreement(estimated, measured, task)
    assert agreement["within_task_r"] == pytest.approx(0.0)  # -1 and +1
    assert agreement["pooled_r"] == pytest.approx(
        np.corrcoef(estimated, measured)[0, 1]
    )
    assert agreement["n_tasks_scored"] == 2 and agreement["n_rows"] == 6
    constant = gain_agreement(np.ones(6), measured, task)
    assert np.isnan(constant["within_task_r"]) and constant["n_tasks_scored"] == 0
    with pytest.raises(ValueError, match="1-D of one length"):
        gain_agreement(estimated[:5], measured, task)


def test_sign_sketch_is_the_matrix_it_stands_for_and_keeps_inner_products():
    from sklearn_etap._linearized.jacobians import SignSketch

    rng = np.random.RandomState(0)
    rows = torch.as_tensor(rng.normal(size=(5, 300)), dtype=torch.float32)
    sketch = SignSketch(300, 16, seed=1, device=torch.device("cpu"))
    np.testing.assert_allclose(
        sketch(rows).numpy(), (rows @ sketch.matrix()).numpy(), rtol=1e-5, atol=1e-5
    )
    # every parameter lands in exactly one column, with sign +-1
    assert np.array_equal(np.abs(sketch.matrix().numpy()).sum(axis=1), np.ones(300))
    # unbiased inner products: the mean over sketches approaches the exact Gram
    a, b = rows[0], rows[1]
    cpu = torch.device("cpu")
    estimates = [
        float(SignSketch(300, 16, s, cpu)(torch.stack([a, b])).prod(0).sum())
        for s in range(2000)
    ]
    exact = float(a @ b)
    spread = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - exact) < 4 * spread
    assert np.std(estimates) > 0  # a projection to 16 columns is not exact


@pytest.mark.parametrize("fraction_labelled", [0.9, 0.3])
def test_jacobian_rows_match_autograd_with_few_or_many_labels(tiny, fraction_labelled):
    # above half the labels: every task's gradient per sample (jacrev);
    # below: one gradient per labelled (sample, task) pair
    from sklearn_etap._linearized.jacobians import SignSketch, output_jacobians

    X, _, ext = tiny
    module = ext.module_
    present = np.random.RandomState(1).rand(len(X), 3) < fraction_labelled
    outputs, J = autograd_jacobian(module, X)
    got_outputs, rows = output_jacobians(module, X, present)
    np.testing.assert_allclose(got_outputs, outputs, rtol=1e-5, atol=1e-6)
    sketch = SignSketch(J.shape[2], 7, seed=0, device=torch.device("cpu"))
    _, projected = output_jacobians(module, X, present, sketch)
    for t in range(3):
        np.testing.assert_allclose(rows[t], J[present[:, t], t], rtol=1e-4, atol=1e-5)
        expected = J[present[:, t], t] @ sketch.matrix().double().numpy()
        np.testing.assert_allclose(projected[t], expected, rtol=1e-4, atol=1e-5)


def test_batched_regression_groups_equal_one_solve_per_group():
    from sklearn_etap._linearized.group_fit import (
        fit_displacement,
        regression_group_losses,
    )

    data = make_task_clusters(300, random_state=0)
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(4,), max_epochs=5, affinity=None, random_state=0
    ).fit(data.X_train, data.Y_train)
    est = LinearizedGainEstimator(ext, alpha=0.01, random_state=0).fit(
        data.X_train, data.Y_train
    )
    groups = [tuple(g) for g in all_groups(8)][:100]
    batched = regression_group_losses(est._blocks, groups, est.penalty_, chunk=7)
    for group, losses in zip(groups, batched):
        blocks = [est._blocks[t] for t in group]
        delta = fit_displacement(blocks, est.penalty_)
        one = [b.validation_loss(delta) for b in blocks]
        np.testing.assert_allclose(losses, one, rtol=1e-8)
