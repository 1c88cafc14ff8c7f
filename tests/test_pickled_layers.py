"""A pickled, copied or saved layer holds its parameters and configuration, never the last
batch: no cached inputs, masks, shapes or batch statistics (BatchNorm's running statistics
are buffers, and stay), and no gradient of it (from which its rows can be read back)."""

import copy
import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.base import Layer

N = 7  # rows of the training batch: no layer below has a width of 7
WIDTH = 3


def _build(name):
    """Two identical layers of the exported class ``name`` (the same seed)."""
    builders = {
        "Linear": lambda: mlp.Linear(WIDTH, WIDTH, rng=0),
        "Dropout": lambda: mlp.Dropout(0.4, rng=0),
        "BatchNorm1d": lambda: mlp.BatchNorm1d(WIDTH),
        "Sequential": lambda: mlp.Sequential(mlp.Linear(WIDTH, 4, rng=0), mlp.BatchNorm1d(4),
                                             mlp.PReLU(), mlp.Dropout(0.3, rng=1),
                                             mlp.Linear(4, WIDTH, rng=2)),
        "Residual": lambda: mlp.Residual(mlp.Linear(WIDTH, WIDTH, rng=0), mlp.GELU()),
        "PReLU": lambda: mlp.PReLU(WIDTH),
    }
    cls = getattr(mlp, name)
    return builders.get(name, cls)


LAYERS = sorted(name for name in mlp.__all__ if isinstance(getattr(mlp, name), type)
                and issubclass(getattr(mlp, name), Layer) and getattr(mlp, name) is not Layer)


def test_every_exported_layer_is_covered():
    assert {"Linear", "Dropout", "BatchNorm1d", "ReLU", "Softmax", "Residual",
            "Sequential"} <= set(LAYERS)


def _batch_leftovers(value, seen, path="layer", sizes=(N,)):
    """Paths of every array or shape inside ``value`` that has a dimension of one of the
    batches' ``sizes`` (rows)."""
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return [path] if set(sizes) & set(value.shape) else []
    if isinstance(value, tuple) and set(sizes) & set(value):
        return [path]
    if isinstance(value, Layer):
        value = vars(value)
    items = (enumerate(value) if isinstance(value, (list, tuple))
             else value.items() if isinstance(value, dict) else ())
    return [p for k, v in items for p in _batch_leftovers(v, seen, f"{path}[{k!r}]", sizes)]
    return []


def _trained(layer, rng):
    """``layer`` after one training step on a batch of N rows."""
    layer.train()
    Y = layer.forward(rng.normal(size=(N, WIDTH)))
    layer.backward(rng.normal(size=Y.shape))
    for p in layer.parameters():
        p.value -= 0.1 * p.grad
    return layer


@pytest.mark.parametrize("name", LAYERS)
def test_a_pickled_layer_holds_nothing_of_its_last_batch(name):
    build = _build(name)
    rng = np.random.default_rng(5)
    layer, fresh = _trained(build(), rng), build()
    assert _batch_leftovers(layer, set()), "the step left no cache to test with"
    for copied in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert _batch_leftovers(copied, set()) == []
        # what a fresh layer holds empty is empty; what forward added is emptied
        fresh_state, state = vars(fresh), vars(copied)
        empty = {k for k, v in fresh_state.items() if v is None}
        assert empty <= {k for k, v in state.items() if v is None}
        assert all(state[k] is None for k in set(state) - set(fresh_state))
        # the parameters and buffers themselves are kept
        for (key, saved), (_, kept) in zip(copied.named_buffers(), layer.named_buffers(),
                                           strict=True):
            np.testing.assert_array_equal(saved, kept, err_msg=key)
        for saved, kept in zip(copied.parameters(), layer.parameters(), strict=True):
            np.testing.assert_array_equal(saved.value, kept.value, err_msg=saved.name)
            assert kept.grad.any(), saved.name
            assert not saved.grad.any(), saved.name
        X = rng.normal(size=(5, WIDTH))
        np.testing.assert_array_equal(copied.eval().forward(X), layer.eval().forward(X))
        copied.clear_cache()
        with pytest.raises(RuntimeError, match="backward called before forward"):
            copied.backward(np.ones((5, WIDTH)))


def test_clear_cache_forgets_shapes_and_flags_too():
    model = _build("Sequential")()
    _trained(model, np.random.default_rng(0))
    model.clear_cache()
    assert _batch_leftovers(model, set()) == []
    assert model[1]._batch_stats is None


def test_a_fitted_estimators_pickle_and_model_file_hold_no_batch(tmp_path):
    from mlp.io import load, save

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(37, WIDTH)), rng.integers(0, 2, size=37)
    est = mlp.MLPClassifier(hidden_layer_sizes=(5,), batch_size=N, max_iter=3,
                            dropout=0.2, batch_norm=True, random_state=0)
    with pytest.warns(ConvergenceWarning):  # not converged in 3 epochs
        est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    # 37 = 5·7 + 2: the last batch has 2 rows
    assert _batch_leftovers(loaded.model_, set(), sizes=(N, 2)) == []
    assert loaded.model_[1]._batch_stats is None
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert not any(p.grad.any() for p in loaded.model_.parameters())
    # the optimizer's tensors are still the layers' own: training goes on as it would have
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    for a, b in zip(est.model_.parameters(), loaded.model_.parameters(), strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12, atol=0, err_msg=a.name)
    save(est, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:  # weights, buffers, optimizer vectors
        shapes = {name: archive[name].shape for name in archive.files if name != "__config__"}
    assert all(name.startswith(("param:", "buffer:", "optim:")) for name in shapes), shapes
    assert not any({N, 2} & set(shape) for shape in shapes.values()), shapes
    np.testing.assert_array_equal(load(tmp_path / "m.npz").predict_proba(X),
                                  est.predict_proba(X))


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_a_model_pickled_with_its_optimizer_trains_on_alike(optimizer):
    rng = np.random.default_rng(3)
    model = _trained(_build("Sequential")(), rng)
    opt = getattr(mlp, optimizer)(model.parameters(), lr=0.1)
    X, dY = rng.normal(size=(N, WIDTH)), rng.normal(size=(N, WIDTH))
    model.forward(X)
    model.backward(dY)
    opt.step()
    copy_model, copy_opt = pickle.loads(pickle.dumps((model, opt)))
    assert not any(p.grad.any() for p in copy_opt.params)
    assert copy_opt.__getstate__()["_scratch"] is None  # the last step (−εg) is not kept
    for m, o in ((model, opt), (copy_model, copy_opt)):
        m[3].rng = np.random.default_rng(9)  # the same dropout mask for both
        m.forward(X)
        m.backward(dY)
        o.step()
    for a, b in zip(model.parameters(), copy_model.parameters(), strict=True):
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12, atol=0, err_msg=a.name)
