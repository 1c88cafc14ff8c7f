"""scikit-learn's callback protocol (``sklearn.callback``, scikit-learn ≥ 1.9) for the
estimators, through its public mixin; on older versions nothing of it exists and nothing
changes.

A ``fit`` (or ``partial_fit``) call is one task; with the "sgd" and "adam" solvers each epoch
is a subtask, begun and ended by :class:`EpochTasks`, a library callback in the trainer's
loop, so ``est.set_callbacks(ProgressBar())`` shows a bar over the epochs and
``ScoringMonitor`` scores the network as it is after each one. A callback whose
``on_fit_task_end`` returns True stops training after that epoch. lbfgs reports the whole fit
as one task.
"""

from __future__ import annotations

import copy
import functools

from ..callbacks import Callback

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9: no protocol to support
    class CallbackSupportMixin:  # noqa: D101 - an empty stand-in
        pass

    def with_callbacks(method):
        # a wrapper all the same, so that warnings' stack levels count the same frames
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            return method(*args, **kwargs)
        return wrapper

__all__ = ["CallbackSupportMixin", "EpochTasks", "fit_task", "with_callbacks"]


def fit_task(est, X, y, sample_weight, epochs):
    """Begin the fit task of ``est`` (``epochs`` subtasks at most); None without the
    protocol. Call once per fit, after the data are validated."""
    if not hasattr(est, "_init_callback_context"):
        return None
    context = est._init_callback_context(max_subtasks=epochs)
    context.call_on_fit_task_begin(estimator=est, X=X, y=y,
                                   metadata=_metadata(sample_weight))
    return context


def end_fit_task(est, context, X, y, sample_weight):
    """End the fit task begun by :func:`fit_task`; the fitted estimator is ``est`` itself."""
    if context is not None:
        context.call_on_fit_task_end(estimator=est, X=X, y=y,
                                     metadata=_metadata(sample_weight),
                                     reconstruction_attributes={})


def _metadata(sample_weight):
    return None if sample_weight is None else {"sample_weight": sample_weight}


class EpochTasks(Callback):
    """Each epoch a subtask of the estimator's fit task, for scikit-learn's callbacks.

    The ``fitted_estimator`` a scikit-learn callback may ask for at an epoch's end is a
    shallow copy of the estimator holding a copy of the network as it is then, in
    evaluation mode; it is made only when asked for.
    """

    def __init__(self, est, context, X, y, sample_weight):
        self.est, self.context = est, context
        self.X, self.y, self.metadata = X, y, _metadata(sample_weight)
        self._task = None

    def on_epoch_begin(self, epoch, logs=None):
        self._task = self.context.subcontext(task_name="epoch")
        self._task.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y,
                                          metadata=self.metadata)

    def _network(self):
        model = copy.deepcopy(self.model)
        model.clear_cache().eval()
        return {"model_": model}

    def on_epoch_end(self, epoch, logs=None):
        task, self._task = self._task, None
        stop = task.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y,
                                         metadata=self.metadata,
                                         reconstruction_attributes=self._network)
        if stop:
            self.history.stop_reason = "callback"
            self.history.stop_message = "a scikit-learn callback asked to stop"
        return bool(stop)

    def on_train_end(self, logs=None):
        if self._task is not None:  # an epoch that did not finish: end it, empty
            self._task.call_on_fit_task_end(estimator=self.est)
            self._task = None
