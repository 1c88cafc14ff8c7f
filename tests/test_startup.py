"""Start-up: what ``import mlp`` and the ``mlp`` command load, and the lazy names still work.

Each check runs in a fresh interpreter and inspects ``sys.modules``: deterministic, no timing.
"""

import json
import pickle
import pydoc
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import mlp
from mlp.cli import build_parser
from mlp.cli.data import scaling, split_rows

HEAVY = ("numpy", "scipy", "sklearn", "pandas", "matplotlib", "tqdm", "joblib", "threadpoolctl")


def loaded_after(code):
    """Run ``code`` in a fresh interpreter; the top-level packages of HEAVY it loaded."""
    probe = (f"{code}\nimport json, sys\n"
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
             f"{set(HEAVY)!r})))\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith('scipy.'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    *output, packages, scipy_modules = result.stdout.splitlines()
    return "\n".join(output), set(json.loads(packages)), set(json.loads(scipy_modules))


def test_import_mlp_loads_no_heavy_package():
    _, packages, _ = loaded_after("import mlp")
    assert packages == set()


def test_help_and_version_load_neither_numpy_nor_scikit_learn():
    run = ("from mlp.cli import main\n"
           "for argv in (['--help'], ['--version']):\n"
           "    try:\n"
           "        main(argv)\n"
           "    except SystemExit as exc:\n"
           "        print('exit', exc.code)\n")
    output, packages, _ = loaded_after(run)
    assert packages == set()
    assert output.count("exit 0") == 2
    for command in ("train", "predict", "gradcheck", "summary", "exercise"):
        assert f"    {command}" in output
    assert f"mlp {mlp.__version__}" in output


def test_the_core_loads_numpy_only():
    _, packages, _ = loaded_after(
        "from mlp import Sequential, Linear, ReLU, Tanh, SoftmaxCrossEntropyLoss, Adam, fit, "
        "check_model")
    assert packages == {"numpy"}


def test_scipy_special_is_imported_by_the_first_layer_that_calls_it():
    output, packages, scipy_modules = loaded_after(
        "import numpy as np\n"
        "from mlp import GELU, Sigmoid, PoissonLoss\n"
        "X = np.array([[-40.0, 0.0, 3.0]])\n"
        "print(Sigmoid().forward(X).tolist(), GELU().forward(X)[0, 2])\n"
        "print(PoissonLoss().forward(np.zeros((1, 3)), np.array([[0.0, 1.0, 2.0]])))")
    first, poisson = output.splitlines()
    sigmoid, gelu = first.rsplit(" ", 1)
    # Σ y·log y − y·u − y + e^u at u = 0, y = 0, 1, 2: 1 + 0 + (2 ln 2 − 1) = 2 ln 2
    assert float(poisson) == pytest.approx(2 * np.log(2), rel=1e-14)
    assert json.loads(sigmoid)[0] == pytest.approx([np.exp(-40.0), 0.5, 1 / (1 + np.exp(-3))],
                                                   rel=1e-14)
    assert float(gelu) == pytest.approx(3 * 0.9986501019683699, rel=1e-15)
    assert "scipy.special" in scipy_modules
    assert not {m for m in scipy_modules if m.split(".")[1] in ("sparse", "optimize", "stats")}
    assert packages == {"numpy", "scipy"}


def test_train_on_iris_loads_neither_scikit_learn_nor_pandas():
    output, packages, _ = loaded_after(
        "from mlp.cli import main\n"
        "assert main(['train', '--data', 'iris', '--epochs', '50']) == 0\n")
    assert packages == {"numpy"}
    assert float(output.split("test accuracy: ")[1].split()[0]) >= 0.9


# -- the lazy names ---------------------------------------------------------------------------


def test_every_public_name_resolves_to_its_module_object():
    from mlp import estimator, layers, trainer

    assert mlp.Linear is layers.Linear
    assert mlp.fit is trainer.fit
    assert mlp.MLPClassifier is estimator.MLPClassifier
    for name in mlp.__all__:
        value = getattr(mlp, name)
        assert getattr(value, "__name__", name).rsplit(".", 1)[-1] == name
    assert set(mlp.__all__) <= set(dir(mlp))
    assert {"io", "datasets", "exercise", "autodiff", "cli", "threads", "tables"} <= set(dir(mlp))
    assert "__main__" not in dir(mlp)


def test_star_import_and_submodules_after_a_bare_import():
    namespace = {}
    exec("from mlp import *", namespace)
    assert {"Sequential", "MLPRegressor", "check_model", "optim"} <= set(namespace)
    # every submodule is an attribute of a bare ``import mlp``, as when all were imported
    output, _, _ = loaded_after("import mlp\nprint(mlp.io.save.__module__, "
                                "mlp.datasets.load_iris().X.shape, mlp.history.History)")
    assert output == "mlp.io (150, 4) <class 'mlp.history.History'>"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'mlp' has no attribute 'Linaer'"):
        mlp.Linaer  # noqa: B018
    assert not hasattr(mlp, "sklearn")
    assert not hasattr(mlp, "__main__")  # which would run the command
    with pytest.raises(ImportError, match="cannot import name 'Nope'"):
        exec("from mlp import Nope", {})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_pickle_and_load_in_a_fresh_interpreter(tmp_path, iris):
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    path = tmp_path / "clf.pkl"
    path.write_bytes(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "clf.joblib")
    assert np.array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)
    np.save(tmp_path / "X.npy", X)
    # a fresh process that never imported mlp: unpickling finds the class by its module
    output, _, _ = loaded_after(
        "import pickle, numpy as np\n"
        f"clf = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"print(type(clf).__module__, clf.predict(np.load({str(tmp_path / 'X.npy')!r}))[:3])")
    assert output == f"mlp.estimator.classifier {clf.predict(X)[:3]}"


def test_documentation_tools_see_the_lazy_names():
    text = pydoc.render_doc(mlp, renderer=pydoc.plaintext)
    assert "MLPClassifier" in text
    assert "Sequential" in text
    assert "Every name is imported on first use" in text


def test_subcommand_parsers_get_their_arguments_when_used():
    parser = build_parser()
    train = parser.commands["train"]
    assert "--data" in train.format_help()
    args = parser.parse_args(["gradcheck", "--samples", "4", "--hidden", "3", "2"])
    assert (args.samples, args.hidden, args.command) == (4, [3, 2], "gradcheck")
    assert callable(args.run)
    args = parser.parse_args(["exercise", "make", "out", "--only", "Adam"])
    assert (args.step, args.outdir, args.only) == ("make", "out", ["Adam"])


# -- the split and scaling that replace scikit-learn's on the command line ---------------------


@pytest.mark.parametrize(("counts", "n_part", "expected"), [
    ([50, 50, 50], 45, [15, 15, 15]),              # Iris, 30 percent
    ([2] * 10, 10, [1] * 10),                      # one row of each class on each side
    ([3, 97], 2, [1, 1]),                          # a rare class still reaches both parts
    ([1000, 7, 3, 40], 315, [300, 2, 1, 12]),      # shares 300, 2.1, 0.9, 12
    ([5, 5, 90], 96, [4, 4, 88]),                  # shares 4.8, 4.8, 86.4: one row stays
    ([10, 10, 10], 16, None),                      # a tie: one class at random gets 6
])
def test_a_stratified_split_keeps_each_class_share(counts, n_part, expected):
    y = np.repeat(np.arange(len(counts)), counts)
    y = y[np.random.default_rng(0).permutation(len(y))]
    rest, part = split_rows(y, n_part, np.random.default_rng(1), stratify=True)
    assert len(part) == n_part
    assert len(rest) == len(y) - n_part
    assert np.array_equal(np.sort(np.concatenate([rest, part])), np.arange(len(y)))
    in_part = np.bincount(y[part], minlength=len(counts)).tolist()
    if expected is None:
        assert sorted(in_part) == [5, 5, 6]
        ties = {tuple(np.bincount(y[split_rows(y, n_part, np.random.default_rng(seed),
                                                stratify=True)[1]])) for seed in range(12)}
        assert len(ties) > 1  # not always the same class
    else:
        assert in_part == expected
    again = split_rows(y, n_part, np.random.default_rng(1), stratify=True)
    assert np.array_equal(again[1], part)
    assert np.array_equal(again[0], rest)
    other = split_rows(y, n_part, np.random.default_rng(2), stratify=True)[1]
    assert not np.array_equal(np.sort(other), np.sort(part))


def test_an_unstratified_split_is_a_random_partition():
    y = np.zeros(20, dtype=int)
    rest, part = split_rows(y, 6, np.random.default_rng(0), stratify=False)
    assert len(part) == 6
    assert np.array_equal(np.sort(np.concatenate([rest, part])), np.arange(20))


@pytest.mark.parametrize(("kind", "scaler"), [("standard", StandardScaler),
                                              ("minmax", MinMaxScaler)])
def test_scaling_matches_scikit_learn(kind, scaler):
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 5.0, size=(40, 4)) * [1.0, 1e-8, 1e8, 1.0]
    X[:, 3] = 2.5  # a constant feature: shifted only
    center, factor = scaling(X, kind)
    expected = scaler().fit(X).transform(X)
    np.testing.assert_allclose((X - center) * factor, expected, rtol=1e-12, atol=1e-12)
    assert factor[3] == 1.0


def test_the_progress_bar_is_drawn_on_a_terminal_only():
    import fcntl
    import os
    import select
    import struct
    import termios

    primary, secondary = os.openpty()
    # 24 rows of 100 columns: tqdm draws nothing on a terminal without a width
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlp", "train", "--data", "iris", "--epochs", "3"],
            stdout=subprocess.PIPE, stderr=secondary, text=True)
        os.close(secondary)
        drawn = b""
        while select.select([primary], [], [], 60)[0]:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        assert process.wait(timeout=120) == 0
        process.stdout.close()
    finally:
        os.close(primary)
    assert b"0/3 [" in drawn  # the bar as it starts
    assert b"epoch" in drawn
    piped = subprocess.run([sys.executable, "-m", "mlp", "train", "--data", "iris", "--epochs",
                            "3"], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0
    assert piped.stderr == ""
