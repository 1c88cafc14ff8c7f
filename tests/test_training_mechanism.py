"""One mechanism: the trainer's own stopping arguments, the estimators' scikit-learn rules
and the user's callbacks are all mlp.callbacks, and the estimators take the library's."""

import csv
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import mlp
from mlp.callbacks import Callback, Convergence, CSVLogger, EarlyStopping, LRScheduler
from mlp.estimator import stochastic
from mlp.schedules import InverseScaling
from mlp.trainer import Trainer


def make_trainer(callbacks=(), seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    model = mlp.Sequential(mlp.Linear(4, 8, rng=rng), mlp.Tanh(), mlp.Linear(8, 3, rng=rng))
    return Trainer(model, mlp.SoftmaxCrossEntropyLoss(), mlp.SGD(model.parameters(), lr=0.05),
                   batch_size=16, rng=seed, callbacks=callbacks,
                   score=lambda m, X, y: float(np.mean(m.forward(X).argmax(axis=1) == y)),
                   **kwargs)


def flat(model):
    return np.concatenate([p.value.ravel() for p in model.parameters()])


class Spy(Convergence):
    """Convergence that remembers every instance made, and what it decided."""

    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.verdicts, self.plateaus = [], 0
        Spy.made.append(self)

    def on_epoch_end(self, epoch, logs=None):
        verdict = super().on_epoch_end(epoch, logs)
        self.verdicts.append(verdict)
        return verdict

    def _go_on(self):
        self.plateaus += 1
        return super()._go_on()


@pytest.fixture
def spy(monkeypatch):
    Spy.made = []
    monkeypatch.setattr(stochastic, "Convergence", Spy)
    return Spy


# -- the trainer's own arguments are a Convergence callback --------------------------------


def test_the_trainers_stopping_arguments_are_a_convergence_callback(iris):
    X, y = iris
    order = np.random.default_rng(1).permutation(150)
    train, val = order[:100], order[100:]
    split = (X[train], y[train]), (X[val], y[val])
    built = make_trainer(early_stopping=True, n_iter_no_change=3, tol=1e-3)
    assert isinstance(built.callbacks[0], Convergence)
    history = built.fit(*split[0], epochs=300, validation_data=split[1])
    by_hand = make_trainer([Convergence("val_score", n_iter_no_change=3, tol=1e-3,
                                        restore_best=True)])
    again = by_hand.fit(*split[0], epochs=300, validation_data=split[1])
    assert history.epochs == again.epochs < 300
    np.testing.assert_array_equal(flat(built.model), flat(by_hand.model))
    assert history.converged
    assert not history.stopped
    assert history.stop_reason == "converged"
    # sklearn's rule: stopped after more than 3 epochs without improvement, best kept
    assert history.kept_epoch == built.callbacks[0].best_epoch == history.epochs - 5
    assert history.val_score[history.kept_epoch] == max(history.val_score)
    assert "no improvement of val_score for 4 epochs" in history.stop_message


def test_stop_reason_and_kept_epoch_say_what_happened(iris):
    X, y = iris
    history = make_trainer().fit(X, y, epochs=3)
    assert (history.stop_reason, history.kept_epoch) == ("epochs", 2)
    stop = EarlyStopping("loss", patience=2, min_delta=10.0)  # nothing improves by 10
    history = make_trainer([stop]).fit(X, y, epochs=50)
    assert history.epochs == 3
    assert history.stopped
    assert (history.stop_reason, history.kept_epoch) == ("early stopping", 0)
    assert history.stop_message == "no improvement of loss for 2 epochs (best " \
        f"{history.loss[0]:.6g} at epoch 1)"


def test_a_number_a_callback_adds_is_seen_by_later_ones_and_kept(iris, tmp_path):
    X, y = iris

    class Doubled(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["twice_loss"] = 2 * logs["loss"]

    path = tmp_path / "log.csv"
    stop = EarlyStopping("twice_loss", patience=1, min_delta=1e9)
    history = make_trainer([Doubled(), CSVLogger(path), stop]).fit(X, y, epochs=5)
    assert history.metrics["twice_loss"] == [2 * v for v in history.loss]
    assert history.epochs == 2  # the second epoch did not improve by 1e9
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["twice_loss"]) for r in rows] == history.metrics["twice_loss"]


def test_lr_scheduler_per_sample_counts_what_invscaling_counts(iris):
    X, y = iris
    trainer = make_trainer()
    schedule = InverseScaling(trainer.optimizer, power_t=0.5)
    trainer.callbacks.append(LRScheduler(schedule, per="sample"))
    trainer.callbacks[-1].set_trainer(trainer)
    trainer.fit(X, y, epochs=3)
    assert schedule.t == 450
    assert trainer.optimizer.lr == 0.05 / 451**0.5


# -- the estimators' scikit-learn behaviour runs through the callbacks ---------------------


def test_the_estimators_early_stopping_is_a_convergence_callback(iris, spy):
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, n_iter_no_change=4,
                            max_iter=300, random_state=0).fit(X, y)
    (rule,) = spy.made
    assert rule.monitor == "val_score"
    assert rule.restore_best is True
    assert len(rule.verdicts) == clf.n_iter_ < 300
    assert rule.verdicts[-1] is True
    assert not any(rule.verdicts[:-1])
    assert rule.stopped_epoch == clf.n_iter_ - 1
    assert rule.best == clf.best_validation_score_ == max(clf.validation_scores_)
    assert rule.best_epoch == clf.validation_scores_.index(rule.best)


