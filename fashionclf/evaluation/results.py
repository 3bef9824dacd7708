"""What a benchmark run measured: :class:`BenchmarkResult` and the environment.

The result holds one row per run and answers, in its summary, whether a
difference between models is real: a Wilson 95% interval of each accuracy,
and against the best model a paired bootstrap 95% interval of the difference
and an exact McNemar test (:mod:`fashionclf.evaluation.significance`). ``save`` writes
``results.json``, ``results.md`` and PNG plots.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .significance import compare_to_best

__all__ = ["BenchmarkResult", "environment", "machine_name", "write_record"]


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
    cpu = _cpu_model()
    import torch

    flags = _cpu_flags()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_flags": sorted(flags & _ISA_FLAGS),
        "machine": machine_name(cpu, flags),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
        "git_commit": commit or None,
    }


#: The instruction-set flags that decide this library's speed (``lscpu`` names).
_ISA_FLAGS = frozenset(
    {
        "avx",
        "avx2",
        "fma",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
        "amx_bf16",
        "amx_int8",
        "avx_vnni",
    }
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            line = next((ln for ln in fh if ln.startswith("model name")), "")
    except OSError:
        line = ""
    return line.partition(":")[2].strip() or platform.processor()


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            line = next((ln for ln in fh if ln.startswith("flags")), "")
    except OSError:
        return set()
    return set(line.partition(":")[2].split())


def machine_name(cpu: str | None = None, flags: set[str] | None = None) -> str:
    """Return a short name of this kind of machine, for result folders.

    The processor family and the widest instruction set that matters for
    training here, e.g. ``'epyc-avx512bf16'``, ``'xeon-amx'``,
    ``'epyc-avx2'``.

    Parameters
    ----------
    cpu : str, optional
        The processor's model name; default: this machine's.
    flags : set of str, optional
        Its ``/proc/cpuinfo`` flags; default: this machine's.

    Returns
    -------
    str
    """
    if cpu is None:
        cpu = _cpu_model()
    flags = _cpu_flags() if flags is None else flags
    family = next(
        (w for w in ("epyc", "xeon", "ryzen", "core") if w in cpu.lower()),
        platform.machine().lower() or "cpu",
    )
    isa = next(
        (
            name
            for name, flag in (
                ("amx", "amx_tile"),
                ("avx512bf16", "avx512_bf16"),
                ("avx512", "avx512f"),
                ("avx2", "avx2"),
            )
            if flag in flags
        ),
        "base",
    )
    return f"{family}-{isa}"


def write_record(
    topic: str,
    rows: list[dict[str, Any]],
    *,
    root: str | os.PathLike[str] = "benchmarks/results",
    summary: dict[str, Any] | None = None,
) -> Path:
    """Write a benchmark script's measurements as one JSON record.

    Every script of the suite writes the same schema to
    ``<root>/<machine>/<commit>-<date>-<topic>.json``: ``schema``, ``topic``,
    ``command`` (how the script was called), ``environment``
    (``environment()``: versions, CPU and its flags, commit, date),
    ``rows`` (one dict per measurement) and ``summary``.

    Parameters
    ----------
    topic : str
        What was measured, a file-name word (``'serving'``,
        ``'time-to-accuracy'``).
    rows : list of dict
        The measurements, JSON-serialisable (``str`` is used for the rest).
    root : path-like, default='benchmarks/results'
        The folder of the per-machine folders.
    summary : dict, optional
        Figures derived from the rows (means, ratios).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not topic or not all(c.isalnum() or c in "-_" for c in topic):
        raise ValueError(
            f"write_record received topic={topic!r}; expected a non-empty word "
            "of letters, digits, '-' and '_'."
        )
    env = environment()
    commit = env["git_commit"] or "no-git"
    path = (
        Path(root)
        / str(env["machine"])
        / f"{commit}-{time.strftime('%Y-%m-%d')}-{topic}.json"
    )
    record = {
        "schema": "fashionclf-benchmark/1",
        "topic": topic,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "environment": env,
        "rows": rows,
        "summary": summary or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


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


def _legend(table: pd.DataFrame, seeds: bool) -> str:
    best = table.index[0]
    return (
        "95% CI: Wilson interval of the test accuracy (first seed), from the "
        f"finite test set. vs best: accuracy minus {best}'s on the same test "
        "images, with a paired bootstrap 95% interval (first seeds). McNemar "
        "p: exact two-sided test of the paired predictions."
    ) + (
        " Seed std / test SE: spread over seeds (ddof=1) against the standard "
        "error of one accuracy from the test set alone, and which is larger; "
        "shown for models run with several seeds."
        if seeds
        else ""
    )


@dataclasses.dataclass
class BenchmarkResult:
    """Per-run rows, the environment, and the fitted estimators of the last seed.

    Attributes
    ----------
    runs : DataFrame
        One row per (model, seed, training-set size ``n_train``).
    env : dict
        ``environment()`` at the start of the run.
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
        also the columns of :func:`fashionclf.evaluation.significance.compare_to_best`
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
        seeds = sig and bool(table["larger_noise"].fillna("").astype(bool).any())
        columns = ["model", "test accuracy"]
        if sig:
            columns += ["95% CI", "vs best, pt (95% CI)", "McNemar p"]
            columns += ["seed std / test SE"] if seeds else []
        columns += ["macro-F1", "fit s", "predict img/s", "peak RSS MB", "size MB", "n"]
        rows = []
        for name, r in table.iterrows():
            cells = [str(name), _spread(100 * r.accuracy, 100 * r.accuracy_std, "%")]
            if sig:
                cells += _significance_cells(r)[: 4 if seeds else 3]
            cells += [
                f"{r.macro_f1:.4f}",
                _spread(r.fit_s, r.fit_s_std, "", 1),
                f"{r.predict_img_per_s:,.0f}",
                f"{r.peak_rss_mb:,.0f}" if np.isfinite(r.peak_rss_mb) else "n/a",
                f"{r.model_size_mb:.2f}",
                str(int(r.n)),
            ]
            rows.append(cells)
        text = _markdown(pd.DataFrame(rows, columns=columns))
        return f"{text}\n\n{_legend(table, seeds)}" if sig else text

    def sample_efficiency_markdown(self) -> str:
        """Test accuracy per model (rows) and training-set size (columns)."""
        eff = self.sample_efficiency()
        wide = eff.pivot(index="model", columns="n_train", values="accuracy")
        wide = wide.reindex(eff["model"].drop_duplicates())  # the summary's order
        cells = wide.map(lambda a: "" if pd.isna(a) else f"{100 * a:.2f}%")
        cells.columns = [f"{s:,}" for s in cells.columns]
        return _markdown(cells.reset_index())

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
            + (
                f"commit {self.env['git_commit']}; "
                if self.env.get("git_commit")
                else "not run from a git checkout; "
            )
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


def _markdown(frame: pd.DataFrame) -> str:
    """Format text cells as a GitHub Markdown table (``DataFrame.to_markdown``)."""
    return frame.to_markdown(index=False, tablefmt="github", disable_numparse=True)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts, NaN as None (JSON has no NaN)."""
    return [
        {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()}
        for row in df.to_dict(orient="records")
    ]
