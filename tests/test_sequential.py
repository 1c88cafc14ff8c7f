"""Sequential: composition, the chain rule end to end, the container protocol, input checks."""

import numpy as np
import pytest

import mlp


def test_forward_and_backward_compose_the_layers(rng, make_net):
    model = make_net("tanh")
    X = rng.normal(size=(5, 4))
    lin1, act, lin2 = model
    H = np.tanh(X @ lin1.params["W"] + lin1.params["b"])
    np.testing.assert_allclose(model.forward(X), H @ lin2.params["W"] + lin2.params["b"])

    dY = rng.normal(size=(5, 3))
    dX = model.backward(dY)
    # the lecture chain: dW2 = Hᵀ·dY, dZ = dY·W2ᵀ ⊙ σ′(q), dW1 = Xᵀ·dZ
    dZ = dY @ lin2.params["W"].T * (1 - H**2)
    np.testing.assert_allclose(lin2.grads["W"], H.T @ dY)
    np.testing.assert_allclose(lin1.grads["W"], X.T @ dZ)
    np.testing.assert_allclose(dX, dZ @ lin1.params["W"].T)


def test_first_layer_input_gradient_is_skipped_when_not_asked(rng, make_net):
    model = make_net("relu")
    asked = []
    first = model[0]
    original = first.backward

    def spy(dY, input_grad=True):
        asked.append(input_grad)
        return original(dY, input_grad=input_grad)

    first.backward = spy
    model.forward(rng.normal(size=(3, 4)))
    assert model.backward(np.ones((3, 3)), input_grad=False) is None
    assert model.backward(np.ones((3, 3))).shape == (3, 4)
    assert asked == [False, True]


def test_parameters_are_named_and_shared(make_net):
    model = make_net("prelu")
    names = [p.name for p in model.parameters()]
    assert names == ["0.W", "0.b", "1.alpha", "2.W", "2.b"]
    assert [p.decay for p in model.parameters()] == [True, False, False, True, False]
    assert model.parameters()[0].value is model[0].params["W"]
    nested = mlp.Sequential(mlp.Linear(2, 2), mlp.Sequential(mlp.Linear(2, 2), mlp.ReLU()))
    assert [p.name for p in nested.parameters()] == ["0.W", "0.b", "1.0.W", "1.0.b"]


def test_container_protocol_and_repr(make_net):
    model = make_net("relu")
    assert len(model) == 3
    assert [type(layer).__name__ for layer in model] == ["Linear", "ReLU", "Linear"]
    assert isinstance(model[1], mlp.ReLU)
    assert isinstance(model[:2], mlp.Sequential)
    assert len(model[:2]) == 2
    assert repr(model) == (
        "Sequential(\n  (0): Linear(4 -> 16)\n  (1): ReLU()\n  (2): Linear(16 -> 3)\n)"
    )
    assert mlp.Sequential([mlp.ReLU()]).layers[0].__class__ is mlp.ReLU
    with pytest.raises(TypeError, match="item 1 is a int, not a Layer"):
        mlp.Sequential(mlp.ReLU(), 3)


def test_summary_table(make_net):
    text = make_net("relu").summary()
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Output", "shape", "Params"]
    assert "0: Linear(4 -> 16)" in lines[2]
    assert "(N, 16)" in lines[2]
    assert lines[2].endswith("80")
    assert "(N, 3)" in lines[4]
    assert lines[4].endswith("51")
    assert lines[-1] == "Total params: 131"
    assert make_net("relu").n_params() == 4 * 16 + 16 + 16 * 3 + 3


def test_train_and_eval_switch_every_layer():
    inner = mlp.Sequential(mlp.Linear(2, 2), mlp.ReLU())
    model = mlp.Sequential(mlp.Linear(2, 2), inner)
    assert model.eval() is model
    assert not any(layer.training for layer in [model, *model, *inner])
    model.train()
    assert all(layer.training for layer in [model, *model, *inner])


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones((10, 3)), r"Sequential expected input with 4 features, got shape \(10, 3\)"),
        (np.ones(4), r"expected a 2-D input of shape \(N, 4\), got shape \(4,\)"),
        (np.array([[1.0, np.nan, 0.0, 0.0]]), "input contains NaN or infinity"),
        (np.array([["a", "b", "c", "d"]]), "input must be numeric"),
    ],
)
def test_bad_input(make_net, X, message):
    with pytest.raises(ValueError, match=message):
        make_net("relu").forward(X)


def test_backward_before_forward(make_net):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make_net("relu").backward(np.ones((2, 3)))