def test_the_estimators_adaptive_rate_is_convergences_on_plateau(iris, spy):
    X, y = iris
    clf = mlp.MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1,
                            n_iter_no_change=2, tol=0.5, max_iter=12, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    (rule,) = spy.made
    assert rule.monitor == "loss"
    assert rule.plateaus == 3
    assert clf._optimizer.lr == 0.1 / 5 / 5 / 5
    # lowered the rate each time rather than stopping
    assert not any(rule.verdicts)
    assert len(rule.verdicts) == 12


def test_library_callbacks_on_the_classifier(iris, tmp_path):
    X, y = iris
    path = tmp_path / "epochs.csv"
    stop = EarlyStopping("loss", patience=1, min_delta=1e9)
    clf = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0,
                            callbacks=[CSVLogger(path), stop])
    clf.fit(X, y)
    # fit ran a copy of the parameter's callbacks, kept as callbacks_
    ran = clf.callbacks_[1]
    assert clf.callbacks[1] is stop
    assert stop.stopped_epoch is None
    assert ran.stopped_epoch == 1
    assert clf.n_iter_ == 2
    assert ran.best_epoch == 0
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["loss"]) for r in rows] == clf.loss_curve_
    # restored to the best (first) epoch: its loss is the objective at the kept weights
    first = mlp.MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first.fit(X, y)
    for kept, after_one in zip(clf.coefs_, first.coefs_, strict=True):
        np.testing.assert_array_equal(kept, after_one)


def test_callbacks_is_a_clone_safe_parameter(iris, tmp_path):
    X, y = iris
    logger = CSVLogger(tmp_path / "log.csv")
    clf = mlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, callbacks=[logger])
    assert clf.get_params()["callbacks"] == [logger]
    copy = clone(clf)
    assert isinstance(copy.callbacks[0], CSVLogger)
    assert copy.callbacks[0] is not logger
    with pytest.raises(ValueError, match="'callbacks' parameter of MLPClassifier must be"):
        mlp.MLPClassifier(callbacks=[print]).fit(X, y)
    with pytest.raises(ValueError, match="solver='lbfgs' has none"):
        mlp.MLPClassifier(solver="lbfgs", callbacks=[logger]).fit(X, y)


def test_model_files_do_not_keep_callbacks(iris, tmp_path):
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0,
                            callbacks=[CSVLogger(tmp_path / "log.csv")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    mlp.io.save(clf, tmp_path / "clf.npz")
    loaded = mlp.io.load(tmp_path / "clf.npz")
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_convergence_counts_a_tie_as_scikit_learn_does_and_early_stopping_does_not():
    def verdicts(callback, values):
        callback.set_trainer(make_trainer())
        callback.on_train_begin({})
        return [callback.on_epoch_end(e, {"val_score": v}) for e, v in enumerate(values)]

    flat_scores = [0.5] * 6
    # tol=0: 0.5 >= 0.5 + 0 is an improvement, so a flat score never converges
    assert not any(verdicts(Convergence("val_score", n_iter_no_change=1, tol=0.0),
                            flat_scores))
    # more than n_iter_no_change=1 epochs below best + tol: stops at the third
    assert verdicts(Convergence("val_score", n_iter_no_change=1, tol=0.1),
                    flat_scores)[:3] == [False, False, True]
    # Keras' rule: patience 2 epochs not strictly better
    assert verdicts(EarlyStopping("val_score", patience=2), flat_scores)[:3] == \
        [False, False, True]


@pytest.mark.parametrize("more", ["partial_fit", "warm_start"])
def test_the_adaptive_count_goes_on_across_calls_as_scikit_learns(iris, more):
    from sklearn.neural_network import MLPClassifier as Reference

    X, y = iris
    # tol=10 cannot be met: after the first epoch every epoch is one without improvement,
    # whatever the losses, so the rate's sequence is the rule's alone
    settings = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate="adaptive",
                    learning_rate_init=0.1, tol=10.0, n_iter_no_change=2, max_iter=5,
                    random_state=0)
    rates = []
    for cls in (mlp.MLPClassifier, Reference):
        est = cls(**settings)
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            seen.append(est._optimizer.learning_rate if cls is Reference
                        else est._optimizer.lr)
            est.set_params(warm_start=True, max_iter=1)
            for _ in range(3):
                if more == "partial_fit":
                    est.partial_fit(X, y)
                else:
                    est.fit(X, y)
                seen.append(est._optimizer.learning_rate if cls is Reference
                            else est._optimizer.lr)
        rates.append(seen)
    # epochs 4 (count 3 > 2) and 7 lower the rate: in the fit and in the second call; a
    # warm-start fit starts from a new optimizer at learning_rate_init, the count goes on
    expected = [0.02, 0.02, 0.004, 0.004] if more == "partial_fit" else [0.02, 0.1, 0.02, 0.1]
    assert rates[0] == pytest.approx(expected, rel=1e-12)
    assert rates[0] == pytest.approx(rates[1], rel=1e-12)
