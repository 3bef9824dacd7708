"""scikit-learn's own callback API (``sklearn.callback``), in one module.

scikit-learn 1.9 added ``sklearn.callback`` (experimental upstream): an
estimator that is a ``CallbackSupportMixin`` takes callbacks by
``set_callbacks(...)`` (``ProgressBar``, ``ScoringMonitor``, your own),
and ``Pipeline``, ``GridSearchCV`` and ``cross_validate`` pass theirs on to
it. Here a fit is one task and each epoch one subtask, so ``ProgressBar``
shows the epochs of every fit of a search and ``ScoringMonitor`` scores the
model after each epoch; the pixel transformers' fits are single tasks.

Where the installed scikit-learn has no ``sklearn.callback`` (1.8), the
mixin is an empty class and nothing here runs. Everything that touches the
API is in this module (the skorch callback that reports epochs,
:class:`fashionclf._estimator.training.EpochTasks`, calls it), so a change
upstream is mended in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = [
    "AVAILABLE",
    "CallbackSupportMixin",
    "begin_subtask",
    "end_task",
    "fit_task",
    "has_progress_bar",
    "one_task",
    "with_callbacks",
]

try:
    from sklearn.callback import CallbackSupportMixin, ProgressBar, with_callbacks

    AVAILABLE = True
except ImportError:  # scikit-learn < 1.9
    AVAILABLE = False
    ProgressBar = None

    class CallbackSupportMixin:  # type: ignore[no-redef]
        """scikit-learn before 1.9 has no callback API: nothing to support."""

    def with_callbacks(method):  # type: ignore[no-redef]
        """Return ``method`` as it is (no callback API to manage)."""
        return method


def fit_task(estimator, X, y, *, n_subtasks: int = 0, sample_weight=None):
    """Open the root task of ``estimator``'s fit; return its context, or None.

    None where the API is absent. ``n_subtasks``: the epochs to run (0: a
    leaf task, as a transformer's fit is). The caller ends it with
    :func:`end_task` once fitted.
    """
    if not AVAILABLE:
        return None
    context = estimator._init_callback_context(max_subtasks=n_subtasks)
    metadata = None if sample_weight is None else {"sample_weight": sample_weight}
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    return context


def end_task(context, estimator, X, y, fitted: Callable[[], dict] = dict) -> None:
    """End a task :func:`fit_task` or :func:`begin_subtask` opened (None: no-op).

    ``fitted()`` gives the attributes of the model as it is now, called only
    when a callback asks for the ``fitted_estimator`` (e.g.
    ``ScoringMonitor``: a copy of ``estimator`` with them set); the default,
    none, means the estimator itself at the end of its fit.
    """
    if context is not None:
        context.call_on_fit_task_end(
            estimator=estimator, X=X, y=y, reconstruction_attributes=fitted
        )


def one_task(fit: Callable) -> Callable:
    """Decorate a transformer's ``fit``: one leaf task for scikit-learn's callbacks.

    Where the API is absent, ``fit`` runs as it is.
    """

    @functools.wraps(fit)
    def fit_as_one_task(estimator, X, y=None, **params):
        task = fit_task(estimator, X, y)
        fitted = fit(estimator, X, y, **params)
        end_task(task, estimator, X, y)
        return fitted

    return with_callbacks(fit_as_one_task) if AVAILABLE else fit


def has_progress_bar(estimator) -> bool:
    """Tell whether scikit-learn's ``ProgressBar`` is among ``estimator``'s callbacks.

    Set on the estimator or passed on by a ``Pipeline`` or search around it.
    """
    return ProgressBar is not None and any(
        isinstance(cb, ProgressBar) for cb in getattr(estimator, "_skl_callbacks", [])
    )


def begin_subtask(context, estimator, X, y, task_name: str):
    """Open a subtask of ``context`` (an epoch) and return its context."""
    subtask = context.subcontext(task_name=task_name)
    subtask.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
    return subtask
