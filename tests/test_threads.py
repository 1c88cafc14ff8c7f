"""The BLAS thread policy: whose limit stands, what "auto" picks, and that it is round-off only.

The suite runs with one BLAS thread set through the environment (conftest). A test of what
"auto" itself decides removes those variables and puts the BLAS at what looks like its
default count (the cores, pinned to 2 here), as in a process nobody limited.
"""

import contextlib
import math
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import OpenBLASController, threadpool_info, threadpool_limits

import mlp
from mlp import threads
from mlp.cli import main
from mlp.threads import BREAK_EVEN, blas_threads, check_threads, choose_threads
from mlp.trainer import Trainer


def blas_counts():
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def idle_but(monkeypatch, busy):
    """``busy`` cores busy with other processes, from the next reading on."""
    monkeypatch.setattr(threads, "busy_cores", lambda: busy)
    monkeypatch.setattr(threads, "_READING", (-math.inf, 0))


@pytest.fixture
def unlimited(monkeypatch):
    """A process nobody limited: no variables, the BLAS at its default of 2 threads, idle."""
    for name in threads.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(threads, "blas_default", lambda library: 2)
    idle_but(monkeypatch, 0)
    with threadpool_limits(2, user_api="blas"):
        yield


def net(*widths, seed=0):
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [mlp.Linear(n_in, n_out, rng=rng), mlp.ReLU()]
    return mlp.Sequential(layers[:-1])


SMALL = net(64, 64, 10)  # digits: 200·64·64 = 819,200 at batch 200
LARGE = net(784, 256, 256, 10)


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("auto", None), (3, 3),
                                             (np.int64(2), 2)])
def test_thread_counts_accepted(value, expected):
    assert check_threads(value) == expected


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2", "all"])
def test_thread_counts_refused_by_name(value):
    with pytest.raises(ValueError, match=r"threads must be a positive integer, 'auto' or None"):
        check_threads(value)


def test_largest_product_is_batch_times_the_widest_layer():
    assert threads.largest_product(SMALL, 200) == 200 * 64 * 64 < BREAK_EVEN
    assert threads.largest_product(LARGE, 256) == 256 * 784 * 256
    nested = mlp.Sequential(mlp.Linear(4, 8), mlp.Residual(mlp.Sequential(mlp.Linear(8, 8))))
    assert threads.largest_product(nested, 10) == 640
    assert threads.largest_product(mlp.ReLU(), 10) == 0


def test_auto_gives_small_networks_one_thread(unlimited):
    decision = choose_threads(None, model=SMALL, batch_size=200)
    assert decision.threads == 1
    assert "below the break-even" in decision.reason


def test_auto_gives_large_networks_the_free_cores(unlimited, monkeypatch):
    assert choose_threads("auto", model=LARGE, batch_size=256).threads == 2
    idle_but(monkeypatch, 1)
    decision = choose_threads("auto", model=LARGE, batch_size=256)
    assert decision.threads == 1
    assert "1 of 2 cores busy" in decision.reason
    idle_but(monkeypatch, 2)
    assert choose_threads("auto", model=LARGE, batch_size=256).threads == 1


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"])
def test_a_limit_in_the_environment_is_kept(unlimited, monkeypatch, name):
    if name == "OPENBLAS_NUM_THREADS" and "openblas" not in {
            info["internal_api"] for info in threadpool_info()}:
        pytest.skip("OpenBLAS's own variable")
    monkeypatch.setenv(name, "2")
    for model, batch in ((SMALL, 200), (LARGE, 256)):
        decision = choose_threads(None, model=model, batch_size=batch)
        assert decision.threads is None
        assert f"{name}=2 set in the environment" in decision.reason
    with blas_threads(None, model=SMALL, batch_size=200):
        assert blas_counts() == {2}  # not lowered to 1


def test_an_outer_threadpool_limit_is_kept(unlimited):
    with threadpool_limits(1, user_api="blas"):
        decision = choose_threads(None, model=LARGE, batch_size=256)
        assert decision.threads is None
        assert "set by the caller (1)" in decision.reason
        with blas_threads(None, model=LARGE, batch_size=256):
            assert blas_counts() == {1}  # not raised to the free cores


