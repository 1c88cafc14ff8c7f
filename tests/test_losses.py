"""Losses: values against independent formulas, gradients against finite differences."""

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_poisson_deviance

import mlp
from mlp.gradcheck import check_layer, check_loss


def probabilities(rng, shape):
    # central differences of -log p are accurate to about h²/(3p²): keep p away from 0
    E = np.exp(rng.normal(0, 0.5, size=shape))
    return E / E.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("shape", [(1, 3), (6, 4), (25, 10)])
def test_every_loss_passes_gradient_check(shape):
    rng = np.random.default_rng(shape[0])
    N, K = shape
    labels = rng.integers(0, K, size=N)
    onehot = np.eye(K)[labels]
    cases = [
        (mlp.MSELoss(), rng.normal(size=shape), rng.normal(size=shape)),
        (mlp.BCEWithLogitsLoss(), rng.normal(size=shape), rng.integers(0, 2, size=shape)),
        (mlp.BCEWithLogitsLoss(), rng.normal(size=shape), rng.uniform(size=shape)),
        (mlp.SoftmaxCrossEntropyLoss(), rng.normal(size=shape), labels),
        (mlp.SoftmaxCrossEntropyLoss(), rng.normal(size=shape), onehot),
        (mlp.NLLLoss(), probabilities(rng, shape), labels),
        (mlp.NLLLoss(), probabilities(rng, shape), probabilities(rng, shape)),
        (mlp.PoissonLoss(), rng.normal(size=shape), rng.poisson(1.5, size=shape)),
        (mlp.PoissonLoss(), rng.normal(size=shape), rng.uniform(0, 3, size=shape)),
    ]
    for loss, output, y in cases:
        report = check_layer(loss, output, y)
        assert report.max_error <= 1e-7, str(report)
        assert check_loss(loss, output, y).ok


