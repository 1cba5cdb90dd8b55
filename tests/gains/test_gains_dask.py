"""measure_gains on a real Dask cluster (worker processes on loopback)."""

import re

import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster, get_task_stream

from sklearn_etap import TorchAffinityExtractor, measure_gains
from sklearn_etap._gains import runner as _gains


def trainings_in(key):
    """Number of trainings in a joblib batch task, from its Dask key."""
    match = re.fullmatch(r"batch_of__training_job_(\d+)_calls-\w+", str(key))
    assert match, f"unexpected Dask task {key!r}"
    return int(match.group(1))


def must_not_train(*args):
    raise AssertionError("a cached training was run again")


@pytest.mark.slow
def test_dask_backend_gives_the_serial_gains(tmp_path, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    Y = X[:, :3] + 0.3 * rng.normal(size=(50, 3))
    Y[rng.uniform(size=Y.shape) < 0.2] = np.nan
    ext = TorchAffinityExtractor(
        hidden_layer_sizes=(8,), max_epochs=5, batch_size=16, device="cpu"
    )
    args = (ext, X[:30], Y[:30], [(0, 1), (0, 1, 2)], X[30:], Y[30:])
    n_trainings = 2 * (3 + 2)  # 2 seeds x (3 STL models + 2 groups)

    serial = measure_gains(*args, n_seeds=2, random_state=0, progress=False)

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        with get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
            on_dask = measure_gains(
                *args,
                n_seeds=2,
                random_state=0,
                cache_dir=tmp_path,
                progress=False,
            )
        ran_on = {task["worker"] for task in stream.data}
        workers = set(client.scheduler_info()["workers"])

    # Every training ran as a Dask task on the cluster's worker processes.
    assert sum(trainings_in(task["key"]) for task in stream.data) == n_trainings
    assert ran_on and ran_on <= workers
    np.testing.assert_array_equal(on_dask.seeds, serial.seeds)
    np.testing.assert_array_equal(on_dask.stl_loss_per_seed, serial.stl_loss_per_seed)
    np.testing.assert_array_equal(on_dask.mtl_loss_per_seed, serial.mtl_loss_per_seed)
    np.testing.assert_array_equal(on_dask.y, serial.y)
    # The workers stored every training in the cache: a rerun trains nothing.
    monkeypatch.setattr(_gains, "_fit_and_score", must_not_train)
    again = measure_gains(
        *args, n_seeds=2, random_state=0, cache_dir=tmp_path, progress=False
    )
    np.testing.assert_array_equal(again.mtl_loss_per_seed, serial.mtl_loss_per_seed)
