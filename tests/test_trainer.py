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


def _regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([1.0, -2.0, 0.5])


def test_a_diverging_run_goes_back_to_its_best_weights():
    X, y = _regression()
    model = mlp.Sequential(mlp.Linear(3, 1, rng=0))
    trainer = mlp.Trainer(model, mlp.MSELoss(), mlp.SGD(model.parameters(), lr=30.0),
                          batch_size=40, keep_best=True)
    with np.errstate(over="ignore", invalid="ignore"):
        history = trainer.fit(X, y[:, None], epochs=200, validation_data=(X, y[:, None]))
    assert history.diverged
    assert np.isnan(history.loss[-1])
    assert np.isnan(history.val_loss[-1])
    assert history.epochs < 200
    assert np.isfinite(model[0].params["W"]).all()
    assert history.loss[history.best_epoch] == min(history.loss[:-1])
    # with nothing kept to go back to, the divergence is the loss's error
    model = mlp.Sequential(mlp.Linear(3, 1, rng=0))
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(mlp.losses.DivergedError, match="NaN or infinity"):
        fit(model, mlp.MSELoss(), mlp.SGD(model.parameters(), lr=30.0), X, y[:, None],
            epochs=200, batch_size=40)


def test_batches_of_zero_weight_take_no_step_and_the_penalty_follows_the_weight():
    X, y = _regression()
    w = np.r_[np.zeros(10), np.full(30, 2.0)]
    model = mlp.Sequential(mlp.Linear(3, 1, rng=0))
    optimizer = mlp.SGD(model.parameters(), lr=1e-3)
    trainer = mlp.Trainer(model, mlp.MSELoss(), optimizer, batch_size=10, shuffle=False,
                          l2=0.5, l2_per_weight=True)
    W0 = model[0].params["W"].copy()
    loss = trainer.run_epoch(X, y[:, None], sample_weight=w)
    assert optimizer.t == 3  # the first batch weighs nothing
    assert np.isfinite(loss)
    # one batch of weight 20, a step too small to move W: the penalty is (0.5 / 20)·‖W‖²
    model = mlp.Sequential(mlp.Linear(3, 1, rng=0))
    trainer = mlp.Trainer(model, mlp.MSELoss(), mlp.SGD(model.parameters(), lr=1e-300),
                          batch_size=10, shuffle=False, l2=0.5, l2_per_weight=True)
    value = trainer.run_epoch(X[10:20], y[10:20, None], sample_weight=np.full(10, 2.0))
    np.testing.assert_array_equal(model[0].params["W"], W0)
    data = mlp.MSELoss().forward(model.forward(X[10:20]), y[10:20, None])
    assert value == pytest.approx(data + 0.5 / 20 * float(np.sum(W0**2)), rel=1e-12)


def test_batch_hooks_reach_every_callback_that_defines_one(iris, make_net):
    # the per-batch loop calls only hooks that do something: those a subclass overrides and
    # those set on an instance, in the order of the callbacks
    X, y = iris
    calls = []

    class Gradients(mlp.callbacks.Callback):
        def on_gradients(self, batch, logs=None):
            calls.append(("gradients", batch, logs["size"]))

    on_instance = mlp.callbacks.Callback()
    on_instance.on_batch_end = lambda batch, logs=None: calls.append(("end", batch))
    model = make_net("relu")
    fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()), X, y, epochs=1,
        batch_size=60, rng=0, callbacks=[Gradients(), on_instance])
    assert calls == [("gradients", 0, 60), ("end", 0), ("gradients", 1, 60), ("end", 1),
                     ("gradients", 2, 30), ("end", 2)]


def test_batch_hooks_follow_what_the_callbacks_define_at_each_call(iris, make_net):
    # a hook set (on the instance or on the class) or removed in the middle of an epoch is
    # called, or not, from the next call on, as when every call looked the hook up
    X, y = iris
    calls = []

    class Mixin:
        def on_batch_begin(self, batch, logs=None):
            calls.append(("mixin", batch))

    class Arming(Mixin, mlp.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 0:  # from batch 1 on: an instance hook
                self.on_gradients = lambda b, logs=None: calls.append(("instance", b))
            if batch == 1:  # from batch 2 on: no more, but a hook of the class
                del self.on_gradients
                Later.on_gradients = lambda self, b, logs=None: calls.append(("class", b))

    class SameBatch(mlp.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            # set before the step's gradients are ready: called in this very batch
            if batch == 1:
                self.on_gradients = lambda b, logs=None: calls.append(("same batch", b))

    class Later(mlp.callbacks.Callback):
        pass

    model = make_net("relu")
    fit(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()), X, y, epochs=1,
        batch_size=50, shuffle=False, callbacks=[Arming(), SameBatch(), Later()])
    assert calls == [("mixin", 0),
                     ("mixin", 1), ("instance", 1), ("same batch", 1),
                     ("mixin", 2), ("same batch", 2), ("class", 2)]
