"""Benchmark harness: fit CNN presets and baselines on the same data, compare.

For each model (and each seed, for stochastic models; and each training-set
size, with ``train_sizes``) it records test accuracy, macro-F1, per-class
recall, fit seconds, predict images/second, peak resident memory during fit,
pickled model size, plus the package versions, hardware and git commit.
Every model is scored on the same test images, so the summary also says
whether a difference is real: a Wilson 95% interval of each accuracy, and
against the best model a paired bootstrap 95% interval of the difference and
an exact McNemar test (:mod:`fashionclf.significance`).
:func:`run_benchmark` returns a :class:`BenchmarkResult`, whose ``save``
writes ``results.json``, ``results.md`` and PNG plots.
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
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback

from ._progress import EpochProgress, wants_live
from .datasets import CLASS_NAMES
from .presets import BENCHMARK_PRESETS
from .registry import MODEL_NAMES, is_cnn, is_stochastic, make_model
from .significance import compare_to_best

__all__ = [
    "BENCHMARK_PRESETS",
    "BenchmarkResult",
    "HeldOutAccuracy",
    "environment",
    "resolve_models",
    "run_benchmark",
]


def resolve_models(names: Sequence[str]) -> list[str]:
    """Expand benchmark presets and check model names.

    ``names`` may hold model names (:data:`fashionclf.registry.MODEL_NAMES`)
    and benchmark preset names ('smoke', 'quick', 'full').
    """
    out: list[str] = []
    for name in names:
        if name in BENCHMARK_PRESETS:
            out += BENCHMARK_PRESETS[name]
        elif name in MODEL_NAMES:
            out.append(name)
        else:
            valid = [*MODEL_NAMES, *BENCHMARK_PRESETS]
            raise ValueError(f"unknown model {name!r}; expected one of {valid}.")
    return list(dict.fromkeys(out))


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
    versions: dict[str, str | None] = {}
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
        self.images_: torch.Tensor | None = scaled.reshape(len(scaled), 1, 28, 28)
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
        curve = HeldOutAccuracy(Xt, yt)
        extra = [("progress", live)] if live is not None else []
        est.set_params(callbacks=[("test_accuracy", curve), *extra])
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
    row = {
        "model": name,
        "seed": seed,
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


def _spread(mean: float, std: float, unit: str, digits: int = 2) -> str:
    """``mean ± std`` for several runs; the mean alone for one (std is NaN)."""
    if np.isnan(std):
        return f"{mean:,.{digits}f}{unit}"
    return f"{mean:,.{digits}f} ± {std:,.{digits}f}{unit}"


def _p_value(p: float) -> str:
    if np.isnan(p):
        return ""
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _significance_cells(r: pd.Series) -> list[str]:
    ci = f"{100 * r.ci_low:.2f}-{100 * r.ci_high:.2f}%"
    if np.isnan(r.p_mcnemar):
        vs_best = "best"
    else:
        vs_best = (
            f"{100 * r.diff_vs_best:+.2f} "
            f"({100 * r.diff_ci_low:+.2f} to {100 * r.diff_ci_high:+.2f})"
        )
    noise = (
        f"{100 * r.accuracy_std:.2f} / {100 * r.sampling_se:.2f}: {r.larger_noise}"
        if r.larger_noise
        else ""
    )
    return [ci, vs_best, _p_value(r.p_mcnemar), noise]


def _legend(table: pd.DataFrame) -> str:
    best = table.index[0]
    return (
        "95% CI: Wilson interval of the test accuracy (first seed), from the "
        f"finite test set. vs best: accuracy minus {best}'s on the same test "
        "images, with a paired bootstrap 95% interval (first seeds). McNemar "
        "p: exact two-sided test of the paired predictions. Seed std / test "
        "SE: spread over seeds (ddof=1) against the standard error of one "
        "accuracy from the test set alone, and which is larger; shown for "
        "models run with several seeds."
    )


@dataclasses.dataclass
class BenchmarkResult:
    """Per-run rows, the environment, and the fitted estimators of the last seed.

    Attributes
    ----------
    runs : DataFrame
        One row per (model, seed, training-set size ``n_train``).
    env : dict
        :func:`environment` at the start of the run.
    estimators : dict
        Model name -> fitted estimator (last seed, largest training set).
    command : str
        The command line, if known.
    outcomes : dict
        ``(model, seed, n_train)`` -> boolean array, True where that run's
        prediction of a test image is right; the paired tests use them.
    """

    runs: pd.DataFrame
    env: dict[str, Any]
    estimators: dict[str, BaseEstimator]
    command: str = ""
    outcomes: dict[tuple[str, int, int], np.ndarray] = dataclasses.field(
        default_factory=dict
    )

    def _full_size(self) -> pd.DataFrame:
        runs = self.runs
        if "n_train" not in runs:
            return runs
        return runs[runs["n_train"] == runs["n_train"].max()]

    def summary(self) -> pd.DataFrame:
        """One row per model on the largest training set, best accuracy first.

        Columns: the means over seeds of ``accuracy``, ``macro_f1``,
        ``fit_s``, ``predict_img_per_s``, ``peak_rss_mb``, ``model_size_mb``;
        ``accuracy_std`` and ``fit_s_std`` over seeds (ddof=1; NaN for one
        run); ``n`` runs; ``sampling_se``, the standard error of an accuracy
        from the finite test set alone, and ``larger_noise`` ('seeds' or
        'test sampling'; empty for one run). With the per-image outcomes,
        also the columns of :func:`fashionclf.significance.compare_to_best`
        for each model's first seed against the model with the best mean:
        ``ci_low``, ``ci_high``, ``diff_vs_best``, ``diff_ci_low``,
        ``diff_ci_high``, ``p_mcnemar``.
        """
        runs = self._full_size()
        g = runs.groupby("model", sort=False)
        cols = [
            "accuracy",
            "macro_f1",
            "fit_s",
            "predict_img_per_s",
            "peak_rss_mb",
            "model_size_mb",
        ]
        out = g[cols].mean()
        out["accuracy_std"] = g["accuracy"].std(ddof=1)
        out["fit_s_std"] = g["fit_s"].std(ddof=1)
        out["n"] = g.size()
        out = out.sort_values("accuracy", ascending=False)
        first = {}
        for (name, _seed, n_train), correct in self.outcomes.items():
            if n_train == runs["n_train"].max() and name not in first:
                first[name] = correct
        if first:
            n_test = len(next(iter(first.values())))
            p = out["accuracy"]
            out["sampling_se"] = np.sqrt(p * (1 - p) / n_test)
            out["larger_noise"] = np.where(
                out["n"] < 2,
                "",
                np.where(
                    out["accuracy_std"] > out["sampling_se"], "seeds", "test sampling"
                ),
            )
            sig = compare_to_best(first, best=str(out.index[0]))
            out = out.join(sig.drop(columns="accuracy"))
        return out

    def sample_efficiency(self) -> pd.DataFrame:
        """Mean accuracy and fit time per model and training-set size.

        Columns ``model``, ``n_train``, ``accuracy``, ``accuracy_std``
        (ddof=1), ``fit_s``, ``n``; for :func:`plotting.plot_sample_efficiency`.
        """
        g = self.runs.groupby(["model", "n_train"], sort=False)
        out = g[["accuracy", "fit_s"]].mean()
        out["accuracy_std"] = g["accuracy"].std(ddof=1)
        out["n"] = g.size()
        return out.reset_index().sort_values(["model", "n_train"], kind="stable")

    def to_markdown(self) -> str:
        """Return the summary as a Markdown table, with a legend under it.

        Accuracy is ``mean ± std`` over seeds for several runs and the single
        figure for one (the ``n`` column says which). Intervals and tests
        are explained in the legend.
        """
        table = self.summary()
        sig = "p_mcnemar" in table
        head = "| model | test accuracy |"
        if sig:
            head += " 95% CI | vs best, pt (95% CI) | McNemar p | seed std / test SE |"
        head += " macro-F1 | fit s | predict img/s | peak RSS MB | size MB | n |"
        lines = [head, "|" + "---|" * (head.count("|") - 1)]
        for name, r in table.iterrows():
            cells = [str(name), _spread(100 * r.accuracy, 100 * r.accuracy_std, "%")]
            if sig:
                cells += _significance_cells(r)
            cells += [
                f"{r.macro_f1:.4f}",
                _spread(r.fit_s, r.fit_s_std, "", 1),
                f"{r.predict_img_per_s:,.0f}",
                f"{r.peak_rss_mb:,.0f}",
                f"{r.model_size_mb:.2f}",
                str(int(r.n)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if sig:
            lines += ["", _legend(table)]
        return "\n".join(lines)

    def sample_efficiency_markdown(self) -> str:
        """Test accuracy per model (rows) and training-set size (columns)."""
        eff = self.sample_efficiency()
        sizes = sorted(eff["n_train"].unique())
        lines = [
            "| model | " + " | ".join(f"{s:,}" for s in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for name, rows in eff.groupby("model", sort=False):
            acc = dict(zip(rows["n_train"], rows["accuracy"], strict=True))
            cells = [f"{100 * acc[s]:.2f}%" if s in acc else "" for s in sizes]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def save(
        self,
        out_dir: str | os.PathLike[str],
        *,
        plots: bool = True,
        X_test=None,
        y_test=None,
    ) -> Path:
        """Write ``results.json``, ``results.md`` and (optionally) PNG plots.

        Plots: accuracy vs fit time; with ``X_test, y_test``, the best
        model's confusion matrix and per-class precision/recall; each CNN's
        learning curves; with several training-set sizes, the
        sample-efficiency plot. Missing values are ``null`` in the JSON.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        several_sizes = self.runs["n_train"].nunique() > 1
        payload = {
            "command": self.command,
            "environment": self.env,
            "runs": _records(self.runs),
            "summary": _records(summary.reset_index()),
        }
        if several_sizes:
            payload["sample_efficiency"] = _records(self.sample_efficiency())
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
        if several_sizes:
            md += [
                "Test accuracy by training-set size:",
                "",
                self.sample_efficiency_markdown(),
                "",
            ]
        (out / "results.md").write_text("\n".join(md))
        if plots:
            self._save_plots(out, summary, X_test, y_test, several_sizes)
        return out

    def _save_plots(self, out: Path, summary, X_test, y_test, several_sizes) -> None:
        from . import plotting

        plotting.save(
            plotting.plot_accuracy_vs_time(summary), out / "accuracy_vs_time.png"
        )
        best = summary.index[0]
        if X_test is not None and y_test is not None:
            pred = self.estimators[best].predict(X_test)
            plotting.save(
                plotting.plot_confusion_matrix(y_test, pred, title=best),
                out / "confusion_matrix.png",
            )
            plotting.save(
                plotting.plot_per_class_metrics(y_test, pred, title=best),
                out / "per_class_metrics.png",
            )
        for name, est in self.estimators.items():
            if hasattr(est, "history_"):
                plotting.save(
                    plotting.plot_learning_curves(est.history_, title=name),
                    out / f"learning_curves_{name}.png",
                )
        if several_sizes:
            plotting.save(
                plotting.plot_sample_efficiency(self.sample_efficiency()),
                out / "sample_efficiency.png",
            )


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, NaN as None (JSON has no NaN)."""
    return [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]


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
        Model names of :mod:`fashionclf.registry` or benchmark presets
        ('smoke', 'quick', 'full'); see :func:`resolve_models`.
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
