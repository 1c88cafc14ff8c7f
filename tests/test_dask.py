"""Scale-out on dask: a LocalCluster of two worker processes runs a grid search through
joblib's dask backend, and dask-ml's Incremental streams a chunked array through
partial_fit. Skipped when the ``dask`` extra is not installed."""

import re
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")
da = pytest.importorskip("dask.array")
wrappers = pytest.importorskip("dask_ml.wrappers")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import mlp  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # any free port for the scheduler's web server: None still means 8787, which another
    # cluster on the machine may hold (a warning, hence an error here)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def test_grid_search_runs_on_the_cluster_through_joblibs_dask_backend(client, iris):
    X, y = iris
    grid = {"alpha": [0.1, 1.0]}

    def search():
        return GridSearchCV(mlp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs",
                                              max_iter=300, random_state=0), grid, cv=3)

    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        on_cluster = search().fit(X, y)
    workers = set(client.scheduler_info()["workers"])
    ran_on = {task["worker"] for task in stream.data}
    assert ran_on
    assert ran_on <= workers
    assert len(stream.data) >= 2 * 3  # every candidate on every fold went to the cluster

    with threadpool_limits(1):  # as on dask's workers; also far faster for tiny matrices
        local = search().fit(X, y)
    # the same fits; rounding may differ from a worker's, so allow one test sample of a fold
    # (50 samples) to change its side, no more
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], atol=1 / 50 + 1e-12)
    assert on_cluster.best_score_ >= 0.9


def test_incremental_streams_a_chunked_dask_array_through_partial_fit(client, iris):
    X, y = iris
    order = np.random.default_rng(0).permutation(len(y))  # every block holds every class
    X, y = X[order], y[order]
    dX, dy = da.from_array(X, chunks=(25, 4)), da.from_array(y, chunks=25)

    def estimator():
        return mlp.MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.05,
                                 random_state=0)

    incremental = wrappers.Incremental(estimator(), shuffle_blocks=False)
    with distributed.get_task_stream(client) as stream:
        incremental.fit(dX, dy, classes=[0, 1, 2])
    assert {task["worker"] for task in stream.data} <= set(client.scheduler_info()["workers"])
    streamed = incremental.estimator_
    assert streamed.t_ == 150  # six blocks of 25 samples, each seen once

    # the same six partial_fit calls, here: the same weights (six Adam steps; rounding only)
    local = estimator()
    with threadpool_limits(1):
        for start in range(0, 150, 25):
            local.partial_fit(X[start:start + 25], y[start:start + 25], classes=[0, 1, 2])
    for a, b in zip(streamed.coefs_ + streamed.intercepts_,
                    local.coefs_ + local.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # and the wrapper predicts block by block with it
    np.testing.assert_array_equal(incremental.predict(dX).compute(), local.predict(X))


def test_the_readme_recipe_runs_on_the_cluster(client, iris):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### On a dask cluster", 1)[1]
    block = re.search(r"```py\n(.*?)```", section, re.S).group(1)
    start_cluster = "client = Client(LocalCluster(n_workers=2))"
    assert start_cluster in block
    # the recipe as written, on this module's cluster instead of a second one
    namespace = {"X": iris[0], "y": iris[1], "existing": client}
    exec(compile(block.replace(start_cluster, "client = existing"), "README.md", "exec"),
         namespace)
    assert namespace["search"].best_score_ >= 0.9
    assert namespace["stream"].estimator_.t_ == len(iris[1])
