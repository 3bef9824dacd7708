"""Hyperparameter search with Optuna, from one process to many machines.

- :func:`search_space` gives ready Optuna distributions for the CNN and every
  baseline; with ``prefix='cnn__'`` they plug into optuna-integration's
  ``OptunaSearchCV`` around a ``Pipeline``.
- :func:`run_study` drives a plain Optuna study. CNN trials train one epoch
  per ``partial_fit`` call and report the validation accuracy after each, so
  Optuna's pruners stop bad trials early.
- Storage: ``None`` (in memory), a SQLite URL (``sqlite:///study.db``, the
  embedded default of ``fashionclf tune``), a PostgreSQL URL
  (``postgresql://user@host/db``: start the same command on several machines
  and they share one study), or ``journal:PATH`` (Optuna's journal file).
  RDB storages get heartbeats: a trial whose worker died is marked FAIL after
  ``grace_period`` seconds and re-queued once with the same parameters.
- ``n_workers`` processes on one machine share the study; each gets
  ``cores // n_workers`` torch threads, so workers x threads never exceeds
  the cores.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .._utils.threads import torch_threads
from ..classifier import FashionCNNClassifier
from ..evaluation.progress import epoch_text, wants_live
from ..networks import SIZE_PARAMS, size_params
from ..registry import MODEL_NAMES, is_cnn, make_model
from .studies import (
    claim,
    default_study_name,
    open_study,
    run_workers,
    sampler_seed,
    study_identity,
)

__all__ = [
    "SEARCH_SPACES",
    "best_summary",
    "make_objective",
    "run_study",
    "search_space",
    "suggest",
    "trials_by_worker",
    "worker_identity",
]

#: Distributions by estimator class, under the estimator's own parameter names.
#: :func:`search_space` finds each step of a model here by its class, so a
#: pipeline's step names can change without breaking its space.
SEARCH_SPACES: dict[type[BaseEstimator], dict[str, BaseDistribution]] = {
    FashionCNNClassifier: {
        "lr": FloatDistribution(3e-4, 3e-2, log=True),
        "weight_decay": FloatDistribution(1e-4, 1e-1, log=True),
        "width": IntDistribution(8, 48, step=8),
        "dense_units": CategoricalDistribution([64, 128, 256]),
        "dropout": FloatDistribution(0.0, 0.5),
        "label_smoothing": FloatDistribution(0.0, 0.2),
        "batch_size": CategoricalDistribution([128, 256, 512]),
    },
    LogisticRegression: {"C": FloatDistribution(1e-3, 10.0, log=True)},
    RandomForestClassifier: {
        "n_estimators": IntDistribution(50, 300),
        "max_features": CategoricalDistribution(["sqrt", "log2"]),
        "min_samples_leaf": IntDistribution(1, 5),
    },
    HistGradientBoostingClassifier: {
        "learning_rate": FloatDistribution(0.02, 0.3, log=True),
        "max_leaf_nodes": IntDistribution(15, 63),
    },
    PCA: {"n_components": IntDistribution(20, 100)},
    KNeighborsClassifier: {"n_neighbors": IntDistribution(1, 15)},
    Nystroem: {"gamma": FloatDistribution(1e-3, 0.1, log=True)},
    LinearSVC: {"C": FloatDistribution(0.01, 10.0, log=True)},
    DummyClassifier: {
        "strategy": CategoricalDistribution(["most_frequent", "prior", "uniform"])
    },
}


def search_space(model: str = "cnn", prefix: str = "") -> dict[str, BaseDistribution]:
    """Optuna distributions for ``model``.

    The model is built (:func:`fashionclf.registry.make_model`) and each of
    its steps is looked up in ``SEARCH_SPACES`` by class; a pipeline
    step's parameters are named ``'<step>__<param>'`` after the step's
    actual name.

    Parameters
    ----------
    model : str, default='cnn'
        A model name of ``fashionclf.registry``, or 'cnn' (the space
        every ``'cnn-<preset>'`` shares).
    prefix : str, default=''
        Prepended to every name, e.g. ``'cnn__'`` for a Pipeline step.

    Examples
    --------
    >>> from fashionclf.tuning import search_space
    >>> sorted(search_space("cnn", prefix="cnn__"))[:2]
    ['cnn__batch_size', 'cnn__dropout']
    >>> sorted(search_space("logreg"))
    ['logisticregression__C']
    """
    if model != "cnn" and model not in MODEL_NAMES:
        raise ValueError(
            f"received model={model!r}; expected 'cnn' or one of {list(MODEL_NAMES)}."
        )
    estimator = make_model("cnn-default" if model == "cnn" else model)
    steps = estimator.steps if isinstance(estimator, Pipeline) else [("", estimator)]
    space = {}
    for name, step in steps:
        for param, dist in SEARCH_SPACES.get(type(step), {}).items():
            if param in _ignored_sizes(step):
                continue
            space[prefix + (f"{name}__{param}" if name else param)] = dist
    return space


def _ignored_sizes(step: BaseEstimator) -> set[str]:
    """Size parameters a CNN step's built-in network does not take (not searched).

    E.g. ``dense_units`` for ``'compact'`` networks, which have no hidden
    dense layer: searching it would only add noise to the study.
    """
    if not isinstance(step, FashionCNNClassifier) or step.module is not None:
        return set()
    return set(SIZE_PARAMS) - set(size_params(step.architecture))


def suggest(
    trial: optuna.Trial, space: Mapping[str, BaseDistribution]
) -> dict[str, Any]:
    """Ask ``trial`` for one value from each distribution of ``space``."""
    params: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, FloatDistribution):
            params[name] = trial.suggest_float(
                name, d.low, d.high, log=d.log, step=d.step
            )
        elif isinstance(d, IntDistribution):
            params[name] = trial.suggest_int(
                name, d.low, d.high, log=d.log, step=d.step
            )
        elif isinstance(d, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, d.choices)
        else:
            raise TypeError(f"suggest received an unsupported distribution {d!r}.")
    return params


def make_objective(
    model: str,
    X,
    y,
    *,
    validation_fraction: float = 0.2,
    max_epochs: int | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    num_threads: int | None = None,
    verbose: bool | str = "auto",
) -> Callable[[optuna.Trial], float]:
    """Build an objective returning validation accuracy on a stratified hold-out.

    CNN trials are trained one epoch per ``partial_fit`` call; the accuracy
    after each epoch is reported to the trial, which may be pruned before its
    last epoch (after it, the trial is complete). Every trial records the
    worker that ran it as user attributes ``worker`` (``host:pid``), ``host``
    and ``pid`` (:func:`worker_identity`).

    Parameters
    ----------
    model : str
        A model name of ``fashionclf.registry``; for ``'cnn-<preset>'``
        the preset is where the search starts (the space overrides its
        values).
    X, y : array-like
        Training data (flat 0-255 pixels); the hold-out comes out of it.
    validation_fraction : float, default=0.2
    max_epochs : int, optional
        Epochs per CNN trial (default: the preset's).
    random_state : int, default=0
        Seeds the split and every model.
    n_jobs : int, default=1
        Jobs for baselines that parallelise.
    num_threads : int, optional
        torch threads for CNN trials.
    verbose : bool or 'auto', default='auto'
        After each CNN epoch, write the trial, epoch, validation accuracy,
        elapsed and estimated time left to stderr ('auto' or True: in place
        on a terminal, a line per epoch elsewhere), or nothing (False).
    """
    space = search_space(model)
    live = wants_live(verbose)
    cnn = is_cnn(model)
    fixed: dict[str, Any] = {"random_state": random_state}
    if cnn:
        fixed["num_threads"] = num_threads
        if max_epochs:
            fixed["max_epochs"] = max_epochs
    else:
        fixed["n_jobs"] = n_jobs
    Xtr, Xva, ytr, yva = train_test_split(
        X, y, test_size=validation_fraction, random_state=random_state, stratify=y
    )

    def objective(trial: optuna.Trial) -> float:
        for key, value in worker_identity().items():  # who ran it, for every trial
            trial.set_user_attr(key, value)
        est = make_model(model, **fixed, **suggest(trial, space))
        if not cnn:
            return float(est.fit(Xtr, ytr).score(Xva, yva))
        score = float("nan")
        start = time.perf_counter()
        for epoch in range(est.max_epochs):
            est.partial_fit(Xtr, ytr)
            if est.interrupted_:  # Ctrl-C: Optuna fails the trial and re-raises
                raise KeyboardInterrupt
            score = float(est.score(Xva, yva))
            if live:
                text = epoch_text(
                    epoch + 1, est.max_epochs, time.perf_counter() - start
                )
                print(
                    f"trial {trial.number}: {text}, validation accuracy {score:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            trial.report(score, epoch)
            # a trial that trained all its epochs is complete: pruning it then
            # would drop a value that has been paid for in full
            if epoch + 1 < est.max_epochs and trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned after epoch {epoch + 1}: accuracy {score:.4f}"
                )
        return score

    return objective


def optimize(
    study: optuna.Study,
    objective_kw: dict[str, Any],
    threads: int,
    n_trials: int,
    timeout: float | None,
) -> None:
    """Run ``n_trials`` trials of ``study`` in this process (shared by all paths)."""
    objective = make_objective(**objective_kw, num_threads=threads)
    log = logging.getLogger("optuna.study._optimize")
    quiet = _QuietInterrupt()
    log.addFilter(quiet)
    try:
        study.optimize(
            objective, n_trials=n_trials, timeout=timeout, catch=(FloatingPointError,)
        )
    finally:
        log.removeFilter(quiet)


class _QuietInterrupt(logging.Filter):
    """Keep Optuna's one-line "Trial N failed" for Ctrl-C, without its traceback.

    The interrupt itself propagates; the command line reports it in one line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info = None
        return True


def _worker(settings: dict[str, Any]) -> None:
    """One worker process of :func:`run_study`: open the study, run its share."""
    import torch

    torch.set_num_threads(settings["threads"])  # a fresh process: its own setting
    study = open_study(
        settings["study_name"],
        settings["storage"],
        pruner=settings["pruner"],
        random_state=settings["random_state"],
        heartbeat_interval=settings["heartbeat_interval"],
        grace_period=settings["grace_period"],
    )
    optimize(
        study,
        settings["objective"],
        settings["threads"],
        settings["n_trials"],
        settings["timeout"],
    )


def run_study(
    model: str,
    X,
    y,
    *,
    n_trials: int = 20,
    study_name: str | None = None,
    storage: str | None = None,
    n_workers: int = 1,
    timeout: float | None = None,
    pruner: str = "median",
    validation_fraction: float = 0.2,
    max_epochs: int | None = None,
    random_state: int = 0,
    heartbeat_interval: int | None = 20,
    grace_period: int | None = None,
    threads_per_worker: int | None = None,
    verbose: bool | str = "auto",
) -> optuna.Study:
    """Run ``n_trials`` more trials of a (new or resumed) study.

    With ``n_workers > 1`` the trials are split exactly among worker
    processes sharing ``storage`` (which must then be persistent); each
    worker gets ``max(1, cores // n_workers)`` torch threads. Several
    machines pointing at one PostgreSQL URL with the same ``study_name``
    likewise share one study.

    Parameters
    ----------
    model : str
        A model name of ``fashionclf.registry``, e.g. ``'cnn-fast'``.
    X, y : array-like
        Training data; trials score on a hold-out taken from it.
    n_trials : int, default=20
        Trials this call runs (over all its workers).
    study_name : str, optional
        Default: what the study holds, e.g. ``'fashionclf-cnn-fast-n20000'``.
        A study records what it searches (model, search space, epochs,
        validation fraction, data size and fingerprint, fashionclf version)
        in its user attributes; resuming it with anything else is refused
        with a message naming the difference.
    storage : str, optional
        See :func:`open_study`.
    n_workers : int, default=1
    timeout : float, optional
        Seconds per worker.
    pruner : {'median', 'hyperband', 'none'}, default='median'
    validation_fraction, max_epochs, random_state
        See :func:`make_objective`.
    heartbeat_interval, grace_period : int, optional
        See :func:`open_study`.
    threads_per_worker : int, optional
        torch threads per worker; default ``max(1, cores // n_workers)``.
        More oversubscribes the cores.
    verbose : bool or 'auto', default='auto'
        Per-epoch lines of CNN trials on stderr (see :func:`make_objective`);
        'auto' decides here, from this process's stderr.

    Returns
    -------
    optuna.Study
        The study, reloaded after all workers finished.

    Notes
    -----
    The sampler's seed is derived from ``random_state``, the worker's number
    and the number of trials the study already holds: a fresh study with the
    same seed is reproducible, and a resumed one proposes new trials rather
    than repeating the first ones.
    """
    _check_workers(n_workers, storage)
    identity = study_identity(
        model, X, y, search_space(model), max_epochs, validation_fraction
    )
    study_name = study_name or default_study_name(identity)
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
    objective_kw = {
        "model": model,
        "X": X,
        "y": y,
        "validation_fraction": validation_fraction,
        "max_epochs": max_epochs,
        "random_state": random_state,
        "n_jobs": 1 if n_workers > 1 or is_cnn(model) else threads,
        "verbose": wants_live(verbose),
    }
    settings: dict[str, Any] = {
        "study_name": study_name,
        "storage": storage,
        "pruner": pruner,
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace_period,
    }
    study = open_study(**settings, random_state=random_state)
    claim(study, identity, storage)
    n_done = len(study.trials)
    if n_workers > 1:
        settings.update(timeout=timeout, threads=threads, objective=objective_kw)
        run_workers(_worker, settings, n_trials, n_workers, random_state, n_done)
        return open_study(study_name, storage, pruner=pruner, heartbeat_interval=None)
    study.sampler = optuna.samplers.TPESampler(
        seed=sampler_seed(random_state, 0, n_done)
    )
    with torch_threads(threads):
        optimize(study, objective_kw, threads, n_trials, timeout)
    return study


def _check_workers(n_workers: int, storage: str | None) -> None:
    if n_workers < 1:
        raise ValueError(f"run_study received n_workers={n_workers}; expected >= 1.")
    if n_workers > 1 and storage is None:
        raise ValueError(
            "run_study received n_workers > 1 with storage=None; expected a "
            "persistent storage (sqlite:///..., postgresql://... or journal:...) "
            "that the worker processes can share."
        )


def worker_identity() -> dict[str, Any]:
    """Return the user attributes that name the process running a trial.

    ``host`` (the machine's name), ``pid`` and ``worker`` (``'host:pid'``):
    on a study shared by several machines they tell which machine ran, or
    failed, which trial.
    """
    host = socket.gethostname()
    return {"worker": f"{host}:{os.getpid()}", "host": host, "pid": os.getpid()}


def trials_by_worker(study: optuna.Study) -> dict[str, int]:
    """Trials of ``study`` per ``worker`` attribute (``'unknown'`` without one)."""
    counts: dict[str, int] = {}
    for t in study.trials:
        name = str(t.user_attrs.get("worker", "unknown"))
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def best_summary(study: optuna.Study) -> str:
    """One paragraph: trial counts by state and by worker, the best trial."""
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(states.items()))
    workers = trials_by_worker(study)
    if workers:
        counts += "; trials by worker: " + ", ".join(
            f"{name} {n}" for name, n in workers.items()
        )
    try:
        best = study.best_trial
    except ValueError:
        return f"study '{study.study_name}': {counts}; no completed trial yet."
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in best.params.items()
    )
    return (
        f"study '{study.study_name}': {counts}; best trial #{best.number} "
        f"value {best.value:.4f} with {params}"
    )
