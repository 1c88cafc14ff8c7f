"""scikit-learn's callback protocol (sklearn.callback, scikit-learn >= 1.9) on the estimators:
each fit a task, each epoch a subtask."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import mlp

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9 has no callbacks")


class Recorder:
    """A FitCallback that notes every hook, and can ask to stop after a given epoch."""

    def __init__(self, stop_after=None):
        self.events, self.stop_after = [], stop_after

    def setup(self, estimator, context):
        self.events.append(("setup", context.task_name))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None):
        self.events.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.events.append(("end", context.task_name, context.task_id))
        if context.task_name == "epoch":
            # the network as it is after this epoch, ready to predict
            self.scores = getattr(self, "scores", []) + [fitted_estimator.score(X, y)]
            return self.stop_after is not None and context.task_id + 1 >= self.stop_after
        return False

    def teardown(self, estimator, context):
        self.events.append(("teardown", context.task_name))


def test_each_epoch_is_a_task_of_the_fit(iris):
    X, y = iris
    recorder = Recorder()
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.set_callbacks(recorder).fit(X, y)
    epochs = [e for k in range(4) for e in (("begin", "epoch", k), ("end", "epoch", k))]
    assert recorder.events == [("setup", "fit"), ("begin", "fit", 0), *epochs,
                               ("end", "fit", 0), ("teardown", "fit")]
    # the last epoch's network is the fitted one
    assert recorder.scores[-1] == clf.score(X, y)
    assert clone(clf)._skl_callbacks == [recorder]


def test_a_callback_returning_true_stops_training_after_that_epoch(iris):
    X, y = iris
    recorder = Recorder(stop_after=3)
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    clf.set_callbacks(recorder).fit(X, y)  # stopped, not converged: no warning either
    assert clf.n_iter_ == len(clf.loss_curve_) == 3
    assert recorder.events[-2:] == [("end", "fit", 0), ("teardown", "fit")]


def test_partial_fit_and_lbfgs_report_their_tasks(iris):
    X, y = iris
    recorder = Recorder()
    reg = mlp.MLPRegressor(hidden_layer_sizes=(4,), random_state=0).set_callbacks(recorder)
    reg.partial_fit(X, y.astype(float))
    assert [e for e in recorder.events if e[0] == "end"] == [("end", "epoch", 0),
                                                             ("end", "fit", 0)]
    recorder.events.clear()
    lbfgs = mlp.MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=500,
                             random_state=0).set_callbacks(recorder)
    lbfgs.fit(X, y.astype(float))
    assert recorder.events == [("setup", "fit"), ("begin", "fit", 0), ("end", "fit", 0),
                               ("teardown", "fit")]


def test_scoring_monitor_scores_every_epoch(iris):
    X, y = iris
    monitor = callback.ScoringMonitor(scoring="accuracy")
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, early_stopping=True,
                            n_iter_no_change=3, learning_rate_init=0.05, random_state=0)
    clf.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = sorted((r for r in rows if r["task_name"] == "epoch"), key=lambda r: r["task_id"])
    assert [r["task_id"] for r in epochs] == list(range(clf.n_iter_))
    (fit,) = [r for r in rows if r["task_name"] == "fit"]
    assert fit["accuracy"] == clf.score(X, y)  # the restored best epoch's weights
    assert max(r["accuracy"] for r in epochs) >= 0.8


def test_scikit_learns_progress_bar_shows_the_fit(iris, capsys):
    pytest.importorskip("rich", reason="scikit-learn's ProgressBar draws with rich")
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, tol=1e-3,
                            learning_rate_init=0.05, random_state=0)
    clf.set_callbacks(callback.ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    assert "MLPClassifier - fit" in out
    assert "100%" in out
    assert clf.score(X, y) > 0.9
    assert np.isfinite(clf.loss_)
