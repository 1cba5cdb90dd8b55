"""The CNN workload: the example's ResNet, the benchmarks' plain loop, gpu_check."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples")]

import cnn_workload  # noqa: E402
import gpu_check  # noqa: E402
from shapes_cnn import ShapesResNet  # noqa: E402

from sklearn_etap import TorchAffinityExtractor  # noqa: E402
from sklearn_etap.datasets import make_shapes  # noqa: E402


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(160, n_tasks=4, image_size=16, random_state=0)


def test_resnet_maps_flat_images_to_its_representation():
    encoder = ShapesResNet(3 * 16 * 16, width=4)
    out = encoder(torch.zeros(5, 3 * 16 * 16))
    assert out.shape == (5, encoder.n_representation) == (5, 16)
    with pytest.raises(ValueError, match="3 \\* side \\* side"):
        ShapesResNet(100)


def test_resnet_is_the_extractors_encoder(shapes, tmp_path):
    ext = TorchAffinityExtractor(
        encoder=ShapesResNet, batch_size=32, max_epochs=1, device="cpu", random_state=0
    )
    ext.fit(shapes.X_train, shapes.Y_train)
    assert ext.affinity_.shape == (4, 4) and np.isfinite(ext.affinity_).all()
    assert ext.transform(shapes.X_test).shape == (len(shapes.X_test), 64)
    # a memory-mapped file gives the same fit as the same rows in memory
    mapped = make_shapes(
        160, n_tasks=4, image_size=16, random_state=0, path=tmp_path / "x.npy"
    )
    again = TorchAffinityExtractor(**ext.get_params()).fit(
        mapped.X_train, mapped.Y_train
    )
    np.testing.assert_array_equal(again.affinity_, ext.affinity_)


def test_plain_loop_trains_the_same_model(shapes):
    X, Y = shapes.X_train, shapes.Y_train
    model = cnn_workload.plain_fit(X, Y, "cpu", max_epochs=1)
    assert isinstance(model[0], ShapesResNet)
    assert model(torch.as_tensor(X[:3])).shape == (3, 4)
    # same seed, same weights: the loop is deterministic on the CPU
    again = cnn_workload.plain_fit(X, Y, "cpu", max_epochs=1)
    for a, b in zip(model.parameters(), again.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    ext = cnn_workload.extractor("cpu", max_epochs=1)
    assert ext.batch_size == cnn_workload.BATCH_SIZE and ext.optimizer == "sgd"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only skip")
def test_gpu_check_skips_cleanly_without_cuda(capsys, tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("gpu_check: skipped, no CUDA device")
    assert torch.__version__ in printed
    assert not out.exists()
    assert gpu_check.cuda_missing("cuda:0") is not None
    assert gpu_check.cuda_missing("cpu") is None


@pytest.mark.slow
def test_gpu_check_measures_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    argv = ["--device", "cpu", "--n-samples", "80", "--epochs", "1", "--repeats", "1"]
    assert gpu_check.main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["peak_cuda_memory_mb"] == {}
    assert set(result["samples_per_s"]) == {
        "plain_loop",
        "affinity_none",
        "default",
        "every_step",
    }
    assert result["affinity_finite"] == {"default": True, "every_step": True}
    assert result["command"].endswith("--repeats 1 --out " + str(out))


@pytest.mark.slow
def test_the_example_runs_end_to_end():
    import shapes_cnn

    sel = shapes_cnn.main(n_samples=300, n_tasks=4, max_epochs=1)
    covered = {task for group in sel.group_names_ for task in group}
    assert covered == {"ellipse", "red", "striped", "large"}
    assert all(len(group) <= 3 for group in sel.groups_)
