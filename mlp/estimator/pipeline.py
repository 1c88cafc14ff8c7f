"""Fitting a Pipeline whose last step watches an explicit validation set.

``Pipeline.fit(X, y, mlpclassifier__validation_data=(X_val, y_val))`` hands ``X_val`` to the
estimator as it came, while the estimator trains on ``X`` transformed by the steps before it
(scaled, encoded, ...): it would score the network on data it never sees in that form.
:func:`fit_with_validation` sends the validation set through the same fitted steps first.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

__all__ = ["fit_with_validation"]


def fit_with_validation(pipeline, X, y, validation_data, **fit_params):
    """Fit ``pipeline`` on (X, y); its last step scores the transformed validation set.

    The steps before the last are fitted on (X, y) and transform both X and ``X_val``; the
    last step (an :class:`~mlp.MLPClassifier` or :class:`~mlp.MLPRegressor`) is then fitted
    on the transformed X with ``validation_data`` transformed alike. The result is the same
    fitted pipeline ``pipeline.fit`` gives, with ``validation_scores_``,
    ``validation_loss_curve_`` and early stopping about the data the network really sees.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Ending with an estimator whose ``fit`` takes ``validation_data``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    validation_data : tuple (X_val, y_val) or (X_val, y_val, sample_weight_val)
        Untransformed, like X.
    **fit_params
        Passed to the last step's ``fit`` (e.g. ``sample_weight``).

    Returns
    -------
    pipeline
        Fitted in place.

    Raises
    ------
    TypeError
        When ``pipeline`` is not a Pipeline.
    ValueError
        When ``validation_data`` is not such a tuple.

    Examples
    --------
    >>> pipe = make_pipeline(StandardScaler(), MLPClassifier(early_stopping=True))
    >>> fit_with_validation(pipe, X_train, y_train, (X_val, y_val))  # doctest: +SKIP
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"fit_with_validation: expected a Pipeline, got {type(pipeline).__name__}")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (X_val, y_val) or "
                         "(X_val, y_val, sample_weight_val)")
    X_val, *rest = validation_data
    head, last = pipeline[:-1], pipeline[-1]  # the slice shares the steps with the pipeline
    Xt = head.fit_transform(X, y) if len(head) else X
    X_val = head.transform(X_val) if len(head) else X_val
    last.fit(Xt, y, validation_data=(X_val, *rest), **fit_params)
    return pipeline