@pytest.mark.parametrize("count", [1, 2])  # the cores: 2
def test_an_explicit_count_is_honoured_even_over_the_environment(unlimited, monkeypatch, count):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert choose_threads(count, model=SMALL, batch_size=200).threads == count
    with blas_threads(count, model=SMALL, batch_size=200):
        assert blas_counts() == {count}
    assert blas_counts() == {2}


def test_the_previous_count_comes_back_after_an_error(unlimited):
    with contextlib.suppress(RuntimeError), blas_threads(None, model=SMALL, batch_size=200):
        assert blas_counts() == {1}
        raise RuntimeError("training failed")
    assert blas_counts() == {2}


def test_an_inner_training_run_keeps_the_outer_choice(unlimited):
    with blas_threads(2, model=SMALL, batch_size=200):
        inner = choose_threads(None, model=SMALL, batch_size=200)
        assert inner.threads is None
        assert "enclosing" in inner.reason
        assert choose_threads(1, model=SMALL, batch_size=200).threads == 1


def test_busy_cores_is_a_count_of_cores():
    assert 0 <= threads.busy_cores() <= threads._cores()


# -- where training applies it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def counts_during(trainer):
    """Record the BLAS thread counts in effect during each epoch of ``trainer.fit``."""
    seen = []
    trainer.callbacks.append(lambda epoch, history: seen.append(blas_counts()) and False)
    return seen


@pytest.mark.parametrize(("hidden", "expected"), [(32, 1), (256, 2)])
def test_trainer_fit_uses_the_chosen_count_and_restores_it(unlimited, digits, hidden, expected):
    X, y = digits
    model = net(64, hidden, 10)
    trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(model.parameters()),
                      batch_size=200, rng=0)
    seen = counts_during(trainer)
    trainer.fit(X, y, epochs=2)
    assert seen == [{expected}] * 2
    assert blas_counts() == {2}


def test_trainer_refuses_a_bad_count():
    with pytest.raises(ValueError, match="Trainer: threads must be a positive integer"):
        Trainer(SMALL, mlp.SoftmaxCrossEntropyLoss(), mlp.Adam(SMALL.parameters()), threads=0)


def test_auto_threads_train_as_one_thread_does_to_round_off(unlimited, digits):
    # 200·64·256 is above the break-even: "auto" trains with 2 threads here, which sum the
    # products in another order; a few epochs agree to round-off (float64). Plain SGD: its
    # step is linear in the gradient, where Adam's g/√v would blow up the round-off of a
    # gradient component that is nearly zero.
    X, y = digits
    weights = {}
    for count in (None, 1):
        model = net(64, 256, 10)
        trainer = Trainer(model, mlp.SoftmaxCrossEntropyLoss(),
                          mlp.SGD(model.parameters(), lr=0.1), batch_size=200, rng=0,
                          threads=count)
        seen = counts_during(trainer)
        trainer.fit(X, y, epochs=3)
        assert seen == [{2 if count is None else 1}] * 3
        weights[count] = [p.value.copy() for p in model.parameters()]
    for auto, one in zip(weights[None], weights[1], strict=True):
        np.testing.assert_allclose(auto, one, rtol=1e-8, atol=1e-10)


def test_estimator_n_threads_is_a_plain_parameter():
    clf = mlp.MLPClassifier(n_threads=2)
    assert clf.get_params()["n_threads"] == 2
    assert clone(clf).n_threads == 2
    assert mlp.MLPRegressor().get_params()["n_threads"] is None
    with pytest.raises(ValueError, match=r"The 'n_threads' parameter of MLPClassifier must be "
                                         r"an int in the range \[1, inf\), 'auto' or None"):
        mlp.MLPClassifier(n_threads=0).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize(("solver", "expected"), [("adam", 2), ("lbfgs", 2), ("sgd", 1)])
