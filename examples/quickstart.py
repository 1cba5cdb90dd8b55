"""The whole ETAP workflow on the built-in digits data (10 one-vs-rest tasks).

1. Train one multi-task model on all tasks and record the task affinities.
2. Measure the true multi-task gain of a few random groups.
3. Fit ETAP (tuned by cross-validation over groups) on those gains.
4. Choose the best task groups under a budget.

The same job as the `etap run` command, written out in Python; offline:

    python examples/quickstart.py [--groups 8] [--budget 3] [--seed 0]
"""

import argparse
import time

import numpy as np
import torch

from sklearn_etap import (
    GroupSelector,
    TorchAffinityExtractor,
    make_etap_search,
    measure_gains,
    sample_groups,
)
from sklearn_etap.datasets import load_digits_tasks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=8, help="groups to measure")
    parser.add_argument("--budget", type=int, default=3, help="groups to choose")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=-1, help="parallel trainings")
    args = parser.parse_args(argv)
    # Small models gain nothing from intra-op threads, and on a busy CPU the
    # threads wait on each other (seen here: a 2 s fit took 120 s with two).
    torch.set_num_threads(1)
    start = time.perf_counter()

    data = load_digits_tasks()
    names = data.task_names
    extractor = TorchAffinityExtractor(random_state=args.seed)
    extractor.fit(data.X_train, data.Y_train)
    A = extractor.affinity_
    print(
        f"affinity matrix of {extractor.n_tasks_} tasks recorded "
        f"({time.perf_counter() - start:.1f} s)"
    )

    groups = sample_groups(extractor.n_tasks_, args.groups, random_state=args.seed)
    train = measure_gains(
        extractor,
        data.X_train,
        data.Y_train,
        groups,
        X_test=data.X_test,
        Y_test=data.Y_test,
        n_jobs=args.jobs,
        random_state=args.seed,
    )
    print(
        f"measured the gains of {len(groups)} groups "
        f"({time.perf_counter() - start:.1f} s)"
    )

    search = make_etap_search(A, n_train_groups=len(groups))
    search.fit(train.X, train.y, groups=train.row_group)
    selector = GroupSelector(search.best_estimator_, n_groups=args.budget)
    selector.fit(train.X, train.y)

    print(
        f"\nbest {args.budget} groups (predicted total gain "
        f"{selector.predicted_gain_:.3f}):"
    )
    for group in selector.groups_:
        print("  " + " + ".join(names[t] for t in group))
    measured = {g: i for i, g in enumerate(train.groups)}
    in_sample = [g for g in selector.groups_ if g in measured]
    for group in in_sample:
        rows = train.row_group == measured[group]
        print(f"  measured mean gain of {group}: {np.mean(train.y[rows]):.3f}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