def test_mse_value_and_gradient():
    out = np.array([[1.0, 2.0], [0.0, -1.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    loss = mlp.MSELoss()
    # ½(1 + 0) and ½(1 + 4), averaged over 2 samples
    assert loss.forward(out, y) == pytest.approx((0.5 + 2.5) / 2)
    np.testing.assert_allclose(loss.backward(), (out - y) / 2)
    # a 1-D target fits a single output column
    assert mlp.MSELoss().forward(np.array([[1.0], [3.0]]), [0.0, 1.0]) == pytest.approx(1.25)


def test_poisson_is_half_sklearns_mean_poisson_deviance(rng):
    U = rng.normal(0, 1.5, size=(40, 1))
    y = rng.poisson(np.exp(U[:, 0]))  # counts, zeros among them
    assert np.any(y == 0)
    loss = mlp.PoissonLoss()
    expected = 0.5 * mean_poisson_deviance(y, np.exp(U[:, 0]))
    assert loss.forward(U, y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (np.exp(U) - y[:, None]) / 40, rtol=1e-12)
    # two outputs: summed over k, like scikit-learn's poisson_loss
    U2, y2 = rng.normal(size=(5, 2)), rng.poisson(2.0, size=(5, 2))
    per_column = [mean_poisson_deviance(y2[:, k], np.exp(U2[:, k])) / 2 for k in range(2)]
    assert loss.forward(U2, y2) == pytest.approx(sum(per_column), rel=1e-12)


def test_poisson_is_zero_at_the_target_and_stable_where_the_mean_underflows():
    loss = mlp.PoissonLoss()
    assert loss.forward(np.log([[3.0], [0.5]]), [3.0, 0.5]) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(loss.backward(), 0.0, atol=1e-15)
    # exp(-800) underflows to 0: the loss is finite (y·log y − y·u − y) and so is the
    # gradient, (0 − y)/N, with no division by μ
    value = loss.forward(np.array([[-800.0], [-800.0]]), [2.0, 0.0])
    assert value == pytest.approx((2 * np.log(2) + 1600 - 2) / 2, rel=1e-12)
    np.testing.assert_array_equal(loss.backward(), [[-1.0], [0.0]])


def test_softmax_cross_entropy_matches_sklearn_log_loss(rng):
    U = rng.normal(0, 2, size=(30, 4))
    y = rng.integers(0, 4, size=30)
    P = np.exp(U) / np.exp(U).sum(1, keepdims=True)
    loss = mlp.SoftmaxCrossEntropyLoss()
    assert loss.forward(U, y) == pytest.approx(log_loss(y, P, labels=range(4)), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (P - np.eye(4)[y]) / 30, rtol=1e-12)
    assert mlp.SoftmaxCrossEntropyLoss().forward(U, np.eye(4)[y]) == pytest.approx(
        loss.forward(U, y), rel=1e-14)


def test_nll_after_softmax_equals_fused_loss(rng):
    U = rng.normal(size=(8, 5))
    y = rng.integers(0, 5, size=8)
    softmax, nll, fused = mlp.Softmax(), mlp.NLLLoss(), mlp.SoftmaxCrossEntropyLoss()
    assert nll.forward(softmax.forward(U), y) == pytest.approx(fused.forward(U, y), rel=1e-13)
    # the modular chain NLL → Softmax gives the fused gradient (Ŷ − Y)/N
    np.testing.assert_allclose(softmax.backward(nll.backward()), fused.backward(),
                               rtol=1e-10, atol=1e-15)


def test_bce_matches_sklearn_and_is_stable():
    rng = np.random.default_rng(3)
    U = rng.normal(0, 2, size=(40, 1))
    y = rng.integers(0, 2, size=40)
    loss = mlp.BCEWithLogitsLoss()
    p = 1 / (1 + np.exp(-U[:, 0]))
    assert loss.forward(U, y) == pytest.approx(log_loss(y, p), rel=1e-12)
    # huge logits: no overflow, and the confident-and-right case costs nothing
    big = np.array([[800.0], [-800.0]])
    assert mlp.BCEWithLogitsLoss().forward(big, [1, 0]) == 0.0
    assert mlp.BCEWithLogitsLoss().forward(big, [0, 1]) == pytest.approx(800.0)


def test_multilabel_bce_sums_over_labels():
    U = np.zeros((2, 3))
    # each of the 3 labels costs log 2 at p = ½: the per-sample loss is 3·log 2
    assert mlp.BCEWithLogitsLoss().forward(U, np.ones((2, 3))) == pytest.approx(3 * np.log(2))


def test_fused_cross_entropy_is_stable_for_huge_logits():
    U = np.array([[1000.0, 0.0, -1000.0]])
    loss = mlp.SoftmaxCrossEntropyLoss()
    assert loss.forward(U, [0]) == 0.0
    assert loss.forward(U, [2]) == pytest.approx(2000.0)
    np.testing.assert_allclose(loss.backward(), [[1.0, 0.0, -1.0]])


def test_nll_of_an_underflowed_probability_is_finite():
    value = mlp.NLLLoss().forward(np.array([[1.0, 0.0]]), [1])
    assert np.isfinite(value)
    assert value > 700


@pytest.mark.parametrize(
    ("loss", "output", "y", "message"),
    [
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), [0, 3],
         r"label 3 out of range for 3 classes \(expected 0..2\)"),
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), [-1, 0], "label -1 out of range"),
        (mlp.NLLLoss(), np.full((2, 3), 1 / 3), [0, 5], "label 5 out of range"),
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), [0.5, 1], "whole numbers"),
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), ["a", "b"], "LabelEncoder"),
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), [0, 1, 2], "got 3 labels for 2"),
        (mlp.SoftmaxCrossEntropyLoss(), np.zeros((2, 3)), np.ones((2, 3)), "sum to 1"),
        (mlp.MSELoss(), np.zeros((2, 3)), np.zeros((2, 2)), r"targets of shape \(2, 2\)"),
        (mlp.MSELoss(), np.zeros((2, 1)), [np.nan, 0.0], "targets contain NaN"),
        (mlp.MSELoss(), np.array([[np.inf], [0.0]]), [0.0, 0.0], "output contains NaN or inf"),
        (mlp.BCEWithLogitsLoss(), np.zeros((2, 1)), [0, 2], r"targets must lie in \[0, 1\]"),
        (mlp.NLLLoss(), np.array([[2.0, -1.0]]), [0], "probabilities"),
        (mlp.MSELoss(), np.zeros(3), np.zeros(3), "expected a 2-D input"),
        (mlp.PoissonLoss(), np.zeros((2, 1)), [1.0, -1.0], "targets must be non-negative"),
        (mlp.PoissonLoss(), np.array([[710.0], [0.0]]), [1.0, 1.0],
         r"exp\(output\) overflows \(largest output 710"),
    ],
)
def test_bad_targets_and_outputs_are_clear_errors(loss, output, y, message):
    with pytest.raises(ValueError, match=message):
        loss.forward(output, y)


@pytest.mark.parametrize("loss", [mlp.MSELoss(), mlp.PoissonLoss(), mlp.BCEWithLogitsLoss(),
                                  mlp.SoftmaxCrossEntropyLoss(), mlp.NLLLoss()], ids=repr)
def test_loss_backward_before_forward(loss):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        loss.backward()


def test_loss_value_is_a_python_float_and_gradient_keeps_float32():
    U = np.zeros((4, 3), dtype=np.float32)
    loss = mlp.SoftmaxCrossEntropyLoss()
    assert type(loss.forward(U, [0, 1, 2, 0])) is float
    assert loss.backward().dtype == np.float32


def test_softmax_cross_entropy_with_soft_targets_and_a_second_backward(rng):
    U = rng.normal(0, 3, size=(6, 4))
    Y = rng.dirichlet(np.ones(4), size=6)
    log_P = U - U.max(axis=1, keepdims=True)
    log_P -= np.log(np.exp(log_P).sum(axis=1, keepdims=True))
    loss = mlp.SoftmaxCrossEntropyLoss()
    assert loss.forward(U, Y) == pytest.approx(-np.mean(np.sum(Y * log_P, axis=1)), rel=1e-12)
    expected = (np.exp(log_P) - Y) / 6
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-12)
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-12)  # the cache is intact