def test_estimator_solvers_fit_with_the_chosen_count(unlimited, digits, monkeypatch, solver,
                                                      expected):
    from mlp.estimator import _base

    X, y = digits
    seen = []
    chosen = _base.blas_threads

    @contextlib.contextmanager
    def recording(*args, **kwargs):
        with chosen(*args, **kwargs) as decision:
            seen.append((decision.threads, blas_counts()))
            yield decision

    monkeypatch.setattr(_base, "blas_threads", recording)
    # sgd with batches of 10: 10·64·256 is below the break-even; lbfgs multiplies all 600 rows
    clf = mlp.MLPClassifier(hidden_layer_sizes=(256,), solver=solver, max_iter=2,
                            batch_size=10 if solver == "sgd" else "auto", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert seen == [(expected, {expected})]
    assert blas_counts() == {2}


def test_estimator_auto_fits_as_one_thread_does_to_round_off(unlimited, digits):
    X, y = digits
    fitted = []
    for count in (None, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted.append(mlp.MLPClassifier(hidden_layer_sizes=(256,), solver="sgd",
                                            momentum=0.0, max_iter=3, random_state=0,
                                            n_threads=count).fit(X, y))
    for auto, one in zip(fitted[0].coefs_, fitted[1].coefs_, strict=True):
        np.testing.assert_allclose(auto, one, rtol=1e-8, atol=1e-10)


def test_estimator_with_n_threads_round_trips_through_a_model_file(digits, tmp_path):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, n_threads=1,
                                random_state=0).fit(X, y)
    mlp.io.save(clf, tmp_path / "clf.npz")
    assert mlp.io.load(tmp_path / "clf.npz").n_threads == 1


def test_cli_threads(capsys):
    assert main(["train", "--data", "iris", "--epochs", "5", "--quiet", "--threads", "2"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", "iris", "--threads", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mlp train: error: argument --threads: expected a positive integer or "
                   "'auto', got '0' (see 'mlp train --help')"]


def test_only_the_variables_of_the_loaded_blas_limit(unlimited, monkeypatch):
    loaded = {info["internal_api"] for info in threadpool_info() if info["user_api"] == "blas"}
    if loaded != {"openblas"}:
        pytest.skip("checks an OpenBLAS build")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")  # MKL is not loaded: it limits nothing
    monkeypatch.setenv("BLIS_NUM_THREADS", "1")
    assert threads.caller_limit() is None
    assert choose_threads(None, model=LARGE, batch_size=256).threads == 2
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert "OPENBLAS_NUM_THREADS=1" in threads.caller_limit()
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # read by every BLAS
    assert "OMP_NUM_THREADS=1" in choose_threads(None, model=LARGE, batch_size=256).reason


def test_an_explicit_count_is_capped_at_the_cores(unlimited):
    decision = choose_threads(1000)
    assert decision.threads == 2
    assert "1000 asked, capped at the 2 cores" in decision.reason
    assert choose_threads(2) == (2, "as asked")
    with blas_threads(1000):
        assert blas_counts() == {2}


# -- trainings that overlap in several Python threads ----------------------------------------


def in_threads(*steps):
    """Run each of ``steps`` in its own thread; re-raise the first error of any."""
    errors = []

    def run(step):
        try:
            step()
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    workers = [threading.Thread(target=run, args=(step,)) for step in steps]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("first_out", ["A", "B"])
def test_overlapping_trainings_share_the_count_and_the_last_restores_it(unlimited, first_out):
    # A (1 thread) begins, B (2 threads) begins in another thread, one of them ends, then the
    # other: the count is the smallest chosen while both run, the survivor's after, and the
    # one from before both at the end, whichever ends first
    a_alone, first_done, both_in = threading.Event(), threading.Event(), threading.Barrier(2)
    seen = {}

    def training(name, count):
        with blas_threads(count, model=SMALL, batch_size=200):
            if name == "A":
                seen["alone"] = blas_counts()
                a_alone.set()
            both_in.wait(10)
            seen[f"both ({name})"] = blas_counts()
            both_in.wait(10)
            if name != first_out:
                assert first_done.wait(10)
                seen["after"] = blas_counts()
        if name == first_out:
            first_done.set()

    def b():
        assert a_alone.wait(10)
        training("B", 2)

    in_threads(lambda: training("A", 1), b)
    assert seen == {"alone": {1}, "both (A)": {1}, "both (B)": {1},
                    "after": {2} if first_out == "A" else {1}}
    assert blas_counts() == {2}


def test_a_training_that_fails_in_one_thread_leaves_the_count_to_the_others(unlimited):
    a_in, a_failed = threading.Event(), threading.Event()
    seen = []

    def failing():
        with contextlib.suppress(RuntimeError), blas_threads(1):
            a_in.set()
            raise RuntimeError("training failed")
        a_failed.set()

    def surviving():
        with blas_threads(1):
            assert a_in.wait(10)
            assert a_failed.wait(10)
            seen.append(blas_counts())

    in_threads(failing, surviving)
    assert seen == [{1}]
    assert blas_counts() == {2}


def test_auto_beside_another_training_counts_its_core_not_its_limit(unlimited):
    # while a training in another thread runs at 1 thread, "auto" sees the count from before
    # it (2, the default: no caller's limit) and counts that training's core as busy
    running, decided = threading.Event(), threading.Event()
    decisions = []

    def other():
        with blas_threads(1):
            running.set()
            assert decided.wait(10)

    def auto():
        assert running.wait(10)
        with blas_threads(None, model=LARGE, batch_size=256) as decision:
            decisions.append((decision, blas_counts()))
        decided.set()

    in_threads(other, auto)
    (decision, counts), = decisions
    assert decision.threads == 1
    assert "1 of 2 cores busy" in decision.reason
    assert counts == {1}
    assert blas_counts() == {2}


def test_a_nested_training_counts_as_its_threads_choice(unlimited):
    # in one thread, an inner explicit count stands for that thread while it runs
    outer_in, inner_done, seen = threading.Event(), threading.Event(), []

    def nested():
        with blas_threads(2):
            outer_in.set()
            with blas_threads(1):
                seen.append(blas_counts())
            seen.append(blas_counts())
        inner_done.set()

    def beside():
        with blas_threads(2):
            assert outer_in.wait(10)
            assert inner_done.wait(10)

    in_threads(nested, beside)
    assert seen == [{1}, {2}]
    assert blas_counts() == {2}


def test_partial_fits_in_two_threads_leave_the_count_as_it_was(unlimited, digits):
    X, y = digits
    OpenBLASController.clear_controlling_thread(force=True)

    def calls(seed):
        clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), n_threads=1, random_state=seed)
        for start in range(0, 600, 50):
            clf.partial_fit(X[start:start + 50], y[start:start + 50], classes=np.arange(10))

    in_threads(lambda: calls(0), lambda: calls(1), lambda: calls(2))
    assert blas_counts() == {2}


