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
    assert loaded.get_params() == est.get_params()
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


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_validation_curves_survive_a_file_and_a_warm_fit_extends_them(tmp_path):
    X, y = load_iris(return_X_y=True)
    est = mlp.MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=6,
                            n_iter_no_change=100, warm_start=True, random_state=0).fit(X, y)
    loaded = load(save(est, tmp_path / "e.npz"))
    assert loaded.validation_loss_curve_ == est.validation_loss_curve_
    assert loaded.validation_scores_ == est.validation_scores_
    loaded.fit(X, y)  # a warm fit goes on from the file's curves
    assert len(loaded.validation_loss_curve_) == len(loaded.validation_scores_) == 12
    assert loaded.validation_loss_curve_[:6] == est.validation_loss_curve_
    # a file written before the curve was kept loads as a fit without validation would
    config, arrays = archive_of(tmp_path / "e.npz")
    del config["estimator"]["validation_loss_curve_"]
    older = load(write_archive(tmp_path / "older.npz", config, arrays))
    assert older.validation_loss_curve_ is None
    assert len(older.fit(X, y).validation_loss_curve_) == 6


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
        "mlp train: error: --plot: plotting needs the optional package matplotlib: pip install "
        "matplotlib (or, in a checkout of this project, pip install -e '.[plot]')"]


# -- a model file trusts nothing --------------------------------------------------------------


def archive_of(path):
    with np.load(path) as archive:
        arrays = dict(archive)
    return json.loads(arrays.pop("__config__").tobytes()), arrays


