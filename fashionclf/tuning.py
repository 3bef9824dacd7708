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

import hashlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ._progress import epoch_text, wants_live
from ._validation import redact_urls
from .baselines import BASELINES, make_baseline
from .presets import make_cnn

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
]

SEARCH_SPACES: dict[str, dict[str, BaseDistribution]] = {
    "cnn": {
        "lr": FloatDistribution(3e-4, 3e-2, log=True),
        "weight_decay": FloatDistribution(1e-4, 1e-1, log=True),
        "width": IntDistribution(8, 48, step=8),
        "dense_units": CategoricalDistribution([64, 128, 256]),
        "dropout": FloatDistribution(0.0, 0.5),
        "label_smoothing": FloatDistribution(0.0, 0.2),
        "batch_size": CategoricalDistribution([128, 256, 512]),
    },
    "logreg": {"logisticregression__C": FloatDistribution(1e-3, 10.0, log=True)},
    "random_forest": {
        "randomforestclassifier__n_estimators": IntDistribution(50, 300),
        "randomforestclassifier__max_features": CategoricalDistribution(
            ["sqrt", "log2"]
        ),
        "randomforestclassifier__min_samples_leaf": IntDistribution(1, 5),
    },
    "hist_gb": {
        "histgradientboostingclassifier__learning_rate": FloatDistribution(
            0.02, 0.3, log=True
        ),
        "histgradientboostingclassifier__max_leaf_nodes": IntDistribution(15, 63),
    },
    "knn": {
        "pca__n_components": IntDistribution(20, 100),
        "kneighborsclassifier__n_neighbors": IntDistribution(1, 15),
    },
    "svm_rbf": {
        "nystroem__gamma": FloatDistribution(1e-3, 0.1, log=True),
        "linearsvc__C": FloatDistribution(0.01, 10.0, log=True),
    },
    "dummy": {
        "strategy": CategoricalDistribution(["most_frequent", "prior", "uniform"])
    },
}


def search_space(model: str = "cnn", prefix: str = "") -> dict[str, BaseDistribution]:
    """Optuna distributions for ``model`` ('cnn' or a baseline name).

    Parameters
    ----------
    model : str, default='cnn'
    prefix : str, default=''
        Prepended to every name, e.g. ``'cnn__'`` for a Pipeline step.

    Examples
    --------
    >>> from fashionclf.tuning import search_space
    >>> sorted(search_space("cnn", prefix="cnn__"))[:2]
    ['cnn__batch_size', 'cnn__dense_units']
    """
    if model not in SEARCH_SPACES:
        raise ValueError(
            f"search_space received model={model!r}; "
            f"expected one of {sorted(SEARCH_SPACES)}."
        )
    return {prefix + k: v for k, v in SEARCH_SPACES[model].items()}


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


def _build(
    model: str,
    params: dict[str, Any],
    seed: int,
    n_jobs: int,
    cnn_preset: str,
    max_epochs: int | None,
    num_threads: int | None,
) -> BaseEstimator:
    if model == "cnn":
        extra = {"max_epochs": max_epochs} if max_epochs else {}
        return make_cnn(
            cnn_preset, random_state=seed, num_threads=num_threads, **extra, **params
        )
    return make_baseline(model, random_state=seed, n_jobs=n_jobs).set_params(**params)


def make_objective(
    model: str,
    X,
    y,
    *,
    validation_fraction: float = 0.2,
    cnn_preset: str = "fast",
    max_epochs: int | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    num_threads: int | None = None,
    progress: bool | str = "auto",
) -> Callable[[optuna.Trial], float]:
    """Build an objective returning validation accuracy on a stratified hold-out.

    CNN trials are trained one epoch per ``partial_fit`` call; the accuracy
    after each epoch is reported to the trial, which may be pruned.

    Parameters
    ----------
    model : str
        'cnn' or a baseline name.
    X, y : array-like
        Training data (flat 0-255 pixels); the hold-out comes out of it.
    validation_fraction : float, default=0.2
    cnn_preset : str, default='fast'
        Preset the CNN search starts from (the space overrides its values).
    max_epochs : int, optional
        Epochs per CNN trial (default: the preset's).
    random_state : int, default=0
        Seeds the split and every model.
    n_jobs : int, default=1
        Jobs for baselines that parallelise.
    num_threads : int, optional
        torch threads for CNN trials.
    progress : bool or 'auto', default='auto'
        After each CNN epoch, write the trial, epoch, validation accuracy,
        elapsed and estimated time left to stderr: always (True), never
        (False), or when stderr is a terminal ('auto').
    """
    space = search_space(model)
    live = wants_live(progress)
    Xtr, Xva, ytr, yva = train_test_split(
        X, y, test_size=validation_fraction, random_state=random_state, stratify=y
    )

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, space)
        est = _build(
            model, params, random_state, n_jobs, cnn_preset, max_epochs, num_threads
        )
        if model != "cnn":
            return float(est.fit(Xtr, ytr).score(Xva, yva))
        score = float("nan")
        start = time.perf_counter()
        for epoch in range(est.max_epochs):
            est.partial_fit(Xtr, ytr)
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
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned after epoch {epoch + 1}: accuracy {score:.4f}"
                )
        return score

    return objective


