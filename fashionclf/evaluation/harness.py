"""Benchmark harness: fit CNN presets and baselines on the same data, compare.

For each model (and each seed, for stochastic models; and each training-set
size, with ``train_sizes``) it records test accuracy, macro-F1, per-class
recall, fit seconds, predict images/second, peak resident memory during fit,
pickled model size, plus the package versions, hardware and git commit.
Every model is scored on the same test images, so the summary also says
whether a difference is real: a Wilson 95% interval of each accuracy, and
against the best model a paired bootstrap 95% interval of the difference and
an exact McNemar test (:mod:`fashionclf.evaluation.significance`).
:func:`run_benchmark` returns a :class:`BenchmarkResult`, whose ``save``
writes ``results.json``, ``results.md`` and PNG plots.
"""

from __future__ import annotations

import copy
import io
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array
from skorch.callbacks import Callback

from .._utils.messages import expected_got
from .._utils.validation import resolve_image_shape
from ..datasets.loaders import CLASS_NAMES
from ..export import PixelsToProba
from ..networks import settle_batch_norm
from ..registry import (
    BENCHMARK_SUITES,
    MODEL_NAMES,
    is_cnn,
    is_stochastic,
    make_model,
)
from .memory import peak_rss_mb, reset_peak_rss
from .progress import EpochProgress, wants_live
from .results import BenchmarkResult, environment

__all__ = [
    "BENCHMARK_SUITES",
    "BenchmarkResult",
    "HeldOutAccuracy",
    "environment",
    "model_entries",
    "resolve_models",
    "run_benchmark",
]


def resolve_models(names: Sequence[str]) -> list[str]:
    """Expand benchmark suites and check model names.

    ``names`` may hold model names (``fashionclf.registry.MODEL_NAMES``)
    and benchmark suite names ('smoke', 'quick', 'full').
    """
    out: list[str] = []
    for name in names:
        if name in BENCHMARK_SUITES:
            out += BENCHMARK_SUITES[name]
        elif name in MODEL_NAMES:
            out.append(name)
        else:
            valid = [*MODEL_NAMES, *BENCHMARK_SUITES]
            raise ValueError(f"unknown model {name!r}; expected one of {valid}.")
    return list(dict.fromkeys(out))


#: A model of a benchmark: a name of ``fashionclf.registry`` or an estimator.
Model: TypeAlias = str | BaseEstimator


def model_entries(
    models: Sequence[Model] | Mapping[str, Model],
) -> dict[str, Model]:
    """Return the benchmark's models by label: registry names and user estimators.

    ``models``: a sequence of registry names, benchmark suites and unfitted
    scikit-learn estimators (a ``Pipeline`` too), or a dict of label ->
    name or estimator. An estimator in a sequence is labelled by its class
    (a pipeline by its step names joined with '+'); two models with one
    label are refused (name them with a dict).
    """
    items: list[tuple[str | None, Any]] = (
        list(models.items())
        if isinstance(models, Mapping)
        else [(None, model) for model in models]
    )
    out: dict[str, Model] = {}
    for label, model in items:
        pairs: list[tuple[str, Model]]
        if isinstance(model, str):
            names = resolve_models([model])
            if label is not None and len(names) > 1:
                raise ValueError(
                    expected_got(
                        "run_benchmark",
                        f"the suite {model!r} under the label {label!r}",
                        "one model per label (a suite stands alone in a list)",
                    )
                )
            pairs = [(label, names[0])] if label else [(n, n) for n in names]
        elif hasattr(model, "fit") and hasattr(model, "predict"):
            pairs = [(label or _label(model), model)]
        else:
            raise TypeError(
                expected_got(
                    "run_benchmark",
                    f"the model {model!r}",
                    "a model name of fashionclf.registry, a benchmark suite or an "
                    "unfitted scikit-learn estimator",
                )
            )
        for name, entry in pairs:
            if name in out:
                raise ValueError(
                    expected_got(
                        "run_benchmark",
                        f"two models labelled {name!r}",
                        "one label per model",
                        "Pass a dict: run_benchmark({'a': model_a, 'b': model_b}, "
                        "...).",
                    )
                )
            out[name] = entry
    return out


