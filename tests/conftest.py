import hashlib
import os

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import mlp
from mlp.datasets import load_iris

# One BLAS thread, in this process and in those the tests start, unless the caller chose: the
# matrices here are small, where a second thread only waits for a core on a busy machine
# (several times slower), and a fixed thread count is one summation order fewer to differ in.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if not any(name in os.environ for name in _BLAS_THREADS):
    for name in _BLAS_THREADS:
        os.environ[name] = "1"
    threadpool_limits(1)



def pytest_make_parametrize_id(config, val, argname):
    """A short id for long text or bytes given as a parameter.

    Some pytest versions name a test after its parameters' values, and pytest puts the name in
    PYTEST_CURRENT_TEST, which every subprocess inherits: a test given 3 MB of CSV then cannot
    start a process at all (the kernel refuses an environment string over 128 KiB, E2BIG).
    """
    if isinstance(val, (str, bytes)) and len(val) > 40:
        data = val.encode() if isinstance(val, str) else val
        return f"{argname}-{len(val)}-{hashlib.sha256(data).hexdigest()[:8]}"
    return None

@pytest.fixture(scope="session")
def iris():
    """Standardised Iris features (150, 4) float64 and integer labels (150,)."""
    data = load_iris()
    return StandardScaler().fit_transform(data.X), data.y


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def make_net():
    """Build an n_in-n_hidden-n_out float64 network with the named hidden activation."""

    def build(activation, *, n_in=4, n_hidden=16, n_out=3, seed=0):
        rng = np.random.default_rng(seed)
        return mlp.Sequential(
            mlp.Linear(n_in, n_hidden, rng=rng),
            mlp.get_activation(activation),
            mlp.Linear(n_hidden, n_out, rng=rng),
        )

    return build
