"""An estimator's model file keeps what training goes on from: after mlp.io.load,
partial_fit and a warm fit give the same bits as they would have in memory."""

import json
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.io import ModelFileError, load, save


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, y


def same_bits(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_, strict=True))


def fitted(data, **params):
    est = mlp.MLPClassifier((8,), max_iter=4, random_state=1, batch_size=16, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*data)


@pytest.mark.parametrize("params", [
    {"solver": "adam", "dropout": 0.2, "batch_norm": True},
    {"solver": "sgd", "dropout": 0.2},
    {"solver": "sgd", "learning_rate": "invscaling"},
    {"solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 1, "tol": 10.0},
], ids=["adam-dropout-bn", "sgd-nesterov-dropout", "sgd-invscaling", "sgd-adaptive"])
def test_partial_fit_after_load_equals_partial_fit_in_memory(data, tmp_path, params):
    in_memory = fitted(data, **params)
    loaded = load(save(in_memory, tmp_path / "e.npz"))
    for _ in range(3):
        in_memory.partial_fit(*data)
        loaded.partial_fit(*data)
    assert same_bits(in_memory, loaded)
    assert loaded.loss_curve_ == in_memory.loss_curve_
    assert (loaded.n_iter_, loaded.t_) == (in_memory.n_iter_, in_memory.t_)
    assert loaded._optimizer.lr == in_memory._optimizer.lr
    if params.get("learning_rate") == "adaptive":  # the rate was divided by 5, and kept
        assert in_memory._optimizer.lr < params.get("learning_rate_init", 1e-3)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_warm_fit_after_load_equals_warm_fit_in_memory(data, tmp_path, solver):
    in_memory = fitted(data, solver=solver, warm_start=True, dropout=0.1)
    loaded = load(save(in_memory, tmp_path / "e.npz"))
    for est in (in_memory, loaded):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(*data)
    assert same_bits(in_memory, loaded)
    assert loaded.loss_curve_ == in_memory.loss_curve_


def test_the_file_holds_the_moments_step_count_and_generator(data, tmp_path):
    est = fitted(data, solver="adam")
    path = save(est, tmp_path / "e.npz")
    with np.load(path) as archive:
        np.testing.assert_array_equal(archive["optim:m_sum"], est._optimizer.m_sum)
        config = json.loads(archive["__config__"].tobytes())
    training = config["estimator"]["training"]
    assert training["optimizer"]["t"] == est._optimizer.t > 0
    assert training["rng"] == est._rng_.bit_generator.state
    assert config["format_version"] == 3


def test_a_file_without_training_state_still_loads_and_trains(data, tmp_path):
    est = fitted(data, solver="adam")
    path = save(est, tmp_path / "e.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    config = json.loads(arrays.pop("__config__").tobytes())
    del config["estimator"]["training"]
    config["format_version"] = 2
    arrays = {k: v for k, v in arrays.items() if not k.startswith("optim:")}
    text = json.dumps(config).encode()
    np.savez(tmp_path / "old.npz", __config__=np.frombuffer(text, np.uint8), **arrays)
    old = load(tmp_path / "old.npz")
    assert not hasattr(old, "_rng_")
    old.partial_fit(*data)  # a new generator and optimizer, as before
    assert old.n_iter_ == 1


def edited_estimator(tmp_path, est, change):
    path = save(est, tmp_path / "e.npz")
    with np.load(path) as archive:
        arrays = dict(archive)
    config = json.loads(arrays.pop("__config__").tobytes())
    change(config["estimator"]["training"], arrays)
    text = json.dumps(config).encode()
    np.savez(tmp_path / "bad.npz", __config__=np.frombuffer(text, np.uint8), **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda t, a: t.update(no_improvement_count=-1),
         r"training.no_improvement_count must be an integer ≥ 0"),
        (lambda t, a: t.update(statistics_weight=float("inf")),
         r"training.statistics_weight must be a finite number ≥ 0"),
        (lambda t, a: t["rng"].update(bit_generator="Evil"), r"unknown bit generator 'Evil'"),
        (lambda t, a: t["optimizer"].update(type="SGD"), r"the arrays do not match"),
        (lambda t, a: t["optimizer"].update(type="RMSProp"), r"the arrays do not match"),
        (lambda t, a: (t["optimizer"].update(type="RMSProp", hyperparameters={
            "lr": 0.1, "weight_decay": 0.0, "rho": 0.9, "eps": 1e-8}),
            a.update({"optim:square_avg": a.pop("optim:m_sum")}), a.pop("optim:v_sum")),
         r"training.optimizer is a RMSProp, the solver 'adam' trains with Adam"),
        (lambda t, a: t["optimizer"]["hyperparameters"].update(eps=-1.0), r"eps must be in"),
        (lambda t, a: a.update({"optim:m_sum": np.full_like(a["optim:m_sum"], np.inf)}),
         r"optim:m_sum contains NaN or infinity"),
        (lambda t, a: a.pop("optim:v_sum"), r"missing \['optim:v_sum'\]"),
        (lambda t, a: t.update(optimizer="Adam"),
         r"optimizer must be an object, got the string 'Adam'"),
    ],
)
def test_the_training_state_is_checked(data, tmp_path, change, pattern):
    est = fitted(data, solver="adam")
    with pytest.raises(ModelFileError, match=pattern):
        load(edited_estimator(tmp_path, est, change))
