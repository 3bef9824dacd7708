"""Per-epoch pruning in ``OptunaSearchCV``: a pipeline that can ``partial_fit``.

Re-exported by :mod:`fashionclf.tuning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from sklearn.pipeline import Pipeline

__all__ = ["PartialFitPipeline", "make_pruned_search"]


class PartialFitPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` that can also ``partial_fit``.

    ``partial_fit`` fits the transformers on the first call's data (the
    pixel transformers of this library learn nothing from it) and then only
    transforms; the final step's ``partial_fit`` trains one more epoch. This
    is what per-epoch pruning in ``OptunaSearchCV`` needs; ``fit`` is the
    ordinary pipeline's.

    Parameters
    ----------
    steps, memory, transform_input, verbose
        As for :class:`~sklearn.pipeline.Pipeline`.
    """

    def partial_fit(self, X, y=None, **partial_fit_params) -> PartialFitPipeline:
        """Run the transformers, then one ``partial_fit`` of the final step."""
        first = not getattr(self, "_partially_fitted", False)
        Xt = X
        for _, _, transformer in self._iter(with_final=False, filter_passthrough=True):
            Xt = (
                transformer.fit_transform(Xt, y) if first else transformer.transform(Xt)
            )
        self._final_estimator.partial_fit(Xt, y, **partial_fit_params)
        self._partially_fitted = True
        return self

    def fit(self, X, y=None, **params) -> PartialFitPipeline:
        """Fit the whole pipeline afresh (``Pipeline.fit``)."""
        self._partially_fitted = False
        return super().fit(X, y, **params)


def make_pruned_search(estimator, param_distributions: Mapping[str, Any], **kwargs):
    """Build an ``OptunaSearchCV`` that prunes CNN trials epoch by epoch.

    ``OptunaSearchCV(enable_pruning=True)`` trains with ``partial_fit`` for
    ``max_iter`` rounds (default 1000). This sets ``max_iter`` to the CNN's
    ``max_epochs``, so no trial trains more epochs than the estimator says
    and the one-cycle schedule ends where it should, and turns a
    :class:`~sklearn.pipeline.Pipeline` ending in the CNN into a
    :class:`PartialFitPipeline`.

    Parameters
    ----------
    estimator : FashionCNNClassifier or Pipeline ending in one
    param_distributions : dict of str to optuna distribution
        As for ``OptunaSearchCV``; may not search ``max_epochs`` (the epoch
        budget is fixed per search: set it on the estimator).
    **kwargs
        Any other ``OptunaSearchCV`` argument (``n_trials``, ``cv``,
        ``study`` with its pruner, ``random_state``, ...).

    Returns
    -------
    optuna_integration.OptunaSearchCV
    """
    from optuna.exceptions import ExperimentalWarning
    from optuna_integration import OptunaSearchCV

    for key in ("enable_pruning", "max_iter"):
        if key in kwargs:
            raise TypeError(f"make_pruned_search sets {key} itself; got {key}=.")
    if isinstance(estimator, Pipeline) and not isinstance(
        estimator, PartialFitPipeline
    ):
        estimator = PartialFitPipeline(**estimator.get_params(deep=False))
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not hasattr(final, "partial_fit") or not hasattr(final, "max_epochs"):
        raise TypeError(
            f"make_pruned_search needs a FashionCNNClassifier, or a Pipeline "
            f"ending in one; got {type(final).__name__}."
        )
    searched = [k for k in param_distributions if k.split("__")[-1] == "max_epochs"]
    if searched:
        raise ValueError(
            f"make_pruned_search received a search over {searched[0]}; expected "
            f"a fixed epoch budget: set max_epochs on the estimator instead."
        )
    # OptunaSearchCV warns that its interface is experimental; the interface
    # the caller uses is this function's, so that news is not theirs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return OptunaSearchCV(
            estimator,
            param_distributions,
            enable_pruning=True,
            max_iter=int(final.max_epochs),
            **kwargs,
        )
