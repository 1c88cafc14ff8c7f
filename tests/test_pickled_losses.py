"""A pickled or copied loss, and a pickled fitted estimator, hold nothing of the last batch:
a loss's cache (the outputs and targets its backward needs) and its batch weights stay out."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp import losses

K = 3


def _batch(name, N, rng):
    """(loss, output, y) of N rows for the loss class ``name``."""
    output = rng.normal(size=(N, K))
    if name in ("MSELoss",):
        return losses.MSELoss(), output, rng.normal(size=(N, K))
    if name == "PoissonLoss":
        return losses.PoissonLoss(), output, rng.poisson(1.0, size=(N, K)).astype(float)
    if name == "BCEWithLogitsLoss":
        return losses.BCEWithLogitsLoss(), output, rng.integers(0, 2, size=(N, K)).astype(float)
    if name == "NLLLoss":
        P = np.exp(output) / np.exp(output).sum(axis=1, keepdims=True)
        return losses.NLLLoss(), P, rng.integers(0, K, size=N)
    return losses.SoftmaxCrossEntropyLoss(), output, rng.integers(0, K, size=N)


NAMES = ["MSELoss", "PoissonLoss", "BCEWithLogitsLoss", "SoftmaxCrossEntropyLoss", "NLLLoss"]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_a_pickled_loss_holds_nothing_of_its_last_batch(name, weighted):
    rng = np.random.default_rng(0)
    sizes = []
    for N in (3, 3000):
        loss, output, y = _batch(name, N, rng)
        weights = rng.uniform(0.5, 1.5, size=N) if weighted else None
        loss.forward(output, y, weights)
        loss.backward()
        sizes.append(len(pickle.dumps(loss)))
        for copied in (pickle.loads(pickle.dumps(loss)), copy.deepcopy(loss)):
            assert copied._cache is None
            assert copied._scale is None
            with pytest.raises(RuntimeError, match="backward called before forward"):
                copied.backward()
            # and it still works as a loss: the same value on the same batch
            assert copied.forward(output, y, weights) == loss.forward(output, y, weights)
        assert loss._cache is not None  # the original keeps its cache for its own backward
        loss.clear_cache()
        with pytest.raises(RuntimeError, match="backward called before forward"):
            loss.backward()
    assert sizes[0] == sizes[1], sizes


@pytest.mark.parametrize("cls", [mlp.MLPClassifier, mlp.MLPRegressor])
def test_an_estimators_pickle_does_not_grow_with_the_batch_size(cls):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = rng.integers(0, 10, 2000) if cls is mlp.MLPClassifier else rng.normal(size=2000)
    sizes = {}
    for batch_size in (20, 2000):
        est = cls(hidden_layer_sizes=(8,), max_iter=2, batch_size=batch_size, random_state=0)
        with pytest.warns(ConvergenceWarning):  # not converged in 2 epochs
            est.fit(X, y)
        assert est._loss._cache is None  # a fitted estimator keeps no batch in memory either
        sizes[batch_size] = len(pickle.dumps(est))
    # a 2000-row batch of 10 float64 outputs alone would be 160 kB
    assert abs(sizes[20] - sizes[2000]) < 64, sizes
    assert sizes[2000] < 20_000, sizes
