"""Your own model and data: a small ResNet on a memory-mapped image file.

The whole ETAP workflow on images: ``make_shapes`` writes 40 binary
attributes of procedurally drawn shapes (a CelebA-shaped workload) to a
memory-mapped ``.npy`` file, a small ResNet-style CNN is the shared encoder,
and the extractor, the gain runner, ETAP and the group selector run on it
unchanged. The benchmarks (``benchmarks/bench_cnn.py``,
``benchmarks/gpu_check.py``) time this same model.

    python examples/shapes_cnn.py
"""

import math
import tempfile
from pathlib import Path

import torch
from torch import nn

from sklearn_etap import (
    GroupSelector,
    TorchAffinityExtractor,
    make_etap_search,
    measure_gains,
    sample_groups,
)
from sklearn_etap.datasets import make_shapes


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to a (projected) shortcut."""

    def __init__(self, n_in, n_out, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(),
            nn.Conv2d(n_out, n_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(n_out),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or n_in != n_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False),
                nn.BatchNorm2d(n_out),
            )

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class ShapesResNet(nn.Module):
    """(batch, 3 * side * side) pixels -> (batch, 4 * width) representation.

    The extractor hands the encoder flat rows, so ``forward`` reshapes them to
    channels-first images. A strided stem and three residual stages (width,
    2 width, 4 width channels; each later stage halves the resolution), then
    global average pooling: a ResNet in miniature, cheap enough for a CPU.

    Parameters
    ----------
    n_features : int
        ``3 * side * side``; the extractor passes it when it builds the model.
    width : int, default=16
        Channels of the first stage.
    """

    def __init__(self, n_features, width=16):
        super().__init__()
        side = math.isqrt(n_features // 3)
        if 3 * side * side != n_features:
            raise ValueError(
                f"n_features={n_features} is not 3 * side * side: ShapesResNet "
                "expects flattened square RGB images, channels first."
            )
        self.side = side
        self.n_representation = 4 * width
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.stages = nn.Sequential(
            ResidualBlock(width, width, stride=1),
            ResidualBlock(width, 2 * width, stride=2),
            ResidualBlock(2 * width, 4 * width, stride=2),
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        images = x.reshape(-1, 3, self.side, self.side)
        return self.pool(self.stages(self.stem(images)))


def main(n_samples=8000, n_tasks=20, max_epochs=3):
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        # float32 pixels in [0, 1]: the extractor reads the rows as they are
        data = make_shapes(
            n_samples,
            n_tasks=n_tasks,
            image_size=32,
            path=Path(tmp) / "shapes.npy",
            random_state=0,
        )
        ext = TorchAffinityExtractor(
            encoder=ShapesResNet,  # called as ShapesResNet(n_features) in every fit
            batch_size=128,
            max_epochs=max_epochs,
            random_state=0,
        )
        ext.fit(data.X_train, data.Y_train)
        groups = sample_groups(ext.n_tasks_, 6, random_state=0, max_size=3)
        train = measure_gains(
            ext,
            data.X_train,
            data.Y_train,
            groups,
            data.X_test,
            data.Y_test,
            n_jobs=2,
            random_state=0,
            task_names=data.task_names,
        )
        search = make_etap_search(ext.affinity_, n_train_groups=len(groups))
        search.fit(train.X, train.y, groups=train.row_group)
        # all 2^20 groups are too many candidates: groups of up to 3 tasks;
        # the solver keeps its best grouping after 30 s (gap_ says how good)
        sel = GroupSelector(
            search.best_estimator_,
            n_groups=8,
            max_group_size=3,
            task_names=data.task_names,
            time_limit=30,
        ).fit(train.X, train.y)
        members = sorted({t for g in groups for t in g})
        learned = sum(not train.stl_no_better_than_trivial[t] for t in members)
        print(f"single-task models better than trivial: {learned} of {len(members)}")
        print("representation:", ext.transform(data.X_test[:5]).shape)
        print("chosen groups:", sel.group_names_)
        print(f"predicted total gain {sel.predicted_gain_:.3f}, gap {sel.gap_:.1%}")
        return sel


if __name__ == "__main__":
    main()
