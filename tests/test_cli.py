"""The `mlp` command, run as a separate process on real files."""

import json
import os
import re
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import mlp
from mlp.cli import main
from mlp.datasets import load_iris
from mlp.io import load


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "mlp", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def one_line_error(result, pattern):
    """The process failed with exactly one line on stderr, matching pattern, no traceback."""
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_readme_main_command_prints_iris_accuracy():
    result = run("train", "--data", "iris")
    assert result.returncode == 0, result.stderr
    test_acc = float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1))
    assert test_acc >= 0.9
    assert float(re.search(r"train accuracy: ([0-9.]+)", result.stdout).group(1)) >= 0.95


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained, saved, plotted and scored by the command, with a CSV to predict."""
    folder = tmp_path_factory.mktemp("cli")
    result = run("train", "--data", "iris", "--hidden", "8", "--epochs", "60", "--save",
                 folder / "model.npz", "--json", folder / "metrics.json", "--plot",
                 folder / "curves.png", "--val-fraction", "0.2", "--quiet")
    assert result.returncode == 0, result.stderr
    data = load_iris()
    header = ",".join(data.feature_names)
    rows = "\n".join(",".join(f"{v:g}" for v in x) for x in data.X)
    (folder / "new.csv").write_text(f"{header}\n{rows}\n")
    return folder, result


def test_train_save_predict_matches_in_process(trained):
    folder, _ = trained
    result = run("predict", "--model", folder / "model.npz", "--data", folder / "new.csv",
                 "--out", folder / "pred.csv")
    assert result.returncode == 0, result.stderr
    lines = (folder / "pred.csv").read_text().splitlines()
    assert lines[0] == "prediction"
    predicted = lines[1:]

    model, meta = load(folder / "model.npz", with_metadata=True)
    X = load_iris().X
    pre = meta["preprocessing"]
    scaled = (X - np.array(pre["mean"])) * np.array(pre["factor"])
    expected = [meta["classes"][k] for k in model.forward(scaled).argmax(axis=1)]
    assert predicted == expected
    assert np.mean(np.array(predicted) == np.array(load_iris().classes)[load_iris().y]) > 0.9

    proba = run("predict", "--model", folder / "model.npz", "--data", folder / "new.csv",
                "--proba")
    rows = proba.stdout.strip().splitlines()
    assert rows[0] == "p(setosa),p(versicolor),p(virginica),prediction"
    P = np.array([[float(v) for v in row.split(",")[:3]] for row in rows[1:]])
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)
    assert [meta["classes"][k] for k in P.argmax(axis=1)] == expected
    assert [row.split(",")[3] for row in rows[1:]] == expected


def test_summary_matches_the_saved_model(trained):
    folder, _ = trained
    result = run("summary", "--model", folder / "model.npz")
    assert result.returncode == 0, result.stderr
    model = load(folder / "model.npz")
    assert model.summary() in result.stdout
    assert "classes: setosa, versicolor, virginica" in result.stdout
    assert "Total params: 67" in result.stdout  # 4·8 + 8 + 8·3 + 3


def test_json_metrics(trained):
    folder, result = trained
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["task"] == "classification"
    assert metrics["epochs"] == 60
    reported = float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1))
    assert metrics["test_accuracy"] == pytest.approx(reported, abs=1e-4)
    assert 0 <= metrics["val_accuracy"] <= 1


def test_plot_is_a_real_png(trained):
    folder, _ = trained
    data = (folder / "curves.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 800 <= width <= 2000  # two panels of 5 × 4 inches at 100 dpi
    assert 300 <= height <= 600
    assert len(data) > 10_000


def test_plot_with_decision_boundary_for_two_features(tmp_path):
    result = run("train", "--data", "moons", "--epochs", "20", "--plot", tmp_path / "b.png",
                 "--quiet")
    assert result.returncode == 0, result.stderr
    width, _ = struct.unpack(">II", (tmp_path / "b.png").read_bytes()[16:24])
    assert width >= 1400  # a third panel: the decision regions


def test_regression_on_a_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = 100 + 30 * X[:, 0] - 20 * X[:, 1]
    path = tmp_path / "lin.csv"
    path.write_text("u,v,t\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y, strict=True)))
    assert main(["train", "--data", str(path), "--epochs", "100", "--quiet",
                 "--save", str(tmp_path / "r.npz")]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"test R²: ([-0-9.]+)", out).group(1)) > 0.99
    assert main(["predict", "--model", str(tmp_path / "r.npz"), "--data", str(path)]) == 0
    predicted = np.array(capsys.readouterr().out.split()[1:], dtype=float)
    assert np.max(np.abs(predicted - y)) < 5  # back on the target's own scale


def test_gradcheck_passes():
    result = run("gradcheck", "--data", "iris", "--hidden", "8", "8", "--activation", "tanh",
                 "gelu", "--batch-norm", "--dropout", "0.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout


def test_gradcheck_fails_for_a_broken_layer():
    # the bug is injected into this process only; the shipped Tanh is untouched
    code = (
        "import sys, mlp\n"
        "mlp.Tanh.backward = lambda self, dY, input_grad=True: dY * (1 - self._Y)\n"
        "from mlp.cli import main\n"
        "sys.exit(main(['gradcheck', '--activation', 'tanh']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "FAILED" in result.stdout


@pytest.fixture
def bad_files(tmp_path):
    files = {
        "text.csv": "a,b,y\n1,x,0\n2,3,1\n3,4,0\n",
        "nan.csv": "a,b,y\n1,nan,0\n2,3,1\n3,4,0\n",
        "one.csv": "a,b,y\n1,2,k\n2,3,k\n3,4,k\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    model = mlp.Sequential(mlp.Linear(4, 3, rng=0))
    mlp.io.save(model, tmp_path / "good.npz")
    blob = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(blob[: len(blob) // 2])
    (tmp_path / "garbage.npz").write_bytes(os.urandom(300))
    with np.load(tmp_path / "good.npz") as archive:
        arrays = dict(archive)
    config = json.loads(arrays["__config__"].tobytes())
    config["format_version"] = 99
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(tmp_path / "newer.npz", **arrays)
    config["format_version"] = 1
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    arrays["param:0.W"] = np.array([{"boom": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["train", "--data", "{d}/missing.csv"], r"cannot read .*missing\.csv"),
        (["train", "--data", "{d}/text.csv"], r"line 2, column 'b': expected a number"),
        (["train", "--data", "{d}/nan.csv"], r"NaN or infinity"),
        (["train", "--data", "{d}/text.csv", "--target", "zz"], r"no column named 'zz'"),
        (["train", "--data", "{d}/one.csv"], r"single class \('k'\)"),
        (["train", "--hidden", "0"], r"--hidden: expected a positive integer, got '0'"),
        (["train", "--lr", "-1"], r"--lr: expected a positive number, got '-1'"),
        (["train", "--activation", "swish"], r"unknown activation 'swish'"),
        (["train", "--colour", "red"], r"^mlp train: error: unrecognized arguments: --colour red "
                                       r"\(see 'mlp train --help'\)$"),
        (["predict", "--model", "m.npz", "--data", "d.csv", "--frobnicate"],
         r"^mlp predict: error: unrecognized arguments: --frobnicate \(see 'mlp predict --help'"),
        (["predict", "--model", "{d}/garbage.npz", "--data", "{d}/text.csv"],
         r"not an mlp model file"),
        (["predict", "--model", "{d}/truncated.npz", "--data", "{d}/text.csv"],
         r"corrupted or truncated"),
        (["summary", "--model", "{d}/newer.npz"], r"newer version of mlp \(model format 99"),
        (["summary", "--model", "{d}/pickled.npz"], r"pickled object array; refusing"),
        (["summary", "--model", "{d}/nothing.npz"], r"no such file"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(bad_files, args, pattern):
    result = run(*[a.format(d=bad_files) for a in args])
    one_line_error(result, pattern)


def _interruptible():
    # A shell without job control starts background commands with SIGINT ignored, and the
    # child would inherit that: start it the way a terminal does, with the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(tmp_path):
    model_path = tmp_path / "model.npz"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "mlp", "train", "--data", "digits", "--hidden", "64",
         "--epochs", "100000", "--verbose", "--val-fraction", "0.2", "--save", str(model_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 3/"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted after" in err
    assert "keeping the best model so far" in err
    assert "model saved to" in out
    model, meta = load(model_path, with_metadata=True)
    assert meta["metrics"]["interrupted"] is True
    assert meta["metrics"]["val_accuracy"] > 0.8
    assert not [p for p in tmp_path.iterdir() if p.name != "model.npz"]  # no temporary files


@pytest.mark.parametrize(
    ("flags", "minimum"),
    [
        (["--optimizer", "sgd", "--batch-size", "full", "--lr", "0.5", "--minmax"], 0.85),
        (["--optimizer", "nesterov", "--dropout", "0.1", "--batch-norm"], 0.85),
        (["--optimizer", "rmsprop", "--lr", "0.005", "--l2", "1e-3", "--init", "he_normal"],
         0.85),
        (["--optimizer", "momentum", "--weight-decay", "1e-4", "--batch-size", "1"], 0.85),
        (["--hidden", "--no-scale"], 0.7),
        (["--hidden", "8", "8", "--activation", "tanh", "gelu", "--early-stopping", "5"], 0.85),
    ],
)
def test_train_options(capsys, flags, minimum):
    assert main(["train", "--data", "iris", "--epochs", "60", "--quiet", *flags]) == 0
    out = capsys.readouterr().out
    assert float(re.search(r"train accuracy: ([0-9.]+)", out).group(1)) >= minimum


def test_verbose_prints_one_line_per_epoch(capsys):
    assert main(["train", "--epochs", "4", "--verbose", "--quiet", "--val-fraction", "0.2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert all("val accuracy" in line for line in lines)


# -- outputs: checked first, written whole, with the permissions people expect ---------------


def test_an_unwritable_output_is_refused_before_training(tmp_path):
    for flag in ("--save", "--json", "--plot"):
        result = run("train", "--epochs", "500", flag, "/proc/nowhere/out")
        one_line_error(result, rf"^mlp train: error: {flag}: cannot write /proc/nowhere/out")
        assert result.stdout == ""  # no data line: nothing was trained
    result = run("train", "--save", tmp_path)
    one_line_error(result, r"--save: cannot write .*: it is a directory")


def test_saved_files_respect_the_umask_and_keep_an_existing_mode(tmp_path):
    def umask_027():
        os.umask(0o027)

    result = subprocess.run(
        [sys.executable, "-m", "mlp", "train", "--epochs", "2", "--quiet", "--save",
         str(tmp_path / "m.npz"), "--json", str(tmp_path / "m.json")],
        capture_output=True, text=True, timeout=300, preexec_fn=umask_027)
    assert result.returncode == 0, result.stderr
    assert [oct(os.stat(tmp_path / name).st_mode & 0o777) for name in ("m.npz", "m.json")] \
        == [oct(0o640)] * 2
    os.chmod(tmp_path / "m.json", 0o644)
    result = run("train", "--epochs", "2", "--quiet", "--json", tmp_path / "m.json")
    assert result.returncode == 0, result.stderr
    assert os.stat(tmp_path / "m.json").st_mode & 0o777 == 0o644
    assert json.loads((tmp_path / "m.json").read_text())["epochs"] == 2


def test_predictions_to_standard_output_and_symlinks(trained, tmp_path):
    folder, _ = trained
    args = ("predict", "--model", folder / "model.npz", "--data", folder / "new.csv")
    result = run(*args, "--out", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "prediction"
    assert len(result.stdout.splitlines()) == 151
    # standard output by its device name is not a file to replace: '-' says it
    result = run(*args, "--out", "/dev/stdout")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("mlp predict: error: --out: cannot write /dev/stdout: it is a ")
    assert line.endswith("; an output must be a regular file or a new name")
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    assert run(*args, "--out", tmp_path / "link.csv").returncode == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text().splitlines()[0] == "prediction"


def test_sigterm_stops_training_cleanly_and_saves_the_best_model(tmp_path):
    model_path = tmp_path / "model.npz"
    model_path.write_bytes(b"the previous model")
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "mlp", "train", "--data", "digits", "--epochs", "100000",
         "--verbose", "--val-fraction", "0.2", "--save", str(model_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch(r"terminated by SIGTERM after \d+ epochs: keeping the best model so "
                        r"far \(epoch \d+\)", lines[0]), lines[0]
    assert "stopped: terminated (SIGTERM)" in out
    val = float(re.search(r"val accuracy: ([0-9.]+)", out).group(1))
    model, meta = load(model_path, with_metadata=True)
    assert meta["metrics"]["interrupted"] is True
    assert meta["metrics"]["stop_reason"] == "interrupted"
    assert meta["metrics"]["val_accuracy"] == pytest.approx(val, abs=5e-5)
    assert val > 0.8
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary files


# -- one line, always --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["train", "--hidden", "100000000000"], r"^mlp train: error: out of memory: .*--hidden"),
        # overflowing in the first epoch: no finite epoch to keep (later, one is kept)
        (["train", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "50"],
         r"^mlp train: error: training diverged: .*try a smaller --lr"),
    ],
)
@pytest.mark.parametrize("warnings_as_errors", [False, True])
def test_memory_and_overflow_are_one_line(args, pattern, warnings_as_errors):
    flags = ["-W", "error"] if warnings_as_errors else []
    result = subprocess.run([sys.executable, *flags, "-m", "mlp", *args, "--quiet"],
                            capture_output=True, text=True, timeout=300)
    one_line_error(result, pattern)
    assert result.returncode == 2


def test_predict_names_the_row_that_overflows_the_scaling(trained, tmp_path):
    folder, _ = trained
    (tmp_path / "huge.csv").write_text(
        "sepal_length,sepal_width,petal_length,petal_width\n1,1,1,1\n1e308,-1e308,1,1\n")
    result = run("predict", "--model", folder / "model.npz", "--data", tmp_path / "huge.csv")
    one_line_error(result, r"huge.csv, data row 2: values too large for this model "
                           r"\(overflow in the model's feature scaling\)")


@pytest.mark.parametrize(
    ("error", "pattern", "status"),
    [
        (RecursionError("maximum recursion depth exceeded"), r"input nested too deeply", 2),
        (MemoryError(), r"out of memory", 2),
        (KeyError("x"), r"internal error: KeyError: 'x' \(run with --debug for the traceback\)",
         1),
    ],
)
def test_any_unexpected_exception_is_one_line_and_debug_shows_it(
        monkeypatch, capsys, error, pattern, status):
    from mlp.cli import summary

    def broken(args):
        raise error

    monkeypatch.setattr(summary, "run", broken)
    assert main(["summary", "--model", "m.npz"]) == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert re.search(pattern, lines[0]), captured.err
    assert lines[0].startswith("mlp summary: error: ")
    with pytest.raises(type(error)):
        main(["summary", "--model", "m.npz", "--debug"])


# -- CSV files as people have them -------------------------------------------------------------


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory):
    """Iris with a byte-order mark and an ID column, sorted by class, and without a header."""
    folder = tmp_path_factory.mktemp("iris")
    data = load_iris()
    names = data.feature_names
    rows = [f"{i + 1}," + ",".join(f"{v:g}" for v in x) + f",{data.classes[k]}"
            for i, (x, k) in enumerate(sorted(zip(data.X.tolist(), data.y, strict=True),
                                              key=lambda r: r[1]))]
    text = "id," + ",".join(names) + ",species\n" + "\n".join(rows) + "\n"
    (folder / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (folder / "plain.csv").write_text(text)
    (folder / "noheader.csv").write_text("\n".join(r.split(",", 1)[1] for r in rows) + "\n")
    return folder


def test_a_byte_order_mark_trains_and_predicts_like_a_plain_file(iris_files, tmp_path):
    model = tmp_path / "m.npz"
    result = run("train", "--data", iris_files / "bom.csv", "--target", "species", "--id", "id",
                 "--epochs", "60", "--quiet", "--save", model)
    assert result.returncode == 0, result.stderr
    meta = load(model, with_metadata=True)[1]
    assert meta["feature_names"] == load_iris().feature_names  # no mark, no id
    assert float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1)) > 0.85
    result = run("predict", "--model", model, "--data", iris_files / "plain.csv", "--id", "id",
                 "--proba")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,p(setosa),p(versicolor),p(virginica),prediction"
    assert len(lines) == 151
    assert lines[1].startswith("1,")
    first = lines[1].split(",")
    best = max(zip(map(float, first[1:4]), meta["classes"], strict=True))
    assert first[-1] == best[1] == "setosa"


def test_without_a_header_row(iris_files, tmp_path):
    result = run("train", "--data", iris_files / "noheader.csv", "--epochs", "5", "--quiet")
    one_line_error(result, r"noheader.csv: the first row \(5.1, 3.5, 1.4, 0.2, \.\.\.\) looks "
                           r"like data, not column names: add a header row, or pass --no-header")
    model = tmp_path / "m.npz"
    result = run("train", "--data", iris_files / "noheader.csv", "--no-header", "--epochs", "60",
                 "--quiet", "--save", model)
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1)) > 0.85
    result = run("predict", "--model", model, "--data", iris_files / "noheader.csv",
                 "--no-header")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "setosa"


@pytest.mark.parametrize(
    ("text", "flags", "pattern"),
    [
        ("a,b,y\n1,2,x\n3,4,\n5,6,y\n7,8,x\n", [], r"the target column 'y' is empty on "
                                                    r"line\(s\) 3$"),
        ("a,b,y\n1,2,x\n3,4,y\x00\n5,6,y\n", [], r"line 3: contains a NUL byte"),
        ("a,a,y\n1,2,x\n3,4,y\n", [], r"the column name 'a' appears twice"),
        ("a,b,y\n1,2,x\n3,4,y\n", [], r"--test-fraction 0.3 of 2 rows leaves 1 test row for 2 "
                                      r"classes: use more data or change --test-fraction"),
        ("a,b,y\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)),
         ["--val-fraction", "0.99"], r"--val-fraction 0.99 of 14 rows leaves 0 training rows"),
        ("a,b,y\n1,2,x\n3,4,y\n", ["--drop", "q"], r"no column named 'q' to drop"),
    ],
)
def test_messy_csv_files_are_one_line(tmp_path, text, flags, pattern):
    (tmp_path / "d.csv").write_text(text)
    result = run("train", "--data", tmp_path / "d.csv", "--quiet", "--save",
                 tmp_path / "m.npz", *flags)
    one_line_error(result, pattern)
    assert not (tmp_path / "m.npz").exists()


def test_array_files_train_and_predict(tmp_path):
    data = load_iris()
    np.savez(tmp_path / "iris.npz", X=data.X, y=np.array(data.classes)[data.y])
    result = run("train", "--data", tmp_path / "iris.npz", "--epochs", "60", "--quiet",
                 "--save", tmp_path / "m.npz")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"test accuracy: ([0-9.]+)", result.stdout).group(1)) > 0.85
    np.save(tmp_path / "X.npy", data.X[:3])
    result = run("predict", "--model", tmp_path / "m.npz", "--data", tmp_path / "X.npy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["prediction", "setosa", "setosa", "setosa"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_and_summary_read_an_estimator_saved_from_python(tmp_path):
    import pandas as pd

    data = load_iris()
    frame = pd.DataFrame(data.X, columns=data.feature_names)
    labels = np.array(data.classes)[data.y]
    est = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    est.fit(frame, labels)
    mlp.io.save(est, tmp_path / "est.npz")
    frame.iloc[:, ::-1].assign(id=range(150)).to_csv(tmp_path / "rows.csv", index=False)
    result = run("predict", "--model", tmp_path / "est.npz", "--data", tmp_path / "rows.csv",
                 "--id", "id", "--proba")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "id,p(setosa),p(versicolor),p(virginica),prediction"
    assert [line.split(",")[-1] for line in lines[1:]] == list(est.predict(frame))
    P = np.array([[float(v) for v in line.split(",")[1:4]] for line in lines[1:]])
    np.testing.assert_allclose(P, est.predict_proba(frame), rtol=1e-5)
    result = run("summary", "--model", tmp_path / "est.npz")
    assert result.returncode == 0, result.stderr
    assert "estimator: MLPClassifier(hidden_layer_sizes=(8,), random_state=0)" in result.stdout
    assert "classes: setosa, versicolor, virginica" in result.stdout


# -- hostile model files on the command line ------------------------------------------------


def hostile(folder):
    """Model files that break one rule each, built from a good command-line model."""
    model = mlp.Sequential(mlp.Linear(4, 3, rng=0), mlp.LeakyReLU(0.1))
    meta = {"task": "classification", "classes": ["a", "b", "c"],
            "feature_names": ["w", "x", "y", "z"],
            "preprocessing": {"scale": "standard", "mean": [0.0] * 4, "factor": [1.0] * 4}}
    mlp.io.save(model, folder / "good.npz", metadata=meta)
    with np.load(folder / "good.npz") as archive:
        arrays = dict(archive)
    config = json.loads(arrays.pop("__config__").tobytes())

    def variant(name, change, text=None):
        c = json.loads(json.dumps(config))
        change(c)
        body = (text or json.dumps(c)).encode()
        np.savez(folder / name, __config__=np.frombuffer(body, dtype=np.uint8), **arrays)

    variant("meta-string.npz", lambda c: c.update(metadata="s"))
    variant("pre-string.npz", lambda c: c["metadata"].update(preprocessing="s"))
    variant("names-5.npz", lambda c: c["metadata"].update(feature_names=5))
    variant("classes-2.npz", lambda c: c["metadata"].update(classes=["a", "b"]))
    variant("alpha-nan.npz", lambda c: c["model"]["layers"][1].update(alpha=float("nan")))
    variant("huge.npz", lambda c: c["model"]["layers"][0].update(n_in=10**7, n_out=10**7))
    variant("estimator-x.npz", lambda c: c.update(estimator="x"))
    deep = '{"type": "Sequential", "layers": [' * 5000 + ']}' * 5000
    variant("deep.npz", lambda c: None, text=json.dumps(config).replace(
        json.dumps(config["model"]), deep))
    os.mkfifo(folder / "fifo.npz")
    (folder / "rows.csv").write_text("w,x,y,z\n1,2,3,4\n")


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("meta-string.npz", r"metadata must be an object, got the string 's'"),
        ("pre-string.npz", r"metadata.preprocessing must be an object"),
        ("names-5.npz", r"metadata.feature_names must be a list of strings, got the number 5"),
        ("classes-2.npz", r"metadata.classes has 2 labels for the network's 3 outputs"),
        ("alpha-nan.npz", r"LeakyReLU: alpha must be finite, got nan"),
        ("huge.npz", r"param:0.W has shape \(4, 3\) and dtype float64, expected "
                     r"\(10000000, 10000000\)"),
        ("estimator-x.npz", r"estimator must be an object"),
        ("deep.npz", r"nested"),
        ("fifo.npz", r"not a regular file"),
    ],
)
@pytest.mark.parametrize("command", ["summary", "predict"])
def test_hostile_model_files_are_one_line_on_the_command_line(tmp_path, capsys, name, pattern,
                                                             command):
    hostile(tmp_path)
    args = [command, "--model", str(tmp_path / name)]
    if command == "predict":
        args += ["--data", str(tmp_path / "rows.csv"), "--out", str(tmp_path / "out.csv")]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"mlp {command}: error: "), captured.err
    assert re.search(pattern, lines[0]), lines[0]
    assert captured.out == ""
    assert not (tmp_path / "out.csv").exists()
