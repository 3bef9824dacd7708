"""Plots, headless-safe.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot
(no GUI backend needed); :func:`save` writes a PNG.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, precision_recall_fscore_support
from sklearn.utils import _safe_indexing

from ..datasets.loaders import CLASS_NAMES

__all__ = [
    "plot_accuracy_vs_time",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_per_class_metrics",
    "plot_saliency",
    "plot_sample_efficiency",
    "plot_samples",
    "save",
]


def _names(labels, class_names: Sequence[str]) -> list[str]:
    out = []
    for lab in labels:
        if isinstance(lab, int | np.integer) and 0 <= lab < len(class_names):
            out.append(class_names[int(lab)])
        else:
            out.append(str(lab))
    return out


def save(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` as PNG to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png", bbox_inches="tight")
    return path


def plot_samples(
    X,
    y=None,
    *,
    n_rows: int = 15,
    n_cols: int = 15,
    class_names: Sequence[str] = CLASS_NAMES,
) -> Figure:
    """Plot the first ``n_rows * n_cols`` images in a grid with their class names.

    Parameters
    ----------
    X : array-like of shape (n, 784) or (n, 28, 28)
    y : array-like of shape (n,), optional
    n_rows, n_cols : int, default=15
    class_names : sequence of str
    """
    X = np.asarray(X).reshape(len(X), 28, 28)
    n = min(len(X), n_rows * n_cols)
    fig = Figure(figsize=(n_cols * 0.9, n_rows * 1.0))
    labels = _names(y[:n], class_names) if y is not None else None
    for i in range(n):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        ax.imshow(X[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_title(labels[i], fontsize=6)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    y_true, y_pred, *, class_names: Sequence[str] = CLASS_NAMES, title: str = ""
) -> Figure:
    """Row-normalised confusion matrix with class names and a colour bar.

    Each row is a true class and sums to 1: the share of its images given
    each predicted class.
    """
    fig = Figure(figsize=(8, 7))
    ax = fig.add_subplot()
    labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        display_labels=_names(labels, class_names),
        normalize="true",
        values_format=".2f",
        ax=ax,
        colorbar=False,
        xticks_rotation=45,
        im_kw={"vmin": 0, "vmax": 1},
    )
    bar = fig.colorbar(ax.images[0], ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("fraction of the true class's images")
    heading = f"Confusion matrix {title}".rstrip()
    ax.set_title(
        f"{heading}\n(each row sums to 1: where a class's images went)", fontsize=11
    )
    fig.tight_layout()
    return fig


def plot_misclassified(
    X,
    y_true,
    proba,
    *,
    classes=None,
    n: int = 25,
    class_names: Sequence[str] = CLASS_NAMES,
) -> Figure:
    """Plot the ``n`` most confidently misclassified images, true/predicted labels.

    Parameters
    ----------
    X : array-like of shape (n_samples, 784)
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
        ``predict_proba`` output, columns ordered as ``classes``.
    classes : array-like, optional
        Column labels of ``proba`` (default ``0..n_classes-1``).
    """
    proba = np.asarray(proba)
    classes = np.arange(proba.shape[1]) if classes is None else np.asarray(classes)
    pred = classes[proba.argmax(axis=1)]
    wrong = np.flatnonzero(pred != np.asarray(y_true))
    order = wrong[np.argsort(-proba.max(axis=1)[wrong])][:n]
    side = max(1, int(np.ceil(np.sqrt(max(len(order), 1)))))
    fig = Figure(figsize=(side * 1.6, side * 1.8))
    imgs = np.asarray(X).reshape(len(X), 28, 28)
    t_names, p_names = (
        _names(np.asarray(y_true)[order], class_names),
        _names(pred[order], class_names),
    )
    for k, i in enumerate(order):
        ax = fig.add_subplot(side, side, k + 1)
        ax.imshow(imgs[i], cmap="gray_r", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(
            f"true {t_names[k]}\npred {p_names[k]} {proba[i].max():.0%}", fontsize=6
        )
    fig.suptitle("Most confidently misclassified")
    fig.tight_layout()
    return fig


def plot_learning_curves(history, *, title: str = "") -> Figure:
    """Per-epoch losses and accuracy from a fitted CNN's ``history_``.

    The right panel shows the validation accuracy (``valid_acc``, with
    ``validation_fraction > 0``) and, when the history has it, the accuracy
    on held-out test images (``test_acc``, recorded by
    :class:`fashionclf.evaluation.HeldOutAccuracy`; labelled as test accuracy,
    for display only). Without either it says how to get one.
    """
    rows = list(history)
    fig = Figure(figsize=(9, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    for key in ("train_loss", "valid_loss"):
        _plot_history_key(ax1, rows, key, label=key)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    shown = [
        _plot_history_key(ax2, rows, "valid_acc", "validation accuracy", color="C2"),
        _plot_history_key(ax2, rows, "test_acc", "test accuracy (display only)", "C3"),
    ]
    if any(shown):
        ax2.set_ylabel("accuracy")
        ax2.legend()
    else:
        ax2.text(
            0.5,
            0.5,
            "no validation split\n(set validation_fraction)",
            ha="center",
            va="center",
            transform=ax2.transAxes,
        )
    ax2.set_xlabel("epoch")
    for ax in (ax1, ax2):  # whole epochs only, also for a 1-epoch fit
        ax.set_xlim(0.5, len(rows) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.suptitle(f"Learning curves {title}".strip())
    fig.tight_layout()
    return fig


def _plot_history_key(ax, rows: list, key: str, label: str, color=None) -> bool:
    """Plot ``key`` per epoch (gaps where a row lacks it); False if no row has it."""
    vals = [r.get(key) for r in rows]
    if all(v is None for v in vals):
        return False
    epochs = np.arange(1, len(rows) + 1)
    y = [np.nan if v is None else v for v in vals]
    ax.plot(epochs, y, marker="o", color=color, label=label)
    return True


def plot_accuracy_vs_time(
    summary: pd.DataFrame, *, min_accuracy: float = 0.5
) -> Figure:
    """Plot test accuracy against fit time (log scale) for benchmarked models.

    Parameters
    ----------
    summary : DataFrame
        Indexed by model name with ``accuracy`` and ``fit_s`` columns
        (optionally ``accuracy_std``), as ``BenchmarkResult.summary()``.
    min_accuracy : float, default=0.5
        Models below this (e.g. the dummy) are left out so the others are
        readable; the title names them.
    """
    shown = summary[summary["accuracy"] >= min_accuracy].sort_values("fit_s")
    hidden = [str(n) for n in summary.index if n not in shown.index]
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    err = shown["accuracy_std"] * 100 if "accuracy_std" in shown else None
    ax.errorbar(
        shown["fit_s"].clip(lower=1e-2), shown["accuracy"] * 100, yerr=err, fmt="o"
    )
    for k, (name, r) in enumerate(shown.iterrows()):
        ax.annotate(
            str(name),
            (max(r["fit_s"], 1e-2), r["accuracy"] * 100),
            textcoords="offset points",
            xytext=(6, 8 if k % 2 else -12),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("fit time (s, log scale)")
    ax.set_ylabel("test accuracy (%)")
    title = "Fashion-MNIST: accuracy vs fit time"
    if hidden:
        title += f"\n(not shown, below {min_accuracy:.0%}: {', '.join(hidden)})"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_per_class_metrics(
    y_true, y_pred, *, class_names: Sequence[str] = CLASS_NAMES, title: str = ""
) -> Figure:
    """Precision and recall per class as paired horizontal bars.

    Recall: of the images of a class, the share found; precision: of the
    images predicted as a class, the share right. The worst classes (for
    Fashion-MNIST: shirt, pullover, coat) stand out at a glance.
    """
    labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    precision, recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    names = _names(labels, class_names)
    fig = Figure(figsize=(7, 0.45 * len(labels) + 1.2))
    ax = fig.add_subplot()
    pos = np.arange(len(labels))
    ax.barh(pos - 0.2, 100 * precision, height=0.4, label="precision", color="C0")
    ax.barh(pos + 0.2, 100 * recall, height=0.4, label="recall", color="C1")
    for k in range(len(labels)):
        for offset, value in ((-0.2, precision[k]), (0.2, recall[k])):
            ax.text(
                100 * value + 0.5,
                k + offset,
                f"{100 * value:.1f}",
                va="center",
                fontsize=7,
            )
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 108)  # bars from zero: their lengths compare honestly
    ax.set_xlabel("precision / recall (% of images)")
    # below the axis, where it cannot cover a bar
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8)
    ax.set_title(f"Precision and recall per class {title}".strip())
    fig.tight_layout()
    return fig


def plot_sample_efficiency(table: pd.DataFrame) -> Figure:
    """Test accuracy and fit time against training-set size, one line per model.

    Parameters
    ----------
    table : DataFrame
        Columns ``model``, ``n_train``, ``accuracy``, ``fit_s`` (optionally
        ``accuracy_std``), as ``BenchmarkResult.sample_efficiency()``.
    """
    fig = Figure(figsize=(11, 4.2))
    ax_acc, ax_time = fig.subplots(1, 2)
    for k, (name, rows) in enumerate(table.groupby("model", sort=False)):
        rows = rows.sort_values("n_train")
        err = rows["accuracy_std"] * 100 if "accuracy_std" in rows else None
        ax_acc.errorbar(
            rows["n_train"],
            rows["accuracy"] * 100,
            yerr=err,
            marker="o",
            color=f"C{k % 10}",
            label=str(name),
        )
        ax_time.plot(
            rows["n_train"],
            rows["fit_s"].clip(lower=1e-2),
            marker="o",
            color=f"C{k % 10}",
            label=str(name),
        )
    sizes = sorted(table["n_train"].unique())
    for ax in (ax_acc, ax_time):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training images (log scale)")
        ax.grid(True, alpha=0.3)
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_title("Accuracy vs training-set size")
    ax_acc.legend(fontsize=8)
    ax_time.set_yscale("log")
    ax_time.set_ylabel("fit time (s, log scale)")
    ax_time.set_title("Fit time vs training-set size")
    fig.tight_layout()
    return fig


def plot_saliency(
    clf,
    X,
    y_true=None,
    *,
    n: int = 8,
    indices=None,
    steps: int = 32,
    class_names: Sequence[str] = CLASS_NAMES,
) -> Figure:
    """Where the CNN's predictions come from: integrated-gradients overlays.

    One row per image: the image with its true class; the attribution of the
    predicted class (:func:`fashionclf.evaluation.saliency.integrated_gradients`, black
    baseline) over a faint copy of the image, red where pixels raise the
    class's score and blue where they lower it, with the predicted class and
    its probability; and the probabilities of the top three classes.

    Parameters
    ----------
    clf : FashionCNNClassifier
        Fitted.
    X : array-like of shape (n_samples, 784)
        0-255 pixel rows (or as ``clf`` was fitted).
    y_true : array-like of shape (n_samples,), optional
        With it, the default images are the ``n`` most confidently
        misclassified ones; without it, the ``n`` least confident ones.
    n : int, default=8
    indices : sequence of int, optional
        Rows of ``X`` to show instead.
    steps : int, default=32
        Riemann-sum points of the integrated gradients.
    """
    from .saliency import integrated_gradients

    proba = clf.predict_proba(X)
    conf = proba.max(axis=1)
    pred = clf.classes_[proba.argmax(axis=1)]
    if indices is None:
        if y_true is not None:
            wrong = np.flatnonzero(pred != np.asarray(y_true))
            indices = wrong[np.argsort(-conf[wrong], kind="stable")][:n]
        else:
            indices = np.argsort(conf, kind="stable")[:n]
    indices = np.asarray(indices, dtype=int)
    rows = _safe_indexing(X, indices)
    attr: Any = integrated_gradients(clf, rows, steps=steps) if len(indices) else []
    imgs = np.asarray(rows, dtype=np.float64).reshape(len(indices), -1)
    fig = Figure(figsize=(7.5, 1.9 * max(len(indices), 1) + 0.6))
    for k, i in enumerate(indices):
        img = imgs[k].reshape(clf.image_shape_).mean(axis=0)
        a = np.asarray(attr[k])
        limit = float(np.abs(a).max()) or 1.0
        ax_img = fig.add_subplot(len(indices), 3, 3 * k + 1)
        ax_img.imshow(img, cmap="gray_r")
        true = _names([y_true[i]], class_names)[0] if y_true is not None else "?"
        ax_img.set_title(f"#{i} true: {true}", fontsize=8)
        ax_sal = fig.add_subplot(len(indices), 3, 3 * k + 2)
        ax_sal.imshow(img, cmap="gray_r", alpha=0.35)
        shown = ax_sal.imshow(a, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.8)
        fig.colorbar(shown, ax=ax_sal, fraction=0.046, pad=0.02).ax.tick_params(
            labelsize=6
        )
        ax_sal.set_title(
            f"pred: {_names([pred[i]], class_names)[0]} {conf[i]:.0%}", fontsize=8
        )
        for ax in (ax_img, ax_sal):
            ax.set_xticks([])
            ax.set_yticks([])
        ax_p = fig.add_subplot(len(indices), 3, 3 * k + 3)
        top = np.argsort(-proba[i])[:3][::-1]
        ax_p.barh(range(3), proba[i][top] * 100, color="C0")
        ax_p.set_yticks(range(3), _names(clf.classes_[top], class_names), fontsize=7)
        ax_p.set_xlim(0, 100)
        ax_p.tick_params(axis="x", labelsize=6)
        ax_p.set_title("probability (%)", fontsize=7)
    fig.suptitle(
        "What the CNN looks at: integrated gradients of the predicted class\n"
        "(red raises its score, blue lowers it; baseline: black image)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
