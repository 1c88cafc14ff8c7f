"""scikit-learn's own conformance suite, run on both estimators."""

import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from mlp import MLPClassifier, MLPRegressor

# With the default solver the check compares predictions at rtol 1e-7 after up to 200 Adam
# epochs: weights and repetitions give the same objective (Σ sᵢℓᵢ/Σ sᵢ + α/(2Σ sᵢ)‖W‖²) at
# every step, but another summation order grows along so long a trajectory, so the outcome
# may depend on the BLAS kernel. Not strict; the property is asserted below and in
# test_estimator_weights.py where it is exact.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "200 Adam epochs compared at rtol 1e-7: equal objectives, but round-off from another "
        "summation order may grow along the trajectory"
    ),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILURES,
                         xfail_strict=False)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", [
    # the settings scikit-learn runs this check with on its own MLP
    MLPClassifier(solver="lbfgs"),
    MLPRegressor(solver="sgd", tol=1e-2, random_state=42),
], ids=repr)
def test_sample_weight_equivalence_as_scikit_learn_checks_its_mlp(estimator):
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
