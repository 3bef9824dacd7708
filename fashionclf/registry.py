"""Every model fashionclf builds, by name.

One vocabulary for the Python API, ``fashionclf benchmark`` and
``fashionclf tune``:

- ``'cnn-<preset>'`` for each preset of :mod:`fashionclf.presets`:
  ``'cnn-default'`` (``FashionCNNClassifier()``), ``'cnn-fast'``,
  ``'cnn-best'``, ``'cnn-reference'``, ``'cnn-small'``, ``'cnn-tiny'``;
- the baselines of :mod:`fashionclf.baselines`: ``'dummy'``, ``'logreg'``,
  ``'random_forest'``, ``'hist_gb'``, ``'knn'``, ``'svm_rbf'``.

Importing this module does not import torch; building a CNN does.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from .baselines import BASELINES, make_baseline
from .presets import PRESETS, make_cnn

__all__ = ["BENCHMARK_SUITES", "MODEL_NAMES", "is_cnn", "is_stochastic", "make_model"]

#: Every name :func:`make_model` accepts.
MODEL_NAMES: tuple[str, ...] = (
    *(f"cnn-{preset}" for preset in PRESETS),
    *BASELINES,
)


#: Named model lists of ``fashionclf benchmark``: 'quick' is the README's main job.
BENCHMARK_SUITES: dict[str, list[str]] = {
    "smoke": ["dummy", "logreg", "cnn-tiny"],
    "quick": ["dummy", "logreg", "random_forest", "knn", "cnn-fast"],
    "full": [
        "dummy",
        "logreg",
        "random_forest",
        "hist_gb",
        "knn",
        "svm_rbf",
        "cnn-small",
        "cnn-fast",
        "cnn-default",
    ],
}


def is_cnn(name: str) -> bool:
    """Whether ``name`` is a :class:`FashionCNNClassifier` preset."""
    return _checked(name).startswith("cnn-")


def is_stochastic(name: str) -> bool:
    """Whether ``random_state`` changes the model (run over several seeds)."""
    return is_cnn(name) or BASELINES[name][1]


def make_model(
    name: str,
    *,
    random_state: int | None = None,
    n_jobs: int | None = None,
    **params: Any,
) -> BaseEstimator:
    """Build an unfitted model by name.

    Parameters
    ----------
    name : str
        One of ``MODEL_NAMES``.
    random_state : int or None, default=None
        Seed of the model's random draws.
    n_jobs : int or None, default=None
        Parallel jobs for baselines that support them (a CNN uses torch
        threads instead; see its ``num_threads``).
    **params
        Parameters set on the model: a CNN's own (``max_epochs=3``), or a
        baseline pipeline's (``logisticregression__C=0.5``).

    Returns
    -------
    estimator
        Takes flat 0-255 pixel rows (or images, for a CNN).

    Examples
    --------
    >>> from fashionclf.registry import make_model
    >>> make_model("cnn-fast", random_state=0).max_epochs
    5
    >>> make_model("logreg", logisticregression__C=0.5).steps[-1][1].C
    0.5
    """
    if is_cnn(name):
        return make_cnn(name.removeprefix("cnn-"), random_state=random_state, **params)
    model = make_baseline(name, random_state=random_state, n_jobs=n_jobs)
    return model.set_params(**params)


def _checked(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(
            f"received model name {name!r}; expected one of {list(MODEL_NAMES)}."
        )
    return name
