"""``TorchAffinityExtractor.initialize_module``: the untrained model ``fit``
starts from, built without training."""

import copy

import numpy as np
import pytest
import torch
from small_extractor import small
from torch import nn

from sklearn_etap.callbacks import TrainingCallback


class FirstWeights(TrainingCallback):
    """The module's weights when the training begins (before any step)."""

    def on_train_begin(self, loop):
        self.weights = {
            k: v.detach().clone() for k, v in loop.module.state_dict().items()
        }


def fit_start(extractor, X, Y):
    extractor.set_params(callbacks=[FirstWeights()]).fit(X, Y)
    return extractor.callbacks_[0].weights


def assert_same_weights(module, weights):
    state = module.state_dict()
    assert state.keys() == weights.keys()
    for name, value in weights.items():
        assert torch.equal(state[name], value), name


class DropoutEncoder(nn.Module):
    """A user encoder whose sizes come from the first batch (LazyLinear) and
    that draws from torch's RNG in training mode (dropout)."""

    def __init__(self, n_features):
        super().__init__()
        self.layers = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.Dropout(0.2))

    def forward(self, x):
        return self.layers(x)


def data(n=80, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 4))
    Y = np.c_[X[:, 0] + rng.normal(size=n), X[:, 1] > 0, rng.randint(3, size=n)]
    return X, Y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"early_stopping": True, "hidden_layer_sizes": (5,)},
        {"encoder": DropoutEncoder},
        {"random_state": 7, "task_types": ["regression", "binary", "multiclass"]},
    ],
    ids=["default", "early-stopping", "user-encoder", "multiclass"],
)
def test_the_module_has_the_weights_fit_starts_from(params):
    X, Y = data()
    initialized = small(**params).initialize_module(X, Y)
    assert_same_weights(initialized.module_, fit_start(small(**params), X, Y))
    # what fit learns before training is set; what training gives is not
    fitted = small(**params).fit(X, Y)
    for name in ("n_tasks_", "task_types_", "n_outputs_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(initialized, name), getattr(fitted, name))
    assert not hasattr(initialized, "affinity_")
    assert not hasattr(initialized, "loss_curve_")


def test_a_random_state_instance_is_not_drawn_from():
    X, Y = data()
    rng = np.random.RandomState(3)
    before = copy.deepcopy(rng).randint(1000, size=5)
    extractor = small(random_state=rng)
    initialized = extractor.initialize_module(X, Y).module_
    np.testing.assert_array_equal(copy.deepcopy(rng).randint(1000, size=5), before)
    # so the fit that follows starts from the same weights
    assert_same_weights(initialized, fit_start(extractor, X, Y))


def test_the_seed_decides_the_weights():
    X, Y = data()
    a = small(random_state=0).initialize_module(X, Y).module_.state_dict()
    b = small(random_state=1).initialize_module(X, Y).module_.state_dict()
    assert not torch.equal(a["encoder.0.weight"], b["encoder.0.weight"])


def test_bad_parameters_and_inputs_are_refused_as_fit_refuses_them():
    X, Y = data()
    with pytest.raises(ValueError, match="learning_rate"):
        small(learning_rate=-1.0).initialize_module(X, Y)
    with pytest.raises(ValueError, match="X has 80 samples but Y has 10"):
        small().initialize_module(X, Y[:10])
