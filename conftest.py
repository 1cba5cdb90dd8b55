import os

# scikit-learn's check_array_api_input verifies that turning on array-API
# dispatch leaves our estimators' results unchanged; it needs SciPy's array-API
# mode, which must be chosen before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# One thread per BLAS and torch call, for the tests and the doctests alike.
# The machines running the suite have 2 cores, shared: the tests' matrices are
# small, and a second BLAS thread spinning for work on a loaded machine made
# the suite several times slower (a search_groups test: 27 s of CPU for 2
# seeds with 2 OpenBLAS threads, 4 s with 1). The variables reach the
# subprocesses the tests start; threadpool_limits reaches libraries this
# process loaded already (a pytest plugin may have imported numpy first).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1)
torch.set_num_threads(1)
