"""Behaviour of TorchAffinityExtractor: fitting, outputs, errors, reproducibility."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from small_extractor import small
from torch import nn

from sklearn_etap import TorchAffinityExtractor
from sklearn_etap._affinity.modules import build_module
from sklearn_etap._affinity.recording import RecordingSchedule


def test_fit_outputs_and_attributes(make_task_data):
    X, Y = make_task_data()
    ext = small(hidden_layer_sizes=(8, 6)).fit(X, Y)
    assert ext.n_tasks_ == 4
    assert ext.task_types_.tolist() == ["regression", "regression", "binary", "binary"]
    assert ext.affinity_.shape == (4, 4) and np.isfinite(ext.affinity_).all()
    assert len(ext.loss_curve_) == ext.n_iter_ == 4
    assert ext.n_steps_ == 4 * 4  # 120 samples in batches of 32
    # "auto": 16 planned steps record one in 16 // 4 = 4, one per block
    assert ext.affinity_every_ == 4
    assert ext.n_recorded_steps_ == ext.n_steps_ // ext.affinity_every_ == 4
    assert ext.transform(X).shape == (120, 6)
    proba = ext.predict(X)
    assert proba.shape == (120, 4)
    assert ((proba[:, 2:] > 0) & (proba[:, 2:] < 1)).all()
    assert isinstance(ext.module_, nn.Module)


def test_task_losses_match_sklearn_metrics(make_task_data):
    X, Y = make_task_data()
    Y[::3, 1] = np.nan
    ext = small().fit(X, Y)
    pred = ext.predict(X)
    expected = []
    for task in range(4):
        rows = ~np.isnan(Y[:, task])
        metric = mean_squared_error if task < 2 else log_loss
        expected.append(metric(Y[rows, task], pred[rows, task]))
    assert_allclose(ext.task_losses(X, Y), expected, rtol=1e-5)
    # a task without labels in the given data has no loss
    Y_missing = Y.copy()
    Y_missing[:, 3] = np.nan
    with pytest.warns(RuntimeWarning, match=r"task\(s\) \[3\] have no label"):
        losses = ext.task_losses(X, Y_missing)
    assert np.isnan(losses[3]) and np.isfinite(losses[:3]).all()
    with pytest.raises(ValueError, match="expected \\(120, 4\\)"):
        ext.task_losses(X, Y[:, :3])
    with pytest.raises(ValueError, match="Y has 3 dimensions"):
        ext.task_losses(X, Y[:, :, None])


def test_same_seed_same_fit_and_different_seed_differs(make_task_data):
    X, Y = make_task_data()
    a, b = small(random_state=3).fit(X, Y), small(random_state=3).fit(X, Y)
    assert_array_equal(a.affinity_, b.affinity_)
    assert_array_equal(a.transform(X), b.transform(X))
    c = small(random_state=4).fit(X, Y)
    assert not np.array_equal(a.affinity_, c.affinity_)


def test_recording_does_not_change_training(make_task_data):
    """The summed per-task gradients are the training gradient."""
    X, Y = make_task_data()
    recorded = small(affinity_every=1).fit(X, Y)
    plain = small(affinity=None).fit(X, Y)
    assert plain.affinity_ is None and plain.n_recorded_steps_ == 0
    assert_allclose(recorded.loss_curve_, plain.loss_curve_, rtol=1e-5)
    assert_allclose(recorded.transform(X), plain.transform(X), rtol=1e-4, atol=1e-6)


def test_tag_lookahead_leaves_batchnorm_statistics_alone(make_task_data):
    """TAG's extra forward passes must not update the model's running buffers."""
    X, Y = make_task_data()

    def encoder(n_features):
        return nn.Sequential(nn.Linear(n_features, 6), nn.BatchNorm1d(6), nn.ReLU())

    tag = small(encoder=encoder, affinity="tag", affinity_every=1).fit(X, Y)
    plain = small(encoder=encoder, affinity=None).fit(X, Y)
    assert tag.n_recorded_steps_ == tag.n_steps_
    for name, buffer in plain.module_.named_buffers():
        assert_allclose(
            tag.module_.get_buffer(name), buffer, rtol=1e-5, atol=1e-6, err_msg=name
        )
    assert_allclose(tag.transform(X), plain.transform(X), rtol=1e-4, atol=1e-6)


def test_building_the_module_leaves_batchnorm_statistics_alone():
    """The shape probe of build_module is no training pass."""
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6, momentum=None))
    heads = [nn.Sequential(nn.Linear(6, 1), nn.BatchNorm1d(1)) for _ in range(2)]
    module = build_module(encoder, heads, (), 5, 2, probe=torch.randn(8, 5) + 3)
    for name, buffer in module.named_buffers():
        initial = 1.0 if name.endswith("running_var") else 0.0
        assert_array_equal(buffer.numpy(), initial, err_msg=name)


def test_recording_interval_averages_a_subset_of_the_every_step_scores(make_task_data):
    X, Y = make_task_data()
    every = small(affinity_every=1).fit(X, Y)
    sparse = small(affinity_every=3).fit(X, Y)
    assert sparse.n_recorded_steps_ == 6  # 5 full blocks of 3, then 1 step
    assert every.n_recorded_steps_ == 16
    # same sign structure on this easy problem, different averages
    assert not np.allclose(every.affinity_, sparse.affinity_)
    assert np.corrcoef(every.affinity_.ravel(), sparse.affinity_.ravel())[0, 1] > 0.8


def test_recording_schedule_one_random_step_per_block():
    every, n_steps = 5, 1000
    schedule = RecordingSchedule(every, seed=0)
    steps = np.array([step for step in range(n_steps) if schedule.records(step)])
    # exactly one per block, at varying places (not a fixed stride)
    np.testing.assert_array_equal(steps // every, np.arange(n_steps // every))
    offsets = steps % every
    assert set(offsets.tolist()) == set(range(every))
    again = RecordingSchedule(every, seed=0)
    np.testing.assert_array_equal(
        steps, [step for step in range(n_steps) if again.records(step)]
    )
    other = RecordingSchedule(every, seed=1)
    assert [s for s in range(n_steps) if other.records(s)] != steps.tolist()
    every_step = RecordingSchedule(1, seed=0)
    assert all(every_step.records(step) for step in range(50))


@pytest.mark.parametrize("seed", range(10))
def test_recording_schedule_records_the_last_partial_block(seed):
    bounded = RecordingSchedule(20, seed, n_steps=47)
    steps = [step for step in range(47) if bounded.records(step)]
    assert len(steps) == 3 and 40 <= steps[-1] < 47
    # the full blocks are drawn as without the bound
    unbounded = RecordingSchedule(20, seed)
    assert steps[:2] == [step for step in range(40) if unbounded.records(step)]


@pytest.mark.parametrize("random_state", range(6))
def test_fit_shorter_than_affinity_every_still_records(random_state, make_task_data):
    X, Y = make_task_data(n_samples=60)
    ext = small(max_epochs=3, random_state=random_state, affinity_every=100)
    ext.fit(X, Y)
    assert ext.n_steps_ == 6 < ext.affinity_every_ == 100
    assert ext.n_recorded_steps_ == 1
    assert np.isfinite(ext.affinity_).all()


@pytest.mark.parametrize("group", [(0, 2), (3,)])
def test_subset_and_single_column_fits_like_measure_gains(make_task_data, group):
    X, Y = make_task_data()
    ext = small()
    sub = clone(ext).set_params(affinity=None, random_state=1, verbose=False)
    sub.fit(X, Y[:, list(group)])
    again = (
        clone(ext).set_params(affinity=None, random_state=1).fit(X, Y[:, list(group)])
    )
    assert sub.n_tasks_ == len(group)
    assert_array_equal(
        sub.task_losses(X, Y[:, list(group)]),
        again.task_losses(X, Y[:, list(group)]),
    )


def test_one_dimensional_y_is_one_task(make_task_data):
    X, Y = make_task_data()
    ext = small().fit(X, Y[:, 0])
    assert ext.n_tasks_ == 1 and ext.affinity_.shape == (1, 1)
    assert ext.predict(X).shape == (120, 1)
    assert ext.task_losses(X, Y[:, 0]).shape == (1,)


def test_missing_labels_train_the_other_tasks(make_task_data):
    X, Y = make_task_data()
    Y[:60, 0] = np.nan
    Y[60:, 2] = np.nan
    ext = small(max_epochs=30, learning_rate=0.05).fit(X, Y)
    assert np.isfinite(ext.affinity_).all()
    losses = ext.task_losses(X, Y)
    assert np.isfinite(losses).all()
    assert ext.loss_curve_[-1] < ext.loss_curve_[0]


def test_task_present_in_few_batches_keeps_per_pair_counts(make_task_data):
    X, Y = make_task_data()
    Y[1:, 3] = np.nan  # one label: task 3 is in one batch per epoch
    ext = small(affinity_every=1).fit(X, Y)
    assert np.isfinite(ext.affinity_).all()
    assert ext.affinity_.shape == (4, 4)


def test_pickle_round_trip_transforms_identically(make_task_data):
    X, Y = make_task_data()
    ext = small().fit(X, Y)
    restored = pickle.loads(pickle.dumps(ext))
    assert_array_equal(restored.transform(X), ext.transform(X))
    assert_array_equal(restored.affinity_, ext.affinity_)


def test_user_encoder_and_heads(make_task_data):
    X, Y = make_task_data()

    class Encoder(nn.Module):
        def __init__(self, n_features):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(n_features, 7), nn.GELU())

        def forward(self, x):
            return self.body(x)

    def head(n_representation):
        return nn.Sequential(nn.Linear(n_representation, 3), nn.Tanh(), nn.Linear(3, 1))

    ext = small(encoder=Encoder, heads=head).fit(X, Y)
    assert ext.transform(X).shape == (120, 7)
    assert ext.affinity_.shape == (4, 4)
    assert len(ext.module_.heads.heads) == 4
    instance = small(encoder=Encoder(5), heads=[nn.Linear(7, 1) for _ in range(4)])
    assert instance.fit(X, Y).predict(X).shape == (120, 4)


@pytest.mark.parametrize(
    "params",
    [
        dict(optimizer="adam"),
        dict(affinity="tag"),
    ],
)
def test_other_settings_record_finite_affinity(params, make_task_data):
    X, Y = make_task_data()
    ext = small(**params).fit(X, Y)
    assert ext.affinity_.shape == (4, 4) and np.isfinite(ext.affinity_).all()


def test_early_stopping_and_convergence_warning(make_task_data):
    X, Y = make_task_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ext = small(
            early_stopping=True, max_epochs=500, n_iter_no_change=3, tol=1e-2
        ).fit(X, Y)
    assert ext.n_iter_ < 500
    assert len(ext.validation_scores_) == ext.n_iter_
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        small(early_stopping=True, max_epochs=2).fit(X, Y)


def test_warns_when_early_stopping_ends_before_any_recorded_step(make_task_data):
    X, Y = make_task_data()
    ext = small(
        early_stopping=True,
        max_epochs=500,
        n_iter_no_change=1,
        tol=1e9,
        affinity_every=1000,
    )
    with pytest.warns(UserWarning, match="before the first recorded step"):
        ext.fit(X, Y)
    assert ext.n_recorded_steps_ == 0 and np.isnan(ext.affinity_).all()


def test_verbose_shows_progress(capsys, make_task_data):
    X, Y = make_task_data()
    small(verbose=True).fit(X, Y)
    assert "epochs" in capsys.readouterr().err


def test_works_in_a_pipeline(make_task_data):
    X, Y = make_task_data()
    pipe = make_pipeline(StandardScaler(), small(hidden_layer_sizes=(4,)))
    assert pipe.fit_transform(X, Y).shape == (120, 4)


# ---------------------------------------------------------------- errors
def test_error_three_dimensional_y(make_task_data):
    X, Y = make_task_data()
    with pytest.raises(ValueError, match="Y has 3 dimensions"):
        small().fit(X, Y[:, :, None])


def test_error_all_nan_task_column(make_task_data):
    X, Y = make_task_data()
    Y[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"task column\(s\) \[2\].*all NaN"):
        small().fit(X, Y)


def test_error_non_finite_loss_names_task_and_epoch(make_task_data):
    X, Y = make_task_data()
    Y[:, 1] *= 1e6
    with pytest.raises(ValueError, match=r"task 1 \(.*\).* epoch 1"):
        small(learning_rate=1.0).fit(X, Y)


@pytest.mark.parametrize(
    "encoder, message",
    [
        (lambda n: nn.Flatten(start_dim=0), "shape \\(40,\\) for a batch of 8"),
        (lambda n: nn.Unflatten(1, (n, 1)), "shape \\(8, 5, 1\\)"),
    ],
)
def test_error_encoder_output_shape(encoder, message, make_task_data):
    X, Y = make_task_data()
    with pytest.raises(ValueError, match="encoder returned a tensor of " + message):
        small(encoder=encoder).fit(X, Y)


def test_error_heads_and_task_types(make_task_data):
    X, Y = make_task_data()
    with pytest.raises(ValueError, match="heads lists 2 modules but Y has 4"):
        small(heads=[nn.Linear(16, 1), nn.Linear(16, 1)]).fit(X, Y)
    with pytest.raises(ValueError, match="head of task 0 returned a tensor of shape"):
        small(heads=lambda d: nn.Linear(d, 2)).fit(X, Y)
    with pytest.raises(TypeError, match="heads is a single module"):
        small(heads=nn.Linear(16, 1)).fit(X, Y)
    with pytest.raises(ValueError, match="task 0 is binary but its labels"):
        small(task_types="binary").fit(X, Y)
    with pytest.raises(ValueError, match="task_types lists 2 types"):
        small(task_types=["binary", "regression"]).fit(X, Y)


def test_error_bad_hidden_layer_sizes(make_task_data):
    X, Y = make_task_data()
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        small(hidden_layer_sizes=(8, 0)).fit(X, Y)


def test_auto_device_is_cpu_without_cuda(make_task_data):
    X, Y = make_task_data()
    ext = TorchAffinityExtractor(max_epochs=1, random_state=0).fit(X, Y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert ext.device_.type == expected


def test_error_cuda_requested_without_cuda(make_task_data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    X, Y = make_task_data()
    with pytest.raises(ValueError, match="CUDA is not available"):
        small(device="cuda").fit(X, Y)


def test_integer_hidden_layer_sizes_is_one_layer(make_task_data):
    X, Y = make_task_data()
    assert small(hidden_layer_sizes=5).fit(X, Y).transform(X).shape == (120, 5)