def test_a_grid_search_in_threads_leaves_the_count_as_it_was(unlimited, digits):
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = digits
    # as in a script that limited nothing before: no thread holds threadpoolctl's control of
    # OpenBLAS (the fixture's block gave it to this one, and the workers' changes would be
    # ignored)
    OpenBLASController.clear_controlling_thread(force=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for count in (1, None):
            with joblib.parallel_backend("threading", n_jobs=2):
                GridSearchCV(mlp.MLPClassifier(hidden_layer_sizes=(32,), max_iter=3,
                                               n_threads=count),
                             {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}, cv=2).fit(X, y)
            assert blas_counts() == {2}


# -- what deciding costs -----------------------------------------------------------------------


def counting_busy_cores(monkeypatch):
    calls = []
    monkeypatch.setattr(threads, "busy_cores", lambda: calls.append(1) or 0)
    monkeypatch.setattr(threads, "_READING", (-math.inf, 0))
    return calls


def test_a_fit_below_the_break_even_does_not_measure_the_machine(unlimited, monkeypatch):
    calls = counting_busy_cores(monkeypatch)
    clf = mlp.MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        clf.partial_fit(rng.normal(size=(20, 8)), rng.integers(0, 2, 20), classes=[0, 1])
    assert calls == []


def test_one_reading_of_the_busy_cores_serves_fits_within_its_window(unlimited, monkeypatch):
    calls = counting_busy_cores(monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(threads, "_clock", lambda: now[0])
    for _ in range(3):  # partial_fit of 100 rows of a 784-256-10 network, above the break-even
        assert choose_threads(None, model=net(784, 256, 10), batch_size=100).threads == 2
    assert len(calls) == 1
    now[0] += threads.BUSY_READING_SECONDS / 2
    choose_threads(None, model=LARGE, batch_size=100)
    assert len(calls) == 1
    now[0] += threads.BUSY_READING_SECONDS
    choose_threads(None, model=LARGE, batch_size=100)
    assert len(calls) == 2


def test_a_single_core_is_not_measured(unlimited, monkeypatch):
    calls = counting_busy_cores(monkeypatch)
    monkeypatch.setattr(threads, "_cores", lambda: 1)
    assert choose_threads(None, model=LARGE, batch_size=256) == (1, "one core available")
    assert calls == []
