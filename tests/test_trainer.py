"""Training on Iris: a loop written out by hand, and the library's fit()."""

import numpy as np
import pytest

import mlp
from mlp.trainer import fit


def accuracy(model, X, y):
    model.eval()
    return float(np.mean(model.forward(X).argmax(axis=1) == y))


def test_hand_written_loop_reaches_95_percent_on_iris(iris, make_net):
    X, y = iris
    model = make_net("relu")
    loss = mlp.SoftmaxCrossEntropyLoss()
    opt = mlp.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _epoch in range(100):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 16):
            batch = order[start:start + 16]
            loss.forward(model.forward(X[batch]), y[batch])
            model.backward(loss.backward(), input_grad=False)
            opt.step()
    assert accuracy(model, X, y) >= 0.95


@pytest.mark.parametrize("batch_size", [1, 16, "full"])
def test_fit_reaches_95_percent_on_iris(iris, make_net, batch_size):
    X, y = iris
    model = make_net("relu")
    lr = 0.1 if batch_size == "full" else 0.01
    history = fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=lr),
                  X, y, epochs=100, batch_size=batch_size, rng=0)
    assert history.epochs == 100
    assert history.loss[-1] < 0.3 * history.loss[0]
    assert accuracy(model, X, y) >= 0.95


def test_same_seed_same_model_bit_for_bit(iris, make_net):
    X, y = iris
    weights = []
    for _ in range(2):
        model = make_net("tanh", seed=3)
        fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), lr=0.1,
                                                         momentum=0.9), X, y, epochs=5, rng=7)
        weights.append(np.concatenate([p.value.ravel() for p in model.parameters()]))
    np.testing.assert_array_equal(weights[0], weights[1])


def test_validation_history_and_callbacks(iris, make_net):
    X, y = iris
    model = make_net("relu")
    seen = []

    def stop_after_three(epoch, history):
        seen.append((epoch, len(history.val_loss)))
        return epoch == 2

    history = fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()), X, y,
                  epochs=50, rng=0, validation_data=(X[:30], y[:30]),
                  callbacks=[stop_after_three])
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert history.epochs == 3
    assert len(history.val_loss) == 3


def test_float32_training_stays_float32(iris):
    X, y = iris
    model = mlp.Sequential(mlp.Linear(4, 8, rng=0, dtype=np.float32), mlp.ReLU(),
                           mlp.Linear(8, 3, rng=1, dtype=np.float32))
    fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters(), lr=0.01),
        X.astype(np.float32), y, epochs=20, rng=0)
    assert all(p.value.dtype == np.float32 for p in model.parameters())
    assert accuracy(model, X.astype(np.float32), y) > 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": -1}, "batch_size must be a positive integer, 0 or 'full'"),
        ({"epochs": -2}, "epochs must be a non-negative integer"),
    ],
)
def test_fit_argument_errors(iris, make_net, kwargs, message):
    X, y = iris
    model = make_net("relu")
    with pytest.raises(ValueError, match=message):
        fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()), X, y, **kwargs)


def test_fit_shape_mismatch(make_net):
    model = make_net("relu")
    with pytest.raises(ValueError, match="one row per target"):
        fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()),
            np.ones((5, 4)), np.zeros(4, dtype=int))
