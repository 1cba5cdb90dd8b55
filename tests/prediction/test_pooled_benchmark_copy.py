"""The benchmarks' copy of the deprecated pooled residual stage is faithful."""

import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_etap import ResidualRidge, encode_groups, sample_groups

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from pooled_residual import PooledResidualRidge  # noqa: E402


@pytest.mark.parametrize("seed", [0])
def test_copy_predicts_what_the_deprecated_encoding_predicts(seed):
    rng = np.random.RandomState(seed)
    P = encode_groups(sample_groups(6, 14, random_state=seed), 6)
    level, W = rng.normal(size=6), rng.normal(scale=0.3, size=(6, 6))
    target = P[:, 6:].argmax(axis=1)
    y = level[target] + np.einsum("rs,sr->r", P[:, :6], W[:, target])
    y += 0.3 * rng.normal(size=len(y))
    with pytest.warns(FutureWarning, match="pooled"):
        library = ResidualRidge(encoding="pooled").fit(P, y)
    copy = PooledResidualRidge().fit(P, y)
    assert (copy.alpha_, copy.task_penalty_, copy.group_size_) == (
        library.alpha_,
        library.task_penalty_,
        library.group_size_,
    )
    new = encode_groups(sample_groups(6, 10, random_state=seed + 50), 6)
    np.testing.assert_allclose(copy.predict(new), library.predict(new), atol=1e-10)
    with pytest.raises(ValueError, match="encode_groups"):
        copy.predict(rng.normal(size=(3, 12)))
