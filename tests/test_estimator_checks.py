"""scikit-learn's own conformance suite, run on both estimators."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlp import MLPClassifier, MLPRegressor

# The one check that cannot hold for minibatch solvers, and why. The same property is tested
# for solver="lbfgs" in test_estimator.py, where it does hold.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "with minibatch Adam (the default), a sample of weight 2 and the same sample twice "
        "give the same objective but different batches and steps, so the fits differ "
        "slightly; exact for solver='lbfgs' (test_sample_weight_equals_repetition_lbfgs)"
    ),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPClassifier(), MLPRegressor()],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
