"""Model files from Python: round trips, atomic writes, files that must be refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris

import mlp
from mlp.io import ModelFileError, load, save, write_atomic

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def every_layer_model():
    return mlp.Sequential(
        mlp.Linear(4, 8, rng=0), mlp.BatchNorm1d(8), mlp.PReLU(0.2, n_features=8),
        mlp.Dropout(0.3), mlp.Residual(mlp.Linear(8, 8, rng=1), mlp.GELU("tanh")),
        mlp.LeakyReLU(0.05), mlp.ELU(0.7), mlp.Softplus(), mlp.Sigmoid(), mlp.Tanh(),
        mlp.Identity(), mlp.Linear(8, 3, bias=False, rng=2), mlp.Softmax(),
    )


def test_sequential_round_trip(tmp_path, rng):
    model = every_layer_model()
    X = rng.normal(size=(20, 4))
    model.forward(X)  # moves the running statistics away from their start
    model.eval()
    path = save(model, tmp_path / "m.npz", metadata={"note": "hello", "n": [1, 2]})
    loaded, meta = load(path, with_metadata=True)
    assert repr(loaded) == repr(model)
    assert meta == {"note": "hello", "n": [1, 2]}
    assert not loaded.training
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    for (name, a), (_, b) in zip(model.named_buffers(), loaded.named_buffers(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_float32_model_stays_float32(tmp_path):
    model = mlp.Sequential(mlp.Linear(3, 2, rng=0, dtype=np.float32))
    loaded = load(save(model, tmp_path / "f.npz"))
    assert loaded[0].params["W"].dtype == np.float32
    np.testing.assert_array_equal(loaded[0].params["W"], model[0].params["W"])


@pytest.mark.parametrize("cls", [mlp.MLPClassifier, mlp.MLPRegressor])
def test_estimator_round_trip(tmp_path, cls):
    X, y = load_iris(return_X_y=True)
    if cls is mlp.MLPClassifier:
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    else:
        X, y = X[:, :3], X[:, 3]
    est = cls(hidden_layer_sizes=(8, 4), activation=["tanh", "gelu"], max_iter=30,
              random_state=0).fit(X, y)
    loaded = load(save(est, tmp_path / "e.npz"))
    assert type(loaded) is cls
    assert loaded.get_params() == {**est.get_params(), "hidden_layer_sizes": [8, 4]}
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.score(X, y) == est.score(X, y)
    assert loaded.loss_curve_ == est.loss_curve_
    if cls is mlp.MLPClassifier:
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_a_loaded_estimator_keeps_training(tmp_path):
    X, y = load_iris(return_X_y=True)
    est = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    loaded = load(save(est, tmp_path / "e.npz"))
    before = loaded.coefs_[0].copy()
    loaded.partial_fit(X, y)
    # n_iter_ counts the epochs of the latest call (scikit-learn's rule), t_ every sample
    assert loaded.n_iter_ == 1
    assert loaded.t_ == 6 * 150
    assert not np.array_equal(before, loaded.coefs_[0])
    loaded.set_params(warm_start=True).fit(X, y)
    assert loaded.n_iter_ == 5
    assert loaded.t_ == 11 * 150


def test_unfitted_estimator_and_foreign_objects_are_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save(mlp.MLPClassifier(), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="cannot save a dict"):
        save({}, tmp_path / "x.npz")

    class Custom(mlp.Identity):
        pass

    with pytest.raises(TypeError, match="cannot save a Custom"):
        save(mlp.Sequential(Custom()), tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / "out.npz"
    path.write_bytes(b"previous")

    def interrupted(f):
        f.write(b"half of it")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, interrupted)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]


def test_loading_never_unpickles(tmp_path):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    model = mlp.Sequential(mlp.Linear(2, 2, rng=0))
    save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    arrays["param:0.W"] = np.array([Exploit()], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ModelFileError, match="pickled object array"):
        load(tmp_path / "evil.npz")
    assert not marker.exists()


def test_mismatched_arrays_and_descriptions_are_refused(tmp_path):
    save(mlp.Sequential(mlp.Linear(2, 2, rng=0)), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = dict(archive)
    wrong = dict(arrays, **{"param:0.W": np.zeros((3, 3))})
    np.savez(tmp_path / "shape.npz", **wrong)
    with pytest.raises(ModelFileError, match=r"0.W has shape \(3, 3\)"):
        load(tmp_path / "shape.npz")
    config = json.loads(arrays["__config__"].tobytes())
    config["model"]["layers"][0]["type"] = "Conv2d"
    bad = dict(arrays, __config__=np.frombuffer(json.dumps(config).encode(), dtype=np.uint8))
    np.savez(tmp_path / "type.npz", **bad)
    with pytest.raises(ModelFileError, match="unknown layer type 'Conv2d'"):
        load(tmp_path / "type.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not an mlp model file"):
        load(tmp_path / "plain.npz")


def test_plot_without_matplotlib_names_the_extra(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from mlp.cli import main\n"
        f"sys.exit(main(['train', '--plot', {str(tmp_path / 'p.png')!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mlp train: error: --plot: plotting needs matplotlib: pip install 'mlp[plot]' "
        "(or pip install matplotlib)"]