def _storage(
    storage: str | None, heartbeat_interval: int | None, grace_period: int | None
):
    if storage is None:
        return None
    if storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(storage.removeprefix("journal:")))
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(storage).get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ValueError(
            f"storage={redact_urls(storage)!r} is not a storage URL this machine can "
            f"use ({redact_urls(str(exc))}); "
            "expected sqlite:///PATH, postgresql://USER@HOST:PORT/DB or journal:PATH."
        ) from exc
    kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat_interval:
        kwargs.update(
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=1
            ),
        )
    return optuna.storages.RDBStorage(storage, **kwargs)


def _pruner(pruner: str) -> optuna.pruners.BasePruner:
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(
        f"pruner={pruner!r} is not valid; expected 'median', 'hyperband' or 'none'."
    )


def open_study(
    study_name: str = "fashionclf",
    storage: str | None = None,
    *,
    pruner: str = "median",
    seed: int | None = None,
    heartbeat_interval: int | None = 20,
    grace_period: int | None = None,
) -> optuna.Study:
    """Create or load (resume) a maximising study.

    Parameters
    ----------
    study_name : str, default='fashionclf'
    storage : str or None
        None, ``sqlite:///PATH``, ``postgresql://...`` or ``journal:PATH``.
    pruner : {'median', 'hyperband', 'none'}, default='median'
    seed : int, optional
        Seed of the TPE sampler.
    heartbeat_interval, grace_period : int, optional
        Heartbeat settings of RDB storages (None disables heartbeats).
    """
    from sqlalchemy.exc import DBAPIError

    for attempt in range(5):
        try:
            return optuna.create_study(
                storage=_storage(storage, heartbeat_interval, grace_period),
                study_name=study_name,
                direction="maximize",
                load_if_exists=True,
                pruner=_pruner(pruner),
                sampler=optuna.samplers.TPESampler(seed=seed),
            )
        except DBAPIError:
            # Several workers creating the schema of a new database at once
            # (duplicate table, duplicate pg_type key, lock timeouts): one
            # wins, the others retry and find the tables there.
            if attempt == 4:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def _worker(kwargs: dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(kwargs["threads"])
    study = open_study(
        kwargs["study_name"],
        kwargs["storage"],
        pruner=kwargs["pruner"],
        seed=kwargs["seed"],
        heartbeat_interval=kwargs["heartbeat_interval"],
        grace_period=kwargs["grace_period"],
    )
    _optimize(
        study,
        kwargs["objective"],
        kwargs["threads"],
        kwargs["n_trials"],
        kwargs["timeout"],
    )


def _optimize(
    study,
    objective_kw: dict[str, Any],
    threads: int,
    n_trials: int,
    timeout: float | None,
) -> None:
    """Run ``n_trials`` trials of ``study`` in this process (shared by all paths)."""
    objective = make_objective(**objective_kw, num_threads=threads)
    study.optimize(
        objective, n_trials=n_trials, timeout=timeout, catch=(FloatingPointError,)
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
    cnn_preset: str = "fast",
    max_epochs: int | None = None,
    random_state: int = 0,
    heartbeat_interval: int | None = 20,
    grace_period: int | None = None,
    threads_per_worker: int | None = None,
    progress: bool | str = "auto",
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
        'cnn' or a baseline name.
    X, y : array-like
        Training data; trials score on a hold-out taken from it.
    n_trials : int, default=20
        Trials this call runs (over all its workers).
    study_name : str, optional
        Default: what the study holds, e.g. ``'fashionclf-cnn-fast-n20000'``.
        A study records what it searches (model, search space, preset,
        epochs, validation fraction, data size and fingerprint, fashionclf
        version) in its user attributes; resuming it with anything else is
        refused with a message naming the difference.
    storage : str, optional
        See :func:`open_study`.
    n_workers : int, default=1
    timeout : float, optional
        Seconds per worker.
    pruner : {'median', 'hyperband', 'none'}, default='median'
    validation_fraction, cnn_preset, max_epochs, random_state
        See :func:`make_objective`.
    heartbeat_interval, grace_period : int, optional
        See :func:`open_study`.
    threads_per_worker : int, optional
        torch threads per worker; default ``max(1, cores // n_workers)``.
        More oversubscribes the cores (see benchmarks/bench_tuning.py).
    progress : bool or 'auto', default='auto'
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
    if n_workers < 1:
        raise ValueError(f"run_study received n_workers={n_workers}; expected >= 1.")
    if n_workers > 1 and storage is None:
        raise ValueError(
            "run_study received n_workers > 1 with storage=None; expected a "
            "persistent storage (sqlite:///..., postgresql://... or journal:...) "
            "that the worker processes can share."
        )
    if model not in SEARCH_SPACES:
        raise ValueError(
            f"run_study received model={model!r}; expected one of "
            f"{sorted(SEARCH_SPACES)}."
        )
    identity = _study_identity(model, X, y, cnn_preset, max_epochs, validation_fraction)
    if study_name is None:
        study_name = _default_study_name(identity)
    cores = os.cpu_count() or 1
    threads = threads_per_worker or max(1, cores // n_workers)
    objective_kw = {
        "model": model,
        "X": X,
        "y": y,
        "validation_fraction": validation_fraction,
        "cnn_preset": cnn_preset,
        "max_epochs": max_epochs,
        "random_state": random_state,
        "n_jobs": 1 if n_workers > 1 or model not in BASELINES else threads,
        "progress": wants_live(progress),
    }
    common = {
        "study_name": study_name,
        "storage": storage,
        "pruner": pruner,
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace_period,
        "timeout": timeout,
        "threads": threads,
        "objective": objective_kw,
    }
    study = open_study(
        study_name,
        storage,
        pruner=pruner,
        seed=random_state,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )
    _claim(study, identity, storage)
    n_done = len(study.trials)
    study.sampler = optuna.samplers.TPESampler(
        seed=_sampler_seed(random_state, 0, n_done)
    )
    if n_workers == 1:
        import torch

        prev = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            _optimize(study, objective_kw, threads, n_trials, timeout)
        finally:
            torch.set_num_threads(prev)
        return study
    shares = [
        n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)
    ]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker,
            kwargs={
                "kwargs": {
                    **common,
                    "n_trials": k,
                    "seed": _sampler_seed(random_state, i, n_done),
                }
            },
        )
        for i, k in enumerate(shares)
        if k > 0
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(
            f"{len(failed)} tuning worker(s) exited with codes {failed}."
        )
    return open_study(study_name, storage, pruner=pruner, heartbeat_interval=None)


def _study_identity(model, X, y, cnn_preset, max_epochs, validation_fraction) -> dict:
    """Describe what a study searches: recorded in it, compared on resume."""
    from . import __version__

    digest = hashlib.blake2b(digest_size=8)
    for arr in (X, y):
        data = np.ascontiguousarray(np.asarray(arr))
        digest.update(str((data.shape, data.dtype.str)).encode())
        digest.update(data.tobytes())
    space = {k: repr(v) for k, v in sorted(SEARCH_SPACES[model].items())}
    return {
        "model": model,
        "search_space": json.dumps(space, sort_keys=True),
        "cnn_preset": cnn_preset if model == "cnn" else None,
        "max_epochs": max_epochs if model == "cnn" else None,
        "validation_fraction": validation_fraction,
        "n_samples": len(y),
        "data_fingerprint": digest.hexdigest(),
        "fashionclf_version": __version__,
    }


def _default_study_name(identity: dict) -> str:
    model = identity["model"]
    if model == "cnn":
        model = f"cnn-{identity['cnn_preset']}"
    return f"fashionclf-{model}-n{identity['n_samples']}"


def _claim(study: optuna.Study, identity: dict, storage: str | None) -> None:
    """Record ``identity`` in a new study; refuse a study that holds another."""
    held = study.user_attrs.get("fashionclf")
    if held is None:
        if study.trials:
            raise ValueError(
                f"study {study.study_name!r} in {redact_urls(str(storage))} has "
                f"{len(study.trials)} trials but no record of what it searches "
                "(made by an older fashionclf?); expected a study made by "
                "run_study. Use another study name."
            )
        study.set_user_attr("fashionclf", identity)
        return
    diff = [k for k in identity if held.get(k) != identity[k]]
    if diff:
        shown = ", ".join(
            f"{k}={_short(held.get(k))} (this call: {_short(identity[k])})"
            for k in diff
        )
        raise ValueError(
            f"study {study.study_name!r} in {redact_urls(str(storage))} searches "
            f"something else: {shown}. Resume it with the same settings, or use "
            "another study name (--study-name)."
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sampler_seed(random_state: int, worker: int, n_done: int) -> int:
    """Derive a sampler seed from (seed, worker, trials already in the study)."""
    key = f"{random_state}|{worker}|{n_done}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big")


def best_summary(study: optuna.Study) -> str:
    """One paragraph: trial counts by state, best value and parameters."""
    states: dict[str, int] = {}
    for t in study.trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    counts = ", ".join(f"{v} {k.lower()}" for k, v in sorted(states.items()))
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


class PartialFitPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` that can also ``partial_fit``.

    ``partial_fit`` fits the transformers on the first call's data (the
    pixel transformers of this library learn nothing from it) and then only
    transforms; the final step's ``partial_fit`` trains one more epoch. This
    is what per-epoch pruning in ``OptunaSearchCV`` needs; ``fit`` is the
    ordinary pipeline's.
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
    return OptunaSearchCV(
        estimator,
        param_distributions,
        enable_pruning=True,
        max_iter=int(final.max_epochs),
        **kwargs,
    )
