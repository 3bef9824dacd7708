"""Benchmark harness: fit CNN presets and baselines on the same data, compare.

For each model (and each seed, for stochastic models) it records test
accuracy, macro-F1, per-class recall, fit seconds, predict images/second,
peak resident memory during fit, pickled model size, plus the package
versions, hardware and git commit. :func:`run_benchmark` returns a
:class:`BenchmarkResult`, whose ``save`` writes ``results.json``,
``results.md`` and PNG plots.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, recall_score
from skorch.callbacks import Callback

from .baselines import BASELINES, make_baseline
from .datasets import CLASS_NAMES
from .presets import PRESETS, make_cnn

__all__ = [
    "BENCHMARK_PRESETS",
    "BenchmarkResult",
    "HeldOutAccuracy",
    "environment",
    "resolve_models",
    "run_benchmark",
]

#: Named model lists: 'quick' is the README's main job (a few minutes here).
BENCHMARK_PRESETS: dict[str, list[str]] = {
    "smoke": ["dummy", "logreg", "cnn-tiny"],
    "quick": ["dummy", "logreg", "random_forest", "knn", "cnn-fast"],
    "full": [
        "dummy",
        "logreg",
        "random_forest",
        "hist_gb",
        "knn",
        "svm_rbf",
        "cnn-seed",
        "cnn-fast",
        "cnn-default",
    ],
}


def resolve_models(names: Sequence[str]) -> list[str]:
    """Expand benchmark presets and check model names.

    ``names`` may hold baseline names, ``cnn-<preset>`` names and benchmark
    preset names ('smoke', 'quick', 'full').
    """
    out: list[str] = []
    for name in names:
        if name in BENCHMARK_PRESETS:
            out += BENCHMARK_PRESETS[name]
        elif name in BASELINES or (name.startswith("cnn-") and name[4:] in PRESETS):
            out.append(name)
        else:
            valid = (
                sorted(BASELINES)
                + [f"cnn-{p}" for p in PRESETS]
                + sorted(BENCHMARK_PRESETS)
            )
            raise ValueError(f"unknown model {name!r}; expected one of {valid}.")
    return list(dict.fromkeys(out))


def _is_stochastic(name: str) -> bool:
    return name.startswith("cnn-") or BASELINES[name][1]


def _build(
    name: str, seed: int, n_jobs: int, overrides: dict[str, Any]
) -> BaseEstimator:
    if name.startswith("cnn-"):
        return make_cnn(name[4:], random_state=seed, **overrides)
    return make_baseline(name, random_state=seed, n_jobs=n_jobs)


def _reset_peak_rss() -> bool:
    try:  # Linux: writing 5 to clear_refs resets VmHWM (peak RSS)
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def environment() -> dict[str, Any]:
    """Package versions, hardware and git commit, for results files."""
    versions = {}
    for pkg in ("fashionclf", "torch", "skorch", "scikit-learn", "numpy", "optuna"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in fh
                    if ln.startswith("model name")
                ),
                cpu,
            )
    except OSError:
        pass
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
        "git_commit": commit or None,
    }


class HeldOutAccuracy(Callback):
    """After each epoch, record the accuracy on held-out images in the history.

    For the learning-curve plot of a benchmark, which knows its test set: the
    figure is for display only, never for choosing a model. Writes
    ``test_acc`` to each history row, and the seconds it took to
    ``spent_s_``, which the benchmark subtracts from the fit time. The images
    are dropped when training ends, so the fitted model does not carry them.

    Parameters
    ----------
    X : array-like of shape (n_samples, 784)
        Flat 0-255 pixel rows, as :func:`run_benchmark` takes them.
    y : array-like of shape (n_samples,)
        Labels 0-9 (the CNN presets' class codes).
    """

    def __init__(self, X, y) -> None:
        self.X = X
        self.y = y

    def initialize(self) -> HeldOutAccuracy:
        """Reset the time spent."""
        self.spent_s_ = 0.0
        return self

    def on_train_begin(self, net, **kwargs) -> None:
        """Scale the held-out images once, as the CNN presets read pixels."""
        if self.X is None:
            return
        t0 = time.perf_counter()
        scaled = torch.from_numpy(np.asarray(self.X, dtype=np.float32) / 255.0)
        self.images_ = scaled.reshape(len(scaled), 1, 28, 28)
        self.spent_s_ += time.perf_counter() - t0

    def on_epoch_end(self, net, **kwargs) -> None:
        """Score the held-out images and record ``test_acc``."""
        if self.X is None:
            return
        t0 = time.perf_counter()
        pred = net.predict(self.images_)
        net.history.record("test_acc", float(np.mean(pred == np.asarray(self.y))))
        self.spent_s_ += time.perf_counter() - t0

    def on_train_end(self, net, **kwargs) -> None:
        """Drop the held-out images."""
        self.X = self.y = self.images_ = None


def _evaluate(name: str, est: BaseEstimator, seed: int, X, y, Xt, yt) -> dict[str, Any]:
    curve = None
    if name.startswith("cnn-"):  # a learning curve on the test set, timed apart
        curve = HeldOutAccuracy(Xt, yt)
        est.set_params(callbacks=[("test_accuracy", curve)])
    tracked = _reset_peak_rss()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", ConvergenceWarning
        )  # logreg stops early on purpose
        est.fit(X, y)
    fit_s = time.perf_counter() - t0
    if curve is not None:
        fit_s -= curve.spent_s_
        est.set_params(callbacks=None)
    peak = _peak_rss_mb()
    t0 = time.perf_counter()
    pred = est.predict(Xt)
    predict_s = time.perf_counter() - t0
    buf = io.BytesIO()
    joblib.dump(est, buf)
    recall = recall_score(yt, pred, average=None, labels=np.arange(10), zero_division=0)
    return {
        "model": name,
        "seed": seed,
        "accuracy": float(accuracy_score(yt, pred)),
        "macro_f1": float(f1_score(yt, pred, average="macro")),
        "fit_s": fit_s,
        "predict_img_per_s": len(Xt) / predict_s,
        "peak_rss_mb": peak if tracked else float("nan"),
        "model_size_mb": buf.tell() / 1e6,
        **{f"recall_{c}": float(r) for c, r in zip(CLASS_NAMES, recall, strict=True)},
    }


@dataclasses.dataclass
class BenchmarkResult:
    """Per-run rows, the environment, and the fitted estimators of the last seed.

    Attributes
    ----------
    runs : DataFrame
        One row per (model, seed).
    env : dict
        :func:`environment` at the start of the run.
    estimators : dict
        Model name -> fitted estimator (last seed).
    command : str
        The command line, if known.
    """

    runs: pd.DataFrame
    env: dict[str, Any]
    estimators: dict[str, BaseEstimator]
    command: str = ""

    def summary(self) -> pd.DataFrame:
        """Mean and std over seeds per model, sorted by accuracy."""
        g = self.runs.groupby("model", sort=False)
        cols = [
            "accuracy",
            "macro_f1",
            "fit_s",
            "predict_img_per_s",
            "peak_rss_mb",
            "model_size_mb",
        ]
        out = g[cols].mean()
        out["accuracy_std"] = g["accuracy"].std(ddof=0)
        out["fit_s_std"] = g["fit_s"].std(ddof=0)
        out["n"] = g.size()
        return out.sort_values("accuracy", ascending=False)

    def to_markdown(self) -> str:
        """Return the summary as a Markdown table (accuracy: mean ± std, n seeds)."""
        lines = [
            "| model | test accuracy | macro-F1 | fit s | predict img/s | "
            "peak RSS MB | size MB | n |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in self.summary().iterrows():
            lines.append(
                f"| {name} | {100 * r.accuracy:.2f} ± {100 * r.accuracy_std:.2f}% | "
                f"{r.macro_f1:.4f} | {r.fit_s:.1f} ± {r.fit_s_std:.1f} | "
                f"{r.predict_img_per_s:,.0f} | {r.peak_rss_mb:,.0f} | "
                f"{r.model_size_mb:.2f} | "
                f"{int(r.n)} |"
            )
        return "\n".join(lines)

    def save(
        self,
        out_dir: str | os.PathLike[str],
        *,
        plots: bool = True,
        X_test=None,
        y_test=None,
    ) -> Path:
        """Write ``results.json``, ``results.md`` and (optionally) PNG plots."""
        from . import plotting

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        payload = {
            "command": self.command,
            "environment": self.env,
            "runs": self.runs.to_dict(orient="records"),
            "summary": self.summary().reset_index().to_dict(orient="records"),
        }
        (out / "results.json").write_text(json.dumps(payload, indent=2, default=float))
        md = [
            f"Command: `{self.command}`",
            "",
            f"Date: {self.env['date']}; CPU: {self.env['cpu']} "
            f"({self.env['cores']} cores, "
            f"torch threads {self.env['torch_threads']}); "
            f"commit {self.env['git_commit']}; "
            + ", ".join(f"{k} {v}" for k, v in self.env["versions"].items()),
            "",
            self.to_markdown(),
            "",
        ]
        (out / "results.md").write_text("\n".join(md))
        if plots:
            plotting.save(
                plotting.plot_accuracy_vs_time(self.summary()),
                out / "accuracy_vs_time.png",
            )
            best = self.summary().index[0]
            est = self.estimators[best]
            if X_test is not None and y_test is not None:
                plotting.save(
                    plotting.plot_confusion_matrix(
                        y_test, est.predict(X_test), title=best
                    ),
                    out / "confusion_matrix.png",
                )
            for name, est in self.estimators.items():
                if hasattr(est, "history_"):
                    plotting.save(
                        plotting.plot_learning_curves(est.history_, title=name),
                        out / f"learning_curves_{name}.png",
                    )
        return out


def run_benchmark(
    models: Sequence[str],
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    seeds: Sequence[int] = (0,),
    n_jobs: int = 2,
    cnn_overrides: dict[str, Any] | None = None,
    one_seed: Sequence[str] = (),
    progress: bool = True,
    command: str = "",
) -> BenchmarkResult:
    """Fit every model on the same training data and score it on the same test data.

    Parameters
    ----------
    models : sequence of str
        Baseline names, ``cnn-<preset>`` names or benchmark presets
        ('smoke', 'quick', 'full'); see :func:`resolve_models`.
    X_train, y_train, X_test, y_test : array-like
        Flat 0-255 pixel rows and labels 0-9.
    seeds : sequence of int, default=(0,)
        Seeds for stochastic models; deterministic ones run once.
    n_jobs : int, default=2
        Jobs for baselines that parallelise.
    cnn_overrides : dict, optional
        Parameters applied to every CNN preset (e.g. ``{"max_epochs": 1}``).
    one_seed : sequence of str, default=()
        Stochastic models to run with the first seed only (the slow ones);
        the summary's ``n`` column shows it.
    progress : bool, default=True
        Print one line per run to stderr.
    command : str, default=''
        Recorded in the results.

    Returns
    -------
    BenchmarkResult
    """
    names = resolve_models(models)
    env = environment()
    rows, fitted = [], {}
    plan = [
        (n, s)
        for n in names
        for s in (seeds if _is_stochastic(n) and n not in one_seed else seeds[:1])
    ]
    for i, (name, seed) in enumerate(plan, 1):
        if progress:
            print(
                f"[{i}/{len(plan)}] {name} seed={seed} ...",
                end=" ",
                file=sys.stderr,
                flush=True,
            )
        est = _build(name, seed, n_jobs, cnn_overrides or {})
        row = _evaluate(name, est, seed, X_train, y_train, X_test, y_test)
        rows.append(row)
        fitted[name] = est
        if progress:
            print(
                f"accuracy {100 * row['accuracy']:.2f}%, fit {row['fit_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return BenchmarkResult(pd.DataFrame(rows), env, fitted, command)
