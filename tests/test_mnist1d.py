"""MNIST-1D through the optional ``mnist1d`` package: the data, what loading it leaves alone,
and what is said when the package is missing or installed but broken.

The tests of the package's absence and breakage run whether or not it is installed: absence is
``sys.modules["mnist1d"] = None``; breakage is a stand-in package of that name, first on the
path, whose import fails as the real one's does when one of its dependencies is hidden.
"""

# The package draws from numpy's global generator: these tests use it on purpose, to show that
# loading the data leaves it alone.
# ruff: noqa: NPY002

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlp._optional import OptionalPackageError, installed
from mlp.datasets import MNIST1D_TRAIN, load_dataset, load_mnist1d

needs_mnist1d = pytest.mark.skipif(not installed("mnist1d"),
                                   reason="the optional package mnist1d is not installed")
BENCH = Path(__file__).resolve().parent.parent / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def data():
    if not installed("mnist1d"):
        pytest.skip("the optional package mnist1d is not installed")
    return load_mnist1d()


def test_the_paper_s_data_and_split(data):
    from mnist1d.data import get_dataset_args, make_dataset

    assert data.X.shape == (5000, 40)
    assert data.X.dtype == np.float64
    np.testing.assert_array_equal(np.bincount(data.y), [500] * 10)
    assert data.classes == [str(k) for k in range(10)]
    # the package's own train / test split is the first 4000 rows and the last 1000
    state = np.random.get_state()
    reference = make_dataset(get_dataset_args())
    np.random.set_state(state)
    np.testing.assert_array_equal(data.X[:MNIST1D_TRAIN], reference["x"])
    np.testing.assert_array_equal(data.X[MNIST1D_TRAIN:], reference["x_test"])
    np.testing.assert_array_equal(data.y[MNIST1D_TRAIN:], reference["y_test"])
    # centred and scaled over the whole set
    assert abs(data.X.mean()) < 1e-12
    assert data.X.std() == pytest.approx(1.0, rel=1e-12)


@needs_mnist1d
def test_loading_leaves_the_global_random_state_alone():
    np.random.seed(123)
    random.seed(123)
    expected_numpy, expected_python = np.random.random(3), random.random()
    np.random.seed(123)
    random.seed(123)
    load_dataset("mnist1d")
    np.testing.assert_array_equal(np.random.random(3), expected_numpy)
    assert random.random() == expected_python


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_linear_and_nonlinear_models_part_as_the_paper_says(data):
    # the set exists to separate them: the paper reports 32% test accuracy for logistic
    # regression and 68% for an MLP; ten epochs of each already show the gap
    import mlp

    X_train, y_train = data.X[:MNIST1D_TRAIN], data.y[:MNIST1D_TRAIN]
    X_test, y_test = data.X[MNIST1D_TRAIN:], data.y[MNIST1D_TRAIN:]

    def accuracy(hidden):
        return mlp.MLPClassifier(hidden_layer_sizes=hidden, batch_size=100,
                                 learning_rate_init=1e-2, max_iter=10, n_iter_no_change=10,
                                 random_state=0).fit(X_train, y_train).score(X_test, y_test)

    linear, net = accuracy(()), accuracy((100, 100))
    assert 0.22 < linear < 0.40
    assert net > linear + 0.2


MISSING = ("the mnist1d data needs the optional package mnist1d: pip install mnist1d (or, in a "
           "checkout of this project, pip install -e '.[mnist1d]')")


def test_a_missing_package_is_one_clear_sentence(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # as if it were not installed
    assert not installed("mnist1d")
    with pytest.raises(OptionalPackageError) as info:
        load_mnist1d()
    assert str(info.value) == MISSING
    # a ValueError for the command line's one line, an ImportError for what it is
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ImportError)


def run(code_or_argv, tmp_path, env=(), timeout=120):
    """A Python process whose path starts with ``tmp_path`` (the stand-ins there win)."""
    argv = code_or_argv if isinstance(code_or_argv, list) else ["-c", code_or_argv]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]), **dict(env)}
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=tmp_path)


def test_the_command_line_says_so_in_one_line_when_it_is_missing(tmp_path):
    result = run("import sys\nsys.modules['mnist1d'] = None\nfrom mlp.cli import main\n"
                 "sys.exit(main(['train', '--data', 'mnist1d']))", tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"mlp train: error: {MISSING}"]


@pytest.fixture
def broken(tmp_path):
    """A package mnist1d that is installed, and whose import fails for want of matplotlib,
    which a sitecustomize hides (as on a machine where matplotlib is broken or gone)."""
    package = tmp_path / "mnist1d"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "data.py").write_text("import matplotlib.pyplot as plt  # as mnist1d.utils does\n"
                                     "def get_dataset_args(): pass\n"
                                     "def make_dataset(args): pass\n")
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n")
    return tmp_path


BROKEN = ("the mnist1d data needs the optional package mnist1d, which is installed but fails "
          "to import: ModuleNotFoundError: No module named 'matplotlib'")


def test_an_installed_package_that_fails_to_import_is_reported_as_that(broken):
    code = ("import sys\nfrom mlp.datasets import load_mnist1d\n"
            "try:\n    load_mnist1d()\nexcept ValueError as exc:\n    print(exc)\n")
    result = run(code, broken)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [BROKEN]
    assert "pip install" not in result.stdout  # installing it again would not help


def test_the_command_line_reports_a_broken_package_in_one_line(broken):
    result = run(["-m", "mlp", "train", "--data", "mnist1d"], broken)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"mlp train: error: {BROKEN}"]


def test_the_benchmark_refuses_a_workload_whose_package_is_broken(broken):
    result = run([str(BENCH), "--quick", "--only", "mnist1d"], broken)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"bench.py: error: --only 'mnist1d': workload 7 (mnist1d) cannot run: {BROKEN}"]
    assert result.stdout == ""


@pytest.mark.skipif(not installed("matplotlib"), reason="matplotlib is not installed")
@pytest.mark.parametrize("argv", [["train", "--data", "mnist1d"],
                                  ["train", "--plot", "curves.png"]])
def test_a_bad_matplotlib_backend_is_named_with_its_variable(tmp_path, argv):
    # matplotlib itself refuses to import with MPLBACKEND=bogus: the message says which
    # package failed, matplotlib's reason (cut to a line) and the variable that caused it
    (tmp_path / "mnist1d").mkdir()
    (tmp_path / "mnist1d" / "__init__.py").write_text("")
    (tmp_path / "mnist1d" / "data.py").write_text("import matplotlib.pyplot\n")
    result = run(["-m", "mlp", *argv], tmp_path, env={"MPLBACKEND": "bogus"})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    needs = "--plot: plotting" if "--plot" in argv else "the mnist1d data"
    package = "matplotlib" if "--plot" in argv else "mnist1d"
    assert line.startswith(f"mlp train: error: {needs} needs the optional package {package}, "
                           "which is installed but fails to import: ValueError: Key backend: "
                           "'bogus' is not a valid value for backend")
    assert line.endswith("(the environment variable MPLBACKEND is 'bogus')")
    assert len(line) < 300
    assert not (tmp_path / "curves.png").exists()


@needs_mnist1d
def test_command_line_trains_on_mnist1d(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlp", "train", "--data", "mnist1d", "--hidden", "32",
         "--epochs", "5", "--batch-size", "100", "--lr", "0.01", "--test-fraction", "0.2",
         "--json", str(tmp_path / "metrics.json")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    import json

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.3  # ten classes: chance is 0.1
