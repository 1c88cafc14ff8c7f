"""Warm start with early stopping goes on as scikit-learn's MLP does: the count of epochs
without improvement and the best validation score carry over from fit to fit.

Compared by rules alone (tol=10 cannot be met by a score of at most 1, so after the first
epoch every epoch is one without improvement, whatever the trajectory): the numbers compared
are whole counts and lengths, exact on any machine.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import mlp


def _record(est, X, y, fits):
    seen = []
    for _ in range(fits):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        scores = est.validation_scores_
        seen.append({"n_iter_": est.n_iter_, "scores": len(scores),
                     "count": est._no_improvement_count, "best_loss_": est.best_loss_,
                     "best_is_max": est.best_validation_score_ == max(scores),
                     "epochs": len(est.loss_curve_)})
    return seen


@pytest.mark.parametrize(("ours", "theirs"), [(mlp.MLPClassifier, SkClassifier),
                                              (mlp.MLPRegressor, SkRegressor)])
def test_warm_fits_with_early_stopping_count_on_like_scikit_learn(iris, ours, theirs):
    X, y = iris
    settings = dict(hidden_layer_sizes=(4,), early_stopping=True, tol=10.0, n_iter_no_change=2,
                    max_iter=10, warm_start=True, random_state=0)
    expected = _record(theirs(**settings), X, y, 3)
    # the first fit stops when the count passes 2 (epochs 2, 3, 4 without improvement); each
    # warm fit starts with that count and the best score to beat, so it stops after one epoch
    assert [r["n_iter_"] for r in expected] == [4, 1, 1]
    assert [r["count"] for r in expected] == [3, 4, 5]
    assert _record(ours(**settings), X, y, 3) == expected


def test_a_warm_fit_that_beats_no_earlier_score_keeps_its_last_weights(iris):
    X, y = iris
    clf = mlp.MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, tol=10.0,
                            n_iter_no_change=2, max_iter=10, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        before = [W.copy() for W in clf.coefs_]
        best = clf.best_validation_score_
        clf.fit(X, y)
    assert clf.n_iter_ == 1
    # the one epoch's weights, restored only if it beat the earlier best strictly
    assert clf.best_validation_score_ == max(best, clf.validation_scores_[-1])
    assert not all(np.array_equal(a, b) for a, b in zip(before, clf.coefs_, strict=True))
