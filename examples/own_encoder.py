"""ETAP with your own PyTorch encoder: a small CNN on the 8x8 digit images.

The extractor accepts any ``torch.nn.Module`` that maps a float tensor of
shape (batch, n_features) to one tensor of shape (batch, n_representation).
Passing a callable (here the class itself) builds a fresh module, seeded, in
every fit, so each training of ``measure_gains`` starts from its own seed.

    python examples/own_encoder.py
"""

import torch
from torch import nn

from sklearn_etap import (
    GroupSelector,
    TorchAffinityExtractor,
    make_etap_search,
    measure_gains,
    sample_groups,
)
from sklearn_etap.datasets import load_digits_tasks


class DigitCNN(nn.Module):
    """(batch, 64) pixels -> (batch, 16) representation."""

    def __init__(self, n_features):
        super().__init__()
        assert n_features == 64, "8x8 images"
        self.conv = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Flatten(),
            nn.Linear(8 * 4 * 4, 16),
            nn.ReLU(),
        )

    def forward(self, x):
        return self.conv(x.reshape(-1, 1, 8, 8))


def main():
    torch.set_num_threads(1)
    data = load_digits_tasks(n_tasks=5, max_samples=600)
    ext = TorchAffinityExtractor(
        encoder=DigitCNN,  # called as DigitCNN(n_features) in every fit
        heads=lambda n_repr: nn.Linear(n_repr, 1),  # one head per task
        max_epochs=10,
        random_state=0,
    )
    ext.fit(data.X_train, data.Y_train)
    groups = sample_groups(ext.n_tasks_, 6, random_state=0)
    train = measure_gains(
        ext,
        data.X_train,
        data.Y_train,
        groups,
        data.X_test,
        data.Y_test,
        random_state=0,
        task_names=data.task_names,
    )
    search = make_etap_search(ext.affinity_, n_train_groups=len(groups))
    search.fit(train.X, train.y, groups=train.row_group)
    sel = GroupSelector(
        search.best_estimator_, n_groups=2, task_names=data.task_names
    ).fit(train.X, train.y)
    print("representation:", ext.transform(data.X_test).shape)
    print("chosen groups:", sel.group_names_)


if __name__ == "__main__":
    main()