def _label(estimator: BaseEstimator) -> str:
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        return "+".join(name for name, _ in steps)
    return type(estimator).__name__


def _cnn_in(estimator: BaseEstimator):
    """``(parameter prefix, FashionCNNClassifier)`` of ``estimator``, or None.

    The estimator itself, or the last step of a pipeline.
    """
    from ..classifier import FashionCNNClassifier

    steps = getattr(estimator, "steps", None)
    if steps is not None:
        name, last = steps[-1]
        return (f"{name}__", last) if isinstance(last, FashionCNNClassifier) else None
    return ("", estimator) if isinstance(estimator, FashionCNNClassifier) else None


def _seed_params(estimator: BaseEstimator, seed: int) -> dict[str, int]:
    """Every ``random_state`` of ``estimator`` (nested steps too), set to ``seed``."""
    return {
        k: seed
        for k in estimator.get_params()
        if k == "random_state" or k.endswith("__random_state")
    }


def _build(entry: Model, seed: int, n_jobs: int, cnn_params: dict, params: dict):
    """Return a fresh estimator for one run: the registry's, or the user's clone."""
    if isinstance(entry, str):
        own = cnn_params if is_cnn(entry) else {}
        return make_model(entry, random_state=seed, n_jobs=n_jobs, **own, **params)
    est = clone(entry)
    cnn = _cnn_in(est)
    own = {} if cnn is None else {cnn[0] + k: v for k, v in cnn_params.items()}
    return est.set_params(**_seed_params(est, seed), **own, **params)


def _stochastic(entry: Model) -> bool:
    """Whether a seed changes the model (it runs once per seed)."""
    if isinstance(entry, str):
        return is_stochastic(entry)
    return bool(_seed_params(entry, 0))


class HeldOutAccuracy(Callback):
    """After each epoch, record the accuracy on held-out images in the history.

    For the learning-curve plot of a benchmark, which knows its test set: the
    figure is for display only, never for choosing a model. Writes
    ``test_acc`` to each history row, and the seconds it took to
    ``spent_s_``, which the benchmark subtracts from the fit time. The images
    are dropped when training ends, so the fitted model does not carry them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Held-out pixel rows, as :func:`run_benchmark` takes them.
    y : array-like of shape (n_samples,)
        Labels 0-9 (the CNN presets' class codes).
    pixel_range, image_shape :
        The classifier's parameters of the same names: each epoch's network
        scores the rows inside a :class:`~fashionclf.export.PixelsToProba`,
        the module the classifier predicts with.
    """

    def __init__(
        self,
        X,
        y,
        *,
        pixel_range: tuple[float, float] | None = (0, 255),
        image_shape: Sequence[int] = (1, 28, 28),
    ) -> None:
        self.X = X
        self.y = y
        self.pixel_range = pixel_range
        self.image_shape = image_shape

    def initialize(self) -> HeldOutAccuracy:
        """Reset the time spent."""
        self.spent_s_ = 0.0
        return self

    def on_train_begin(self, net, **kwargs) -> None:
        """Take the held-out rows once, as float32 pixel rows."""
        if self.X is None:
            return
        t0 = time.perf_counter()
        rows = check_array(self.X, dtype=np.float32)  # flat rows, unscaled
        self.image_shape_ = resolve_image_shape(
            self.image_shape, rows.shape[1], type(self).__name__
        )
        self.rows_: torch.Tensor | None = torch.from_numpy(np.ascontiguousarray(rows))
        self.spent_s_ += time.perf_counter() - t0

    def on_epoch_end(self, net, dataset_train=None, **kwargs) -> None:
        """Score the held-out images and record ``test_acc``.

        Scored as the model would be if the fit ended here: a copy of the
        network gets the batch-norm statistics a fit recomputes at its end
        (:func:`~fashionclf.networks.settle_batch_norm`).
        """
        if self.X is None:
            return
        t0 = time.perf_counter()
        module = net.module_
        if dataset_train is not None and not getattr(net, "frozen_layers", True):
            module = copy.deepcopy(net.module_)
            settle_batch_norm(
                module,
                dataset_train.X,
                seed=net.seed,
                batch_size=net.batch_size,
                device=net.device,
            )
        module.eval()
        assert self.rows_ is not None  # set in on_train_begin
        to_proba = PixelsToProba(module, self.image_shape_, self.pixel_range, False)
        with torch.no_grad():
            proba = torch.cat(
                [
                    to_proba(batch.to(net.device)).cpu()
                    for batch in self.rows_.split(1024)
                ]
            )
        pred = proba.argmax(1).numpy()
        net.history.record("test_acc", float(np.mean(pred == np.asarray(self.y))))
        self.spent_s_ += time.perf_counter() - t0

    def on_train_end(self, net, **kwargs) -> None:
        """Drop the held-out images."""
        self.X = self.y = self.rows_ = None


