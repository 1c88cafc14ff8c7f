"""The grader judges a correct gradient written another way as correct: its comparison with
the reference allows the round-off of another summation order (and a zero gradient is not
judged by a relative error)."""

import types

import numpy as np

import mlp
from mlp.exercise import checks, probes


def three_paths(layer, dY, input_grad, beta_factor=1.0):
    """BatchNorm's backward with the paths through X̂, μ and σ² written out, sums in other
    orders (the grader runs it as a method of its own class: no super())."""
    self = layer
    X_hat, inv_std = self._X_hat, self._inv_std
    self.grads["beta"][...] = beta_factor * (np.ones(len(dY)) @ dY)
    self.grads["gamma"][...] = np.einsum("nk,nk->k", dY, X_hat)
    if not input_grad:
        return None
    dX_hat = dY * self.params["gamma"]
    if not self._batch_stats:
        return dX_hat * inv_std
    N, centred = len(dY), X_hat / inv_std
    d_var = np.sum(dX_hat * centred, axis=0) * -0.5 * inv_std**3
    d_mean = -inv_std * np.sum(dX_hat, axis=0) + d_var * np.mean(-2 * centred, axis=0)
    return dX_hat * inv_std + d_var * 2 * centred / N + d_mean / N


class BatchNorm1d(mlp.BatchNorm1d):
    def backward(self, dY, input_grad=True):
        return three_paths(self, dY, input_grad)


class Linear(mlp.Linear):
    def backward(self, dY, input_grad=True):
        self.grads["W"][...] = np.einsum("ni,nj->ij", self._X, dY)
        self.grads["b"][...] = np.ones(len(dY)) @ dY
        return np.einsum("nj,ij->ni", dY, self.params["W"]) if input_grad else None


def test_correct_backward_in_another_form_passes_on_every_input():
    student = types.SimpleNamespace(BatchNorm1d=BatchNorm1d, Linear=Linear)
    for item in ("BatchNorm1d.backward", "Linear.backward"):
        fn = checks.student_function(student, item)
        for seed in range(10):
            want = probes.run(item, mlp, None, seed=seed)
            assert checks.judge(item, probes.run(item, mlp, fn, seed=seed), want) == (True, "ok")


def test_a_wrong_backward_in_that_form_still_fails():
    class Halved(mlp.BatchNorm1d):
        def backward(self, dY, input_grad=True):
            return three_paths(self, dY, input_grad, beta_factor=0.5)

    fn = checks.student_function(types.SimpleNamespace(BatchNorm1d=Halved),
                                 "BatchNorm1d.backward")
    want = probes.run("BatchNorm1d.backward", mlp, None, seed=0)
    passed, message = checks.judge("BatchNorm1d.backward",
                                   probes.run("BatchNorm1d.backward", mlp, fn, seed=0), want)
    assert not passed, message
    assert "beta" in message, message
    assert "0.5" in message, message
