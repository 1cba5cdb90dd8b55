"""The hook-based training loop trains and records exactly as the loop before it.

``data/reference_fits.npz`` holds fits made by the code before the rewrite
(commit fb0bdcc) with ``data/make_reference_fits.py`` (its docstring gives the
command); this test refits the same cases with the current code and asks for
bit-identical affinities, loss curves and weights.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).with_name("data")
sys.path.insert(0, str(DATA))
from make_reference_fits import CASES, fit, weights  # noqa: E402

REFERENCE = np.load(DATA / "reference_fits.npz")


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_is_bit_identical_to_the_loop_before_hooks(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = fit(CASES[name])
    if f"{name}__affinity" in REFERENCE:
        np.testing.assert_array_equal(ext.affinity_, REFERENCE[f"{name}__affinity"])
    else:
        assert ext.affinity_ is None
    np.testing.assert_array_equal(
        np.asarray(ext.loss_curve_), REFERENCE[f"{name}__loss_curve"]
    )
    np.testing.assert_array_equal(
        weights(ext).detach().numpy(), REFERENCE[f"{name}__weights"]
    )
