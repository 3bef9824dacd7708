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
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array
from skorch.callbacks import Callback

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
    curve = None
    if is_cnn(name):  # a learning curve on the test set, timed apart
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
        "precision": est.precision_ if is_cnn(name) else None,
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
    models: Sequence[str],
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    random_state: int | Sequence[int] = 0,
    n_jobs: int = 2,
    cnn_params: dict[str, Any] | None = None,
    run_once: Sequence[str] = (),
    train_sizes: Sequence[int] | None = None,
    verbose: bool | str = "auto",
    command: str = "",
) -> BenchmarkResult:
    """Fit every model on the same training data and score it on the same test data.

    Parameters
    ----------
    models : sequence of str
        Model names of ``fashionclf.registry`` or benchmark suites
        ('smoke', 'quick', 'full'); see ``resolve_models``.
    X_train, y_train, X_test, y_test : array-like
        Flat 0-255 pixel rows and labels 0-9.
    random_state : int or sequence of int, default=0
        Seed of every model; with a sequence, stochastic models run once per
        seed (the ``seed`` column) and deterministic ones once, with the first.
    n_jobs : int, default=2
        Jobs for baselines that parallelise.
    cnn_params : dict, optional
        Parameters applied to every CNN preset (e.g. ``{"max_epochs": 1}``).
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
        (epoch, elapsed, estimated time left). 'auto' shows the epochs only
        when stderr is a terminal; True always; False prints nothing.
    command : str, default=''
        Recorded in the results.

    Returns
    -------
    BenchmarkResult
    """
    names = resolve_models(models)
    live = wants_live(verbose)
    env = environment()
    rows, fitted, outcomes = [], {}, {}
    seeds = [int(s) for s in np.atleast_1d(random_state)]
    runs_per_size = [
        (n, s)
        for n in names
        for s in (seeds if is_stochastic(n) and n not in run_once else seeds[:1])
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
            params = (cnn_params or {}) if is_cnn(name) else {}
            est = make_model(name, random_state=seed, n_jobs=n_jobs, **params)
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
