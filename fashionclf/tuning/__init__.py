"""Hyperparameter search with Optuna, from one process to many machines.

- :mod:`~fashionclf.tuning.search`: search spaces, objectives and
  :func:`run_study`;
- :mod:`~fashionclf.tuning.studies`: storages, resuming, study identity;
- :mod:`~fashionclf.tuning.pruning`: per-epoch pruning inside
  ``OptunaSearchCV`` (:class:`PartialFitPipeline`).
"""

from .pruning import PartialFitPipeline, make_pruned_search
from .search import (
    SEARCH_SPACES,
    best_summary,
    make_objective,
    run_study,
    search_space,
    suggest,
    trials_by_worker,
    worker_identity,
)
from .studies import open_study

__all__ = [
    "SEARCH_SPACES",
    "PartialFitPipeline",
    "best_summary",
    "make_objective",
    "make_pruned_search",
    "open_study",
    "run_study",
    "search_space",
    "suggest",
    "trials_by_worker",
    "worker_identity",
]
