"""Accuracy next to scikit-learn's own MLP, same hyperparameters, same splits."""

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler

from mlp import MLPClassifier, MLPRegressor

SEEDS = range(3)


def split(loader, stratify):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if stratify else None)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer, load_digits],
                         ids=["iris", "wine", "breast_cancer", "digits"])
def test_classifier_accuracy_matches_scikit_learn(loader):
    X_train, X_test, y_train, y_test = split(loader, stratify=True)
    ours = np.mean([MLPClassifier(random_state=s).fit(X_train, y_train).score(X_test, y_test)
                    for s in SEEDS])
    theirs = np.mean([SklearnClassifier(random_state=s).fit(X_train, y_train)
                      .score(X_test, y_test) for s in SEEDS])
    assert ours >= theirs - 0.02, (ours, theirs)
    assert ours >= 0.9


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_r2_matches_scikit_learn_on_diabetes():
    X_train, X_test, y_train, y_test = split(load_diabetes, stratify=False)

    def r2(regressor):
        # the target (25..346) is standardised too, as a practitioner would
        model = TransformedTargetRegressor(regressor, transformer=StandardScaler())
        return model.fit(X_train, y_train).score(X_test, y_test)

    params = {"hidden_layer_sizes": (16,), "max_iter": 300}
    ours = np.mean([r2(MLPRegressor(random_state=s, **params)) for s in SEEDS])
    theirs = np.mean([r2(SklearnRegressor(random_state=s, **params)) for s in SEEDS])
    assert abs(ours - theirs) <= 0.05, (ours, theirs)
    assert ours > 0.2
