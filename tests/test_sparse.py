"""Sparse input: the first Linear multiplies a scipy sparse X as it is, never densified."""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.trainer import Trainer

FORMATS = {
    "csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix, "coo_matrix": sp.coo_matrix,
    "csr_array": sp.csr_array, "csc_array": sp.csc_array, "coo_array": sp.coo_array,
}


def sparse_data(n, d, density, seed=0):
    return sp.random(n, d, density=density, format="csr", random_state=seed,
                     data_rvs=np.random.default_rng(seed).standard_normal)


def net(d, seed=0):
    rng = np.random.default_rng(seed)
    return mlp.Sequential(mlp.Linear(d, 6, rng=rng), mlp.Tanh(), mlp.Linear(6, 3, rng=rng))


def gradients(model, loss, X, y):
    value = loss.forward(model.forward(X), y)
    model.backward(loss.backward(), input_grad=False)
    return value, [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_linear_on_sparse_input_equals_dense_at_the_same_weights(fmt):
    X = sparse_data(30, 40, 0.1)
    layer = mlp.Linear(40, 5, rng=0)
    dY = np.random.default_rng(1).normal(size=(30, 5))
    Y_sparse = layer.forward(FORMATS[fmt](X))
    assert sp.issparse(layer._X), "the layer densified its input"
    layer.backward(dY, input_grad=False)
    grads_sparse = {k: v.copy() for k, v in layer.grads.items()}
    Y_dense = layer.forward(X.toarray())
    dX_dense = layer.backward(dY)
    assert isinstance(Y_sparse, np.ndarray)
    np.testing.assert_allclose(Y_sparse, Y_dense, rtol=1e-12, atol=1e-14)
    for key in ("W", "b"):
        np.testing.assert_allclose(grads_sparse[key], layer.grads[key], rtol=1e-12, atol=1e-14)
    # asked for, dX = dY·Wᵀ is the same dense matrix
    layer.forward(FORMATS[fmt](X))
    np.testing.assert_allclose(layer.backward(dY), dX_dense, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", [mlp.SoftmaxCrossEntropyLoss(), mlp.MSELoss()], ids=repr)
def test_model_gradient_on_sparse_input_equals_the_checked_dense_gradient(loss):
    X = sparse_data(25, 60, 0.05, seed=3)
    y = np.random.default_rng(2).integers(0, 3, size=25)
    if isinstance(loss, mlp.MSELoss):
        y = np.random.default_rng(2).normal(size=(25, 3))
    model = net(60)
    dense = X.toarray()
    # the dense path is right (finite differences), and the sparse path gives its numbers
    assert mlp.check_model(model, loss, dense, y).ok
    value_dense, grads_dense = gradients(model, loss, dense, y)
    value_sparse, grads_sparse = gradients(model, loss, X, y)
    assert value_sparse == pytest.approx(value_dense, rel=1e-13)
    for g_sparse, g_dense in zip(grads_sparse, grads_dense, strict=True):
        np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-11, atol=1e-15)


def test_sparse_input_to_a_layer_that_cannot_take_it_is_a_clear_error():
    X = sparse_data(4, 3, 0.5)
    with pytest.raises(TypeError, match=r"ReLU\(\) does not take sparse input .*X.toarray\(\)"):
        mlp.Sequential(mlp.ReLU(), mlp.Linear(3, 2, rng=0)).forward(X)
    with pytest.raises(ValueError, match=r"expected input with 5 features, got shape \(4, 3\)"):
        mlp.Linear(5, 2, rng=0).forward(X)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="input contains NaN or infinity"):
        net(3).forward(bad)