def _evaluate(
    name: str,
    est: BaseEstimator,
    seed: int,
    X,
    y,
    Xt,
    yt,
    live: EpochProgress | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Fit and score one model; return its row and per-test-image outcomes."""
    curve, cnn = None, _cnn_in(est)
    if cnn is not None and cnn[0] == "":  # a learning curve on the test set
        curve = HeldOutAccuracy(
            Xt, yt, pixel_range=est.pixel_range, image_shape=est.image_shape
        )
        extra = [("progress", live)] if live is not None else []
        est.set_params(callbacks=[("test_accuracy", curve), *extra])
    tracked = reset_peak_rss()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", ConvergenceWarning
        )  # logreg stops early on purpose
        est.fit(X, y)
    if getattr(est, "interrupted_", False):  # Ctrl-C: no result for half a fit
        raise KeyboardInterrupt
    fit_s = time.perf_counter() - t0
    if curve is not None:
        fit_s -= curve.spent_s_
        est.set_params(callbacks=None)
    peak = peak_rss_mb()
    t0 = time.perf_counter()
    pred = est.predict(Xt)
    predict_s = time.perf_counter() - t0
    buf = io.BytesIO()
    joblib.dump(est, buf)
    recall = recall_score(yt, pred, average=None, labels=np.arange(10), zero_division=0)
    row = {
        "model": name,
        "seed": seed,
        # the precision a CNN trained in ('auto' resolved here); None: not a CNN
        "precision": None if cnn is None else cnn[1].precision_,
        "n_train": len(y),
        "accuracy": float(accuracy_score(yt, pred)),
        "macro_f1": float(f1_score(yt, pred, average="macro")),
        "fit_s": fit_s,
        "predict_img_per_s": len(Xt) / predict_s,
        "peak_rss_mb": peak if tracked else float("nan"),
        "model_size_mb": buf.tell() / 1e6,
        **{f"recall_{c}": float(r) for c, r in zip(CLASS_NAMES, recall, strict=True)},
    }
    return row, np.asarray(pred) == np.asarray(yt)


def _subsets(X, y, train_sizes: Sequence[int] | None):
    """Yield ``(X, y)`` for each training-set size: stratified subsets, seed 0."""
    n = len(y)
    if not train_sizes:
        yield X, y
        return
    sizes = sorted({int(s) for s in train_sizes})
    if sizes[0] < 1 or sizes[-1] > n:
        raise ValueError(
            f"train_sizes={list(train_sizes)} must lie between 1 and the "
            f"{n} training images."
        )
    for size in sizes:
        if size == n:
            yield X, y
        else:
            Xs, _, ys, _ = train_test_split(
                X, y, train_size=size, stratify=y, random_state=0
            )
            yield Xs, ys


def run_benchmark(
    models: Sequence[Model] | Mapping[str, Model],
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    random_state: int | Sequence[int] = 0,
    n_jobs: int = 2,
    cnn_params: dict[str, Any] | None = None,
    model_params: Mapping[str, dict[str, Any]] | None = None,
    run_once: Sequence[str] = (),
    train_sizes: Sequence[int] | None = None,
    verbose: bool | str = "auto",
    command: str = "",
) -> BenchmarkResult:
    """Fit every model on the same training data and score it on the same test data.

    Parameters
    ----------
    models : sequence or dict
        What to compare: model names of ``fashionclf.registry``, benchmark
        suites ('smoke', 'quick', 'full'; see ``resolve_models``) and your
        own unfitted scikit-learn estimators or pipelines, in a list, or in
        a dict of label -> name or estimator (the labels of the table and
        plots). Each run fits a clone of an estimator, with every
        ``random_state`` in it set to the run's seed.
    X_train, y_train, X_test, y_test : array-like
        Flat 0-255 pixel rows and labels 0-9.
    random_state : int or sequence of int, default=0
        Seed of every model; with a sequence, stochastic models (those with
        a ``random_state``) run once per seed (the ``seed`` column) and
        deterministic ones once, with the first.
    n_jobs : int, default=2
        Jobs for baselines that parallelise.
    cnn_params : dict, optional
        Parameters applied to every CNN (e.g. ``{"max_epochs": 1}``): the
        presets, and a ``FashionCNNClassifier`` of yours or at the end of
        your pipeline.
    model_params : dict of str to dict, optional
        Parameters of single models by label, set after ``cnn_params``:
        ``{"logreg": {"logisticregression__C": 0.5}}``.
    run_once : sequence of str, default=()
        Stochastic models to run with the first seed only (the slow ones);
        the summary's ``n`` column shows it.
    train_sizes : sequence of int, optional
        Training-set sizes for a sample-efficiency run: every model is
        trained on a stratified subset of each size (drawn with seed 0, the
        same for every model) and scored on the full test set. Default: the
        whole training set only.
    verbose : bool or 'auto', default='auto'
        On stderr: one line per run, and live epoch progress of the CNNs
        (epoch, elapsed, estimated time left): 'auto' and True rewrite the
        run's line on a terminal and write one line per epoch in a log or
        pipe; False prints nothing.
    command : str, default=''
        Recorded in the results.

    Returns
    -------
    BenchmarkResult
    """
    entries = model_entries(models)
    unknown = sorted(set(model_params or {}) - set(entries))
    if unknown:
        raise ValueError(
            expected_got(
                "run_benchmark",
                f"model_params for {unknown[0]!r}",
                f"parameters of the models benchmarked, {list(entries)}",
            )
        )
    live = wants_live(verbose)
    env = environment()
    rows, fitted, outcomes = [], {}, {}
    seeds = [int(s) for s in np.atleast_1d(random_state)]
    runs_per_size = [
        (n, s)
        for n, entry in entries.items()
        for s in (seeds if _stochastic(entry) and n not in run_once else seeds[:1])
    ]
    subsets = list(_subsets(X_train, y_train, train_sizes))
    total, i = len(runs_per_size) * len(subsets), 0
    # On a terminal the run's line is rewritten in place; in a log, live
    # progress writes whole lines, each starting with the run's name.
    rewrite = live and sys.stderr.isatty()
    for X, y in subsets:
        for name, seed in runs_per_size:
            i += 1
            size = f" n_train={len(y)}" if len(subsets) > 1 else ""
            prefix = f"[{i}/{total}] {name} seed={seed}{size} ... "
            if verbose and (rewrite or not live):
                print(prefix, end="", file=sys.stderr, flush=True)
            est = _build(
                entries[name],
                seed,
                n_jobs,
                cnn_params or {},
                (model_params or {}).get(name, {}),
            )
            epochs = EpochProgress(prefix) if live else None
            row, correct = _evaluate(name, est, seed, X, y, X_test, y_test, epochs)
            rows.append(row)
            outcomes[(name, seed, len(y))] = correct
            fitted[name] = est
            if verbose:
                done = (
                    f"accuracy {100 * row['accuracy']:.2f}%, fit {row['fit_s']:.1f} s"
                )
                lead = "\r\x1b[K" + prefix if rewrite else prefix if live else ""
                print(lead + done, file=sys.stderr, flush=True)
    return BenchmarkResult(pd.DataFrame(rows), env, fitted, command, outcomes)