def write_archive(path, config, arrays, text=None):
    text = json.dumps(config) if text is None else text
    np.savez(path, __config__=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A classifier file and a command-line model file, with their parts."""
    folder = tmp_path_factory.mktemp("saved")
    X, y = load_iris(return_X_y=True)
    est = mlp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    save(est, folder / "est.npz")
    model = mlp.Sequential(mlp.Linear(4, 5, rng=0), mlp.ReLU(), mlp.Linear(5, 3, rng=1))
    meta = {"task": "classification", "classes": ["a", "b", "c"],
            "feature_names": ["w", "x", "y", "z"], "target_name": "t",
            "preprocessing": {"scale": "standard", "mean": [0.0] * 4, "factor": [1.0] * 4},
            "trained": {"epochs": 3}}
    save(model, folder / "cli.npz", metadata=meta)
    return folder


def changed(path, out, change):
    config, arrays = archive_of(path)
    change(config)
    return write_archive(out, config, arrays)


def setitem(section, key, value):
    def change(config):
        target = config
        for part in section:
            target = target[part]
        target[key] = value
    return change


@pytest.mark.parametrize(
    ("source", "change", "pattern"),
    [
        ("est", setitem([], "estimator", "x"), r"estimator must be an object, got the string"),
        ("est", setitem([], "estimator", [1, 2]), r"estimator must be an object, got a list"),
        ("est", setitem(["estimator"], "class", "SVC"), r"estimator.class must be one of"),
        ("est", setitem(["estimator"], "classes_dtype", "zzz"),
         r"estimator.classes_dtype must be a numpy dtype"),
        ("est", setitem(["estimator"], "classes_", 5), r"estimator.classes_ must be a list"),
        ("est", setitem(["estimator"], "classes_", [0, 1]),
         r"2 classes need 1 outputs, the network has 3"),
        ("est", setitem(["estimator"], "classes_", [2, 1, 0]), r"sorted and unique"),
        ("est", setitem(["estimator"], "n_features_in_", 7),
         r"n_features_in_ is 7, the network takes 4"),
        ("est", setitem(["estimator"], "n_iter_", -1), r"n_iter_ must be an integer ≥ 0"),
        ("est", setitem(["estimator"], "loss_curve_", "x"), r"loss_curve_ must be a list"),
        ("est", setitem(["estimator"], "out_activation_", "identity"),
         r"out_activation_ must be one of \('softmax',\)"),
        ("est", setitem(["estimator", "params"], "alpha", -1.0),
         r"invalid estimator parameters: .*alpha"),
        ("est", setitem(["estimator", "params"], "nonsense", 1),
         r"invalid estimator parameters: .*nonsense"),
        ("est", setitem(["estimator", "params"], "hidden_layer_sizes", {"set": [1]}),
         r"parameter 'hidden_layer_sizes': unexpected value"),
        ("est", setitem(["estimator"], "feature_names_in_", ["a"]),
         r"feature_names_in_ has 1 names for 4 columns"),
        ("cli", setitem([], "metadata", "s"), r"metadata must be an object, got the string"),
        ("cli", setitem(["metadata"], "preprocessing", "s"),
         r"metadata.preprocessing must be an object"),
        ("cli", setitem(["metadata"], "feature_names", 5),
         r"metadata.feature_names must be a list of strings, got the number 5"),
        ("cli", setitem(["metadata"], "feature_names", ["w", "w", "y", "z"]), r"repeats"),
        ("cli", setitem(["metadata"], "classes", ["a", "b"]),
         r"metadata.classes has 2 labels for the network's 3 outputs"),
        ("cli", setitem(["metadata"], "task", "ranking"), r"metadata.task must be one of"),
        ("cli", setitem(["metadata", "preprocessing"], "scale", "log"),
         r"metadata.preprocessing.scale must be one of"),
        ("cli", setitem(["metadata", "preprocessing"], "mean", [0.0] * 3),
         r"metadata.preprocessing.mean has 3 values for 4 features"),
        ("cli", setitem(["metadata", "preprocessing"], "factor", [1, 1, "x", 1]),
         r"metadata.preprocessing.factor\[2\] must be a finite number, got the string 'x'"),
        ("cli", setitem(["metadata", "trained"], "epochs", [3]),
         r"metadata.trained.epochs must be a number"),
        ("cli", setitem(["model", "layers", 0], "n_in", 3),
         r"param:0.W has shape \(4, 5\) and dtype float64, expected \(3, 5\)"),
        ("cli", setitem(["model", "layers", 0], "bias", "no"), r"bias must be True or False"),
        ("cli", setitem(["model", "layers", 1], "type", "Conv2d"),
         r"model.layers\[1\]: unknown layer type 'Conv2d'"),
    ],
)
def test_every_field_of_the_description_is_checked(saved, tmp_path, source, change, pattern):
    path = changed(saved / f"{source}.npz", tmp_path / "bad.npz", change)
    with pytest.raises(ModelFileError, match=pattern):
        load(path, with_metadata=True)


@pytest.mark.parametrize(
    ("layer", "value", "pattern"),
    [
        ({"type": "LeakyReLU"}, {"alpha": float("nan")}, "LeakyReLU: alpha must be finite"),
        ({"type": "ELU"}, {"alpha": float("inf")}, "ELU: alpha must be finite"),
        ({"type": "ELU"}, {"alpha": "0.1"}, "ELU: alpha must be a real number"),
        ({"type": "Dropout"}, {"p": 1.5}, r"Dropout: p must be in \[0, 1\)"),
        ({"type": "GELU"}, {"approximate": "cubic"}, "GELU"),
        ({"type": "ReLU"}, {"inplace": True}, "unexpected keyword"),
        ({"type": "Dropout"}, {"p": [0.1]}, "must be a number, a string, a boolean or null"),
    ],
)
def test_layer_arguments_from_a_file_are_validated_as_in_code(tmp_path, layer, value, pattern):
    model = mlp.Sequential(mlp.Linear(2, 2, rng=0))
    config, arrays = archive_of(save(model, tmp_path / "m.npz"))
    config["model"]["layers"].append({**layer, **value})
    with pytest.raises(ModelFileError, match=pattern):
        load(write_archive(tmp_path / "bad.npz", config, arrays))
    if not isinstance(next(iter(value.values())), list):  # the same check in code
        with pytest.raises((TypeError, ValueError), match=pattern.split(":")[-1].strip()):
            mlp.io.LAYER_TYPES[layer["type"]](**value)


def test_non_finite_hyperparameters_are_refused_in_code_too():
    for make in (lambda: mlp.LeakyReLU(float("nan")), lambda: mlp.ELU(float("inf")),
                 lambda: mlp.PReLU(float("-inf")), lambda: mlp.BatchNorm1d(3, eps=np.inf)):
        with pytest.raises(ValueError, match="must be finite"):
            make()


def peak_memory(function):
    import tracemalloc

    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def raises_model_file_error(path, pattern):
    def go():
        with pytest.raises(ModelFileError, match=pattern):
            load(path)
    return go


@pytest.mark.parametrize("size", [6000, 10**7])
def test_declared_shapes_are_compared_before_anything_is_allocated(tmp_path, size):
    config, arrays = archive_of(save(mlp.Sequential(mlp.Linear(2, 2, rng=0)),
                                     tmp_path / "m.npz"))
    config["model"]["layers"][0].update(n_in=size, n_out=size)
    path = write_archive(tmp_path / "big.npz", config, arrays)
    peak = peak_memory(raises_model_file_error(
        path, rf"param:0.W has shape \(2, 2\) and dtype float64, expected \({size}, {size}\)"))
    assert peak < 2**20


def test_unknown_members_are_refused_by_name_before_being_read(tmp_path):
    config, arrays = archive_of(save(mlp.Sequential(mlp.Linear(2, 2, rng=0)),
                                     tmp_path / "m.npz"))
    text = json.dumps(config).encode()
    np.savez_compressed(tmp_path / "bomb.npz", __config__=np.frombuffer(text, dtype=np.uint8),
                        **arrays, **{"param:9.W": np.zeros(2**21)})
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000  # 16 MB inflated
    peak = peak_memory(raises_model_file_error(
        tmp_path / "bomb.npz", r"unexpected \['param:9.W'\]"))
    assert peak < 2**20
    np.savez(tmp_path / "foreign.npz", __config__=np.frombuffer(text, dtype=np.uint8),
             **arrays, payload=np.zeros(3))
    with pytest.raises(ModelFileError, match="unexpected member 'payload.npy'"):
        load(tmp_path / "foreign.npz")


def test_a_header_declaring_more_than_the_member_holds_is_refused(tmp_path):
    import zipfile

    config, _ = archive_of(save(mlp.Sequential(mlp.Linear(2, 2, rng=0)), tmp_path / "m.npz"))
    config["model"]["layers"][0].update(n_in=10**6, n_out=10**6, bias=False)
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**6, 10**6)
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as archive:
        with archive.open("__config__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(json.dumps(config).encode(), np.uint8))
        with archive.open("param:0.W.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(np.zeros(2).tobytes())
    peak = peak_memory(raises_model_file_error(
        tmp_path / "liar.npz", r"param:0.W declares shape \(1000000, 1000000\) "
                               r"\(8000000000000 bytes of float64\) but holds 16 bytes"))
    assert peak < 2**20


def test_layers_of_inconsistent_widths_are_refused(tmp_path):
    save(mlp.Sequential(mlp.Linear(4, 5, rng=0), mlp.Linear(6, 3, rng=0)), tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match=r"model.layers\[1\]: Linear\(6 -> 3\) takes 6 "
                                             "features but the layer before it gives 5"):
        load(tmp_path / "m.npz")


def test_loading_never_initialises_the_weights_it_reads(tmp_path, monkeypatch):
    model = mlp.Sequential(mlp.Linear(3, 4, rng=0), mlp.Tanh(), mlp.Linear(4, 2, rng=1))
    save(model, tmp_path / "m.npz")

    def forbidden(self, rng=None):
        raise AssertionError("weights drawn only to be overwritten")

    monkeypatch.setattr(mlp.Linear, "reset_parameters", forbidden)
    loaded = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded[2].params["W"], model[2].params["W"])
    monkeypatch.undo()
    loaded[0].reset_parameters(5)  # the method is the class's again, not the stand-in
    assert not np.array_equal(loaded[0].params["W"], model[0].params["W"])


def test_deep_nesting_is_refused_with_a_clear_error(tmp_path):
    config, arrays = archive_of(save(mlp.Sequential(mlp.ReLU()), tmp_path / "m.npz"))
    spec = {"type": "ReLU"}
    for _ in range(40):
        spec = {"type": "Sequential", "layers": [spec]}
    config["model"] = spec
    with pytest.raises(ModelFileError, match="nested more than 32 deep"):
        load(write_archive(tmp_path / "deep.npz", config, arrays))
    deep = '{"type": "Sequential", "layers": [' * 5000 + ']}' * 5000
    text = json.dumps(config).replace(json.dumps(spec), deep)
    with pytest.raises(ModelFileError, match="nested"):
        load(write_archive(tmp_path / "deeper.npz", None, arrays, text=text))
    text = json.dumps(dict(config, metadata={"x": "@"})).replace('"@"', "[" * 100000
                                                                 + "]" * 100000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load(write_archive(tmp_path / "json.npz", None, arrays, text=text))


def test_non_regular_files_are_refused_without_waiting(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.npz")
    with pytest.raises(ModelFileError, match="not a regular file"):
        load(tmp_path / "fifo.npz")
    with pytest.raises(ModelFileError, match="it is a directory"):
        load(tmp_path)
    with pytest.raises(ModelFileError, match="not a regular file"):
        load("/dev/zero")


def test_non_finite_weights_are_refused_at_save(tmp_path):
    model = mlp.Sequential(mlp.Linear(2, 2, rng=0), mlp.BatchNorm1d(2))
    save(model, tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    model[1].buffers["running_var"][0] = np.inf
    with pytest.raises(ValueError, match=r"cannot save 1.running_var: it contains NaN or "
                                         "infinity"):
        save(model, tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


# -- estimator hyperparameters keep their types ------------------------------------------------


def fitted(**params):
    X, y = load_iris(return_X_y=True)
    return mlp.MLPClassifier(max_iter=3, **params).fit(X, y), X, y


def test_class_weight_with_integer_keys_round_trips_and_keeps_training(tmp_path):
    est, X, y = fitted(hidden_layer_sizes=(7,), class_weight={0: 1.0, 1: 2.0, 2: 0.5},
                       random_state=0)
    loaded = load(save(est, tmp_path / "e.npz"))
    assert loaded.class_weight == {0: 1.0, 1: 2.0, 2: 0.5}
    assert all(type(key) is int for key in loaded.class_weight)
    assert loaded.hidden_layer_sizes == (7,)
    loaded.partial_fit(X, y)
    from sklearn.base import clone

    assert clone(loaded).fit(X, y).score(X, y) > 0.3


def test_numpy_scalar_hyperparameters_are_saved_as_the_numbers_they_are(tmp_path):
    est, _, _ = fitted(hidden_layer_sizes=(np.int64(5),), alpha=np.float64(1e-3),
                       random_state=np.int32(1))
    est.set_params(max_iter=np.array([5, 10])[1], shuffle=np.bool_(False))
    loaded = load(save(est, tmp_path / "e.npz"))
    params = loaded.get_params()
    assert params["max_iter"] == 10
    assert type(params["max_iter"]) is int
    assert params["alpha"] == 1e-3
    assert type(params["alpha"]) is float
    assert params["shuffle"] is False
    assert params["hidden_layer_sizes"] == (5,)


@pytest.mark.parametrize("make", [lambda: np.random.RandomState(0),
                                  lambda: np.random.default_rng(0)])
def test_a_random_state_object_round_trips_with_its_state(tmp_path, make):
    est, _, _ = fitted(random_state=make())
    loaded = load(save(est, tmp_path / "e.npz"))
    original, restored = est.random_state, loaded.random_state
    assert type(restored) is type(original)
    draw = (lambda r: r.randint(1 << 30, size=5)) if isinstance(original, np.random.RandomState) \
        else (lambda r: r.integers(1 << 30, size=5))
    np.testing.assert_array_equal(draw(restored), draw(original))


def test_a_hyperparameter_no_file_can_hold_is_refused_by_name(tmp_path):
    est, _, _ = fitted()
    est.set_params(activation=object())
    with pytest.raises(TypeError, match=r"cannot save MLPClassifier with activation=") as info:
        save(est, tmp_path / "e.npz")
    assert "metadata" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_files_of_format_1_still_load(saved, tmp_path):
    def old(config):
        config["format_version"] = 1
        config["estimator"]["params"]["hidden_layer_sizes"] = [5]
    loaded = load(changed(saved / "est.npz", tmp_path / "v1.npz", old))
    assert loaded.hidden_layer_sizes == [5]