def test_trainer_on_sparse_rows_trains_like_the_dense_data():
    X = sparse_data(64, 50, 0.1, seed=4)
    y = np.random.default_rng(5).integers(0, 3, size=64)
    histories, weights = [], []
    for data in (X.tocsc(), X.toarray()):  # CSC is turned into CSR, whose rows slice
        model = net(50, seed=7)
        trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(),
                          mlp.SGD(model.parameters(), lr=0.1), batch_size=16, rng=0)
        histories.append(trainer.fit(data, y, epochs=2).loss)
        weights.append([p.value.copy() for p in model.parameters()])
    # two epochs of four steps: round-off from the two summation orders stays ~1e-15
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-10)
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def big_sparse(N=200_000, D=20_000, per_row=20):
    """200000 x 20000 at 0.1% density: 4M non-zeros (65 MB as CSR; 32 GB dense), binary y."""
    rng = np.random.default_rng(0)
    indices = np.sort(rng.integers(0, D, size=(N, per_row)), axis=1).ravel()
    X = sp.csr_array((rng.random(N * per_row), indices,
                      np.arange(0, N * per_row + 1, per_row)), shape=(N, D))
    return X, rng.integers(0, 2, size=N), X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def test_training_memory_follows_the_non_zeros_not_n_times_d():
    X, y, csr_bytes = big_sparse()
    N, D = X.shape
    y = y.astype(float)
    model = mlp.Sequential(mlp.Linear(D, 8, rng=0), mlp.ReLU(), mlp.Linear(8, 1, rng=1))
    trainer = Trainer(model, mlp.BCEWithLogitsLoss(), mlp.Adam(model.parameters()),
                      batch_size=5000, rng=0)
    tracemalloc.start()
    try:
        history = trainer.fit(X, y, epochs=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(history.loss[0])
    # beyond X itself, training allocates a batch and the model's gradients: far below
    # one copy of X, and a million times below the dense N×D
    assert peak < 0.25 * csr_bytes, (peak, csr_bytes)
    assert peak < 1e-3 * N * D * 8


# -- the estimators ---------------------------------------------------------------------------


def labelled(n=60, d=30, seed=0):
    X = sparse_data(n, d, 0.2, seed=seed)
    w = np.random.default_rng(seed).normal(size=d)
    return X, (X @ w > 0).astype(int)


@pytest.mark.parametrize("fmt", FORMATS)
def test_estimators_take_every_sparse_format_and_match_the_dense_numbers(fmt):
    X, y = labelled()
    Xs = FORMATS[fmt](X)
    clf = mlp.MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30,
                            random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xs, y)
    # at the same weights the sparse and the dense data give the same objective and gradient
    objective_sparse, theta = clf._lbfgs_objective(Xs, y.astype(float), None)
    objective_dense, _ = clf._lbfgs_objective(X.toarray(), y.astype(float), None)
    value_s, grad_s = objective_sparse(theta)
    value_d, grad_d = objective_dense(theta)
    assert value_s == pytest.approx(value_d, rel=1e-13)
    np.testing.assert_allclose(grad_s, grad_d, rtol=1e-11, atol=1e-15)
    # predictions of one fitted model, sparse or dense input
    np.testing.assert_allclose(clf.predict_proba(Xs), clf.predict_proba(X.toarray()),
                               rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xs), clf.predict(X.toarray()))
    reg = mlp.MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(Xs, y.astype(float))
    reg.partial_fit(Xs, y.astype(float))
    np.testing.assert_allclose(reg.predict(Xs), reg.predict(X.toarray()), rtol=1e-12)


def test_stochastic_training_on_sparse_rows_with_early_stopping(monkeypatch):
    X, y = labelled(200, 40, seed=1)
    seen = []  # what kind of rows the first layer received, fit by fit
    forward = mlp.Linear.forward

    def recording(layer, rows):
        if layer.n_in == 40:
            seen[-1].add(sp.issparse(rows))
        return forward(layer, rows)

    monkeypatch.setattr(mlp.Linear, "forward", recording)
    fits = []
    for data in (X, X.toarray()):
        clf = mlp.MLPClassifier(hidden_layer_sizes=(6,), batch_size=32, max_iter=2,
                                early_stopping=True, validation_fraction=0.2,
                                n_iter_no_change=5, random_state=0)
        seen.append(set())
        with pytest.warns(ConvergenceWarning):
            fits.append(clf.fit(data, y))
    # the same split and batches; two epochs of five steps round alike
    np.testing.assert_allclose(fits[0].loss_curve_, fits[1].loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(fits[0].validation_scores_, fits[1].validation_scores_)
    assert seen == [{True}, {False}]  # the first layer saw sparse rows only, never densified


def test_tfidf_pipeline_classifies_text():
    pytest.importorskip("sklearn.feature_extraction.text")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    topics = [["goal", "match", "team", "score", "league", "coach", "player"],
              ["vote", "party", "minister", "election", "law", "senate", "policy"]]
    common = ["the", "a", "today", "new", "said", "week", "people", "report"]

    def document(topic):
        words = list(rng.choice(topics[topic], 3)) + list(rng.choice(common, 6))
        return " ".join(rng.permutation(words))

    labels = rng.integers(0, 2, size=160)
    texts = [document(t) for t in labels]
    pipe = make_pipeline(TfidfVectorizer(), mlp.MLPClassifier(
        hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0))
    pipe.fit(texts[:120], labels[:120])
    assert pipe.score(texts[120:], labels[120:]) >= 0.95
    assert pipe.predict(["the coach said the team will score"])[0] == 0
    assert pipe.predict(["the minister said a new law"])[0] == 1
    # scikit-learn's MLP in the same pipeline, on the same sparse features, does as well
    from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

    theirs = make_pipeline(TfidfVectorizer(), SklearnMLPClassifier(
        hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0))
    theirs.fit(texts[:120], labels[:120])
    held_out = texts[120:], labels[120:]
    assert pipe.score(*held_out) >= theirs.score(*held_out) - 0.05


def test_estimator_training_memory_follows_the_non_zeros_not_n_times_d():
    X, y, csr_bytes = big_sparse()
    N, D = X.shape
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), batch_size=5000, max_iter=1,
                            random_state=0)
    tracemalloc.start()
    try:
        with pytest.warns(ConvergenceWarning):
            clf.fit(X, y)
        clf.predict_proba(X[:1000])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(clf.loss_)
    # input checks, a batch and the model's gradients: well under one copy of X, and a
    # thousand times under the dense N×D (one densified batch alone would be 800 MB)
    assert peak < 0.5 * csr_bytes, (peak, csr_bytes)
    assert peak < 1e-3 * N * D * 8
