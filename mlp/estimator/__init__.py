"""scikit-learn estimators: MLPClassifier and MLPRegressor.

They take scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` parameters with the same names,
meanings and defaults, so replacing the import is enough, and add what scikit-learn's MLP does
not offer: any activation of the library (one per hidden layer if wished), dropout, batch
normalisation, class weights and an explicit validation set. Underneath, ``model_`` is an
ordinary :class:`mlp.Sequential`, trained by :class:`mlp.trainer.Trainer` (solvers "sgd" and
"adam", :mod:`.stochastic`) or by ``scipy.optimize.minimize`` (solver "lbfgs", :mod:`.lbfgs`).
"""

from .classifier import MLPClassifier
from .pipeline import fit_with_validation
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "fit_with_validation"]
