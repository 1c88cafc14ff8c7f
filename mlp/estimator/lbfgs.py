"""The "lbfgs" solver: ``scipy.optimize.minimize`` on the flattened parameters."""

from __future__ import annotations

import numpy as np

from ..losses import L2Penalty


def lbfgs_objective(est, X, y_enc, sample_weight):
    """The function L-BFGS minimises, at the flat parameter vector θ.

    Returns ``objective(theta) -> (value, grad)``, which loads θ into the model and gives
    Σ sᵢℓᵢ / Σ sᵢ + α/(2 Σ sᵢ)·Σ‖W‖² and its gradient (float64, for scipy), and the model's
    current θ. Without weights, sᵢ = 1 and Σ sᵢ = N (scikit-learn's definition).
    """
    model, loss = est.model_, est._loss
    params = model.parameters()
    dtype = X.dtype
    total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    penalty = L2Penalty(est.alpha / (2.0 * total))

    def objective(theta):
        theta = theta.astype(dtype, copy=False)
        offset = 0
        for p in params:
            size = p.value.size
            p.value[...] = theta[offset:offset + size].reshape(p.value.shape)
            offset += size
        value = loss.forward(model.forward(X), y_enc, sample_weight)
        model.backward(loss.backward(), input_grad=False)
        value += penalty.forward(params)
        penalty.backward(params)
        grad = np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)
        return value, grad

    theta = np.concatenate([p.value.ravel() for p in params]).astype(np.float64)
    return objective, theta


def fit_lbfgs(est, X, y_enc, sample_weight):
    """Minimise ``est``'s full-batch objective over all parameters of ``est.model_``.

    Returns
    -------
    (X, sample_weight, unconverged)
        The data trained on, and the ConvergenceWarning's message when scipy stopped before
        converging, else None.
    """
    from scipy.optimize import minimize

    model = est.model_
    objective, theta0 = lbfgs_objective(est, X, y_enc, sample_weight)
    curve = []

    def record(intermediate_result):
        curve.append(float(intermediate_result.fun))
        est._report(f"Iteration {len(curve)}, loss = {curve[-1]:.8f}")

    model.train()
    result = minimize(objective, theta0, method="L-BFGS-B", jac=True, callback=record,
                      options={"maxfun": est.max_fun, "maxiter": est.max_iter,
                               "gtol": est.tol})
    objective(result.x)  # load the final weights
    est.n_iter_ = int(result.nit)
    est.t_ += X.shape[0] * max(int(result.nit), 1)
    est.loss_ = float(result.fun)
    est.loss_curve_.extend(curve)
    est.best_loss_ = min(est.best_loss_ if est.best_loss_ is not None else np.inf,
                         est.loss_)
    unconverged = None
    if result.status != 0:  # 1: max_iter or max_fun reached; 2: the line search failed
        unconverged = (f"lbfgs failed to converge after {result.nit} iterations (max_iter = "
                       f"{est.max_iter}, max_fun = {est.max_fun}): increase them or scale "
                       f"the data. scipy says: {result.message}")
    return X, sample_weight, unconverged
