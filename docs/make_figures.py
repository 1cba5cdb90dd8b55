"""Make the user guide's figures (committed under docs/images/) and print their figures.

The README's workflow on the built-in digits data, then the two Displays:

    python docs/make_figures.py

Writes docs/images/affinity_digits.png and docs/images/gains_digits.png, and
prints the numbers the user guide quotes.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GroupKFold, cross_val_predict  # noqa: E402

from sklearn_etap import (  # noqa: E402
    AffinityMatrixDisplay,
    GainPredictionDisplay,
    GroupSelector,
    TorchAffinityExtractor,
    make_etap_search,
    measure_gains,
    sample_groups,
)
from sklearn_etap.datasets import load_digits_tasks  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"


def main():
    torch.set_num_threads(1)
    data = load_digits_tasks()
    ext = TorchAffinityExtractor(random_state=0).fit(data.X_train, data.Y_train)
    groups = sample_groups(ext.n_tasks_, 8, random_state=0)
    train = measure_gains(
        ext,
        data.X_train,
        data.Y_train,
        groups,
        X_test=data.X_test,
        Y_test=data.Y_test,
        n_jobs=-1,
        random_state=0,
        progress=False,
        task_names=data.task_names,
    )
    search = make_etap_search(ext.affinity_, n_train_groups=len(groups))
    search.fit(train.X, train.y, groups=train.row_group)
    out_of_fold = cross_val_predict(
        clone(search.best_estimator_),
        train.X,
        train.y,
        groups=train.row_group,
        cv=GroupKFold(5),
    )
    sel = GroupSelector(
        search.best_estimator_, n_groups=3, task_names=data.task_names
    ).fit(train.X, train.y)

    disp = AffinityMatrixDisplay.from_estimator(ext, task_names=data.task_names)
    disp.figure_.tight_layout()
    disp.figure_.savefig(IMAGES / "affinity_digits.png", dpi=80)
    disp = GainPredictionDisplay.from_predictions(
        train.y, out_of_fold, title="digits: 8 groups, predicted out of fold"
    )
    disp.figure_.tight_layout()
    disp.figure_.savefig(IMAGES / "gains_digits.png", dpi=80)

    off_diagonal = ext.affinity_[~np.eye(ext.n_tasks_, dtype=bool)]
    print(
        f"off-diagonal affinity: min {off_diagonal.min():.4f}, "
        f"max {off_diagonal.max():.4f}, "
        f"share positive {np.mean(off_diagonal > 0):.2f}"
    )
    print(
        f"measured rows: {len(train.y)}, gain range "
        f"{train.y.min():.2f} .. {train.y.max():.2f}"
    )
    tasks = np.flatnonzero(np.isfinite(train.stl_loss))
    print(
        f"single-task test log-loss {train.stl_loss[tasks].min():.3f} .. "
        f"{train.stl_loss[tasks].max():.3f}, trivial (base rate) "
        f"{train.trivial_loss[tasks].min():.3f} .. "
        f"{train.trivial_loss[tasks].max():.3f}, no better than trivial: "
        f"{int(train.stl_no_better_than_trivial.sum())} tasks, "
        f"{int(train.mtl_no_better_than_trivial.sum())} of {len(train.y)} rows"
    )
    print(f"out-of-fold Pearson r: {disp.pearson_r_:.2f}")
    print(f"chosen groups: {sel.group_names_}")
    print(f"predicted total gain: {sel.predicted_gain_:.3f}")


if __name__ == "__main__":
    main()
