"""Record the task affinities of every exhaustive gain table, once, and store them.

For each ``benchmarks/data/gains_<table>.csv`` this fits one
``TorchAffinityExtractor`` with the settings the table was measured with (read
from its ``.json`` sidecar; ``random_state=0``) on the table's training data,
once per recording variant, and writes ``benchmarks/data/affinity_<table>.npz``:

- ``etap``: ETAP's score as the extractor records it by default (the exact
  score on one step in 20, ``affinity_control_variate=False``);
- ``etap_control_variate``: the same plus the control variate (the shared
  step's score at every step, corrected on the sampled steps; the default
  before issue 21);
- ``etap_every50``: sampling alone, one step in 50 (cheaper on a wide model);
- ``etap_every1``: ETAP's score at every step;
- ``etap_nomomentum``: every step, ``eta g_i . g_j / L_j`` with the
  representation's gradients, no momentum or optimizer-state term
  (``research_recorders.RepresentationScoreRecorder``; the extractor's
  ``affinity_gradient="representation"`` before issue 24, which trained
  through its own backward pass: a re-recording differs from the stored
  arrays by float rounding);
- ``tag``: TAG's lookahead score at the default interval;

plus ``<variant>_seconds`` (wall time of the fit, on a shared machine). The
gain-prediction benchmarks read these files instead of refitting.

Usage::

    nice -n 10 python benchmarks/record_affinities.py            # missing files only
    nice -n 10 python benchmarks/record_affinities.py --force digits_8tasks
"""

import argparse
import ast
import inspect
import json
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from research_recorders import representation_affinity

from sklearn_etap import TorchAffinityExtractor, datasets

DATA = Path(__file__).resolve().parent / "data"
EVERY = TorchAffinityExtractor().affinity_every
VARIANTS = {
    "etap": {
        "affinity": "etap",
        "affinity_every": EVERY,
        "affinity_control_variate": False,
    },
    "etap_control_variate": {
        "affinity": "etap",
        "affinity_every": EVERY,
        "affinity_control_variate": True,
    },
    "etap_every50": {
        "affinity": "etap",
        "affinity_every": 50,
        "affinity_control_variate": False,
    },
    "etap_every1": {"affinity": "etap", "affinity_every": 1},
    "etap_nomomentum": {"affinity_every": 1},  # recorded by a callback: record()
    "tag": {"affinity": "tag", "affinity_every": EVERY},
}


def table_metadata(name):
    return json.loads((DATA / f"gains_{name}.json").read_text())["metadata"]


def table_data(metadata):
    """The loader call the table was measured on, e.g. ``load_mhc1(n_tasks=10)``."""
    call = ast.parse(metadata["loader"], mode="eval").body
    loader = getattr(datasets, call.func.attr)  # sklearn_etap.datasets.<loader>
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    seed = inspect.signature(loader).parameters.get("random_state")
    if seed is not None and seed.default is None:
        # A generator called without a seed (make_task_clusters() in
        # gains_clusters_8tasks) drew data that cannot be drawn again: record
        # on the draw of random_state=0 from the same generator.
        kwargs.setdefault("random_state", 0)
    return loader(**kwargs)


def table_extractor(metadata, **overrides):
    params = {}
    for key, value in metadata["extractor_params"].items():
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):  # non-literal values keep the default
            pass
    params.update(affinity="etap", random_state=0, device="cpu", verbose=False)
    params.update(overrides)
    valid = TorchAffinityExtractor().get_params()
    return TorchAffinityExtractor(**{k: v for k, v in params.items() if k in valid})


def record(name, variant):
    torch.set_num_threads(1)
    metadata = table_metadata(name)
    data = table_data(metadata)
    start = time.perf_counter()
    ext = table_extractor(metadata, **VARIANTS[variant])
    if variant == "etap_nomomentum":
        affinity, _ = representation_affinity(
            data.X_train, data.Y_train, **ext.get_params()
        )
    else:
        affinity = ext.fit(data.X_train, data.Y_train).affinity_
    return name, variant, affinity, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="table names (default: all)")
    parser.add_argument("--force", action="store_true", help="re-record existing")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    names = args.tables or sorted(
        p.stem.removeprefix("gains_") for p in DATA.glob("gains_*.csv")
    )
    todo = [
        (name, variant)
        for name in names
        if args.force or not (DATA / f"affinity_{name}.npz").exists()
        for variant in VARIANTS
    ]
    results = Parallel(n_jobs=args.n_jobs, verbose=10)(
        delayed(record)(name, variant) for name, variant in todo
    )
    for name in {name for name, _ in todo}:
        arrays = {}
        for table, variant, affinity, seconds in results:
            if table == name:
                arrays[variant] = affinity
                arrays[f"{variant}_seconds"] = np.array(seconds)
        np.savez(DATA / f"affinity_{name}.npz", **arrays)
        print(
            f"{name}: "
            + ", ".join(f"{v} {float(arrays[f'{v}_seconds']):.0f} s" for v in VARIANTS)
        )


if __name__ == "__main__":
    main()
