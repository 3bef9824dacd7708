"""Every plot renders headless to a PNG from the bundled sample."""

import pandas as pd
import pytest

from fashionclf.evaluation import plotting

from .helpers import tiny_cnn

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model(small):
    X, y, _, _ = small
    return tiny_cnn(max_epochs=2, validation_fraction=0.2).fit(X, y)


def _check(fig, path):
    out = plotting.save(fig, path)
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5000


def test_samples_grid(sample, tmp_path):
    X, y, _, _ = sample
    fig = plotting.plot_samples(X, y, n_rows=15, n_cols=15)
    assert len(fig.axes) == 225 and fig.axes[0].get_title() in plotting.CLASS_NAMES
    _check(fig, tmp_path / "samples.png")


def test_confusion_matrix(model, small, tmp_path):
    _, _, Xt, yt = small
    fig = plotting.plot_confusion_matrix(yt, model.predict(Xt), title="tiny")
    assert "Dress" in [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert len(fig.axes) == 2  # the matrix and its colour bar, from 0 to 1
    assert fig.axes[1].get_ylabel() == "fraction of the true class's images"
    assert fig.axes[0].images[0].get_clim() == (0, 1)
    assert "each row sums to 1" in fig.axes[0].get_title()
    _check(fig, tmp_path / "cm.png")


def test_misclassified(model, small, tmp_path):
    _, _, Xt, yt = small
    proba = model.predict_proba(Xt)
    fig = plotting.plot_misclassified(Xt, yt, proba, classes=model.classes_, n=16)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 16 and all(t.startswith("true ") for t in titles)
    confid = [float(t.rsplit(" ", 1)[1].rstrip("%")) for t in titles]
    assert confid == sorted(confid, reverse=True)
    _check(fig, tmp_path / "mis.png")


def test_learning_curves(model, tmp_path):
    fig = plotting.plot_learning_curves(model.history_, title="tiny")
    assert len(fig.axes[1].lines) == 1  # valid_acc
    _check(fig, tmp_path / "lc.png")


def test_learning_curves_show_a_test_accuracy_curve(tmp_path):
    history = [
        {"train_loss": 1.0 / e, "test_acc": 0.5 + e / 10, "dur": 1.0}
        for e in range(1, 4)
    ]
    fig = plotting.plot_learning_curves(history, title="bench")
    (line,) = fig.axes[1].lines
    assert line.get_label() == "test accuracy (display only)"
    assert list(line.get_ydata()) == pytest.approx([0.6, 0.7, 0.8])
    assert not fig.axes[1].texts  # no "no validation split" notice
    _check(fig, tmp_path / "lc_test.png")


def test_learning_curves_without_any_accuracy_say_how_to_get_one():
    fig = plotting.plot_learning_curves([{"train_loss": 1.0}], title="x")
    assert "validation_fraction" in fig.axes[1].texts[0].get_text()


def test_accuracy_vs_time(tmp_path):
    summary = pd.DataFrame(
        {"accuracy": [0.85, 0.91], "fit_s": [8.0, 300.0], "accuracy_std": [0.0, 0.002]},
        index=["logreg", "cnn"],
    )
    fig = plotting.plot_accuracy_vs_time(summary)
    assert fig.axes[0].get_xscale() == "log"
    _check(fig, tmp_path / "acc.png")


def test_headless_without_pyplot(tmp_path):
    """Plotting never imports pyplot, so no GUI backend is ever needed."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from fashionclf.evaluation import plotting; "
        f"plotting.save(plotting.plot_samples(np.zeros((4, 784)), n_rows=2, n_cols=2), r'{tmp_path}/a.png'); "
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"MPLBACKEND": "", "PATH": ""},
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_per_class_metrics(model, small, tmp_path):
    _, _, Xt, yt = small
    fig = plotting.plot_per_class_metrics(yt, model.predict(Xt), title="tiny")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(plotting.CLASS_NAMES)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "precision",
        "recall",
    ]
    assert len(ax.patches) == 20
    assert ax.get_xlim()[0] == 0 and "%" in ax.get_xlabel() != "%"
    _check(fig, tmp_path / "per_class.png")


def test_sample_efficiency(tmp_path):
    table = pd.DataFrame(
        {
            "model": ["cnn", "cnn", "forest", "forest"],
            "n_train": [1000, 60000, 1000, 60000],
            "accuracy": [0.80, 0.94, 0.78, 0.88],
            "accuracy_std": [0.01, 0.001, float("nan"), float("nan")],
            "fit_s": [20.0, 1100.0, 1.0, 30.0],
        }
    )
    fig = plotting.plot_sample_efficiency(table)
    ax_acc, ax_time = fig.axes
    assert ax_acc.get_xscale() == "log" and ax_time.get_yscale() == "log"
    assert [t.get_text() for t in ax_acc.get_legend().get_texts()] == ["cnn", "forest"]
    assert [t.get_text() for t in ax_acc.get_xticklabels()] == ["1,000", "60,000"]
    _check(fig, tmp_path / "eff.png")


def test_saliency_shows_the_most_confident_mistakes(model, small, tmp_path):
    _, _, Xt, yt = small
    proba = model.predict_proba(Xt)
    pred = model.classes_[proba.argmax(axis=1)]
    wrong = (pred != yt).nonzero()[0]
    expected = wrong[(-proba.max(axis=1)[wrong]).argsort(kind="stable")][:3]
    fig = plotting.plot_saliency(model, Xt, yt, n=3, steps=8)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("#")]
    assert [int(t.split()[0][1:]) for t in titles] == expected.tolist()
    assert all(
        plotting.CLASS_NAMES[yt[i]] in t for i, t in zip(expected, titles, strict=True)
    )
    _check(fig, tmp_path / "saliency.png")


def test_saliency_without_labels_shows_the_least_confident(model, small):
    _, _, Xt, _ = small
    fig = plotting.plot_saliency(model, Xt[:50], n=2, steps=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("#")]
    assert titles[0].endswith("true: ?") and len(titles) == 2
