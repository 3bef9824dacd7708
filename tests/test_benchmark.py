"""Benchmark harness on the bundled sample: rows, summary, files, plots."""

import json

import numpy as np
import pytest

from fashionclf.benchmark import resolve_models, run_benchmark


def test_run_and_save(small, tmp_path, capsys):
    X, y, Xt, yt = small
    res = run_benchmark(
        ["dummy", "logreg", "cnn-tiny"], X, y, Xt, yt, seeds=[0, 1], command="test"
    )
    runs = res.runs
    assert runs.groupby("model").size().to_dict() == {
        "cnn-tiny": 2,
        "dummy": 1,
        "logreg": 1,
    }
    for col in (
        "accuracy",
        "macro_f1",
        "fit_s",
        "predict_img_per_s",
        "peak_rss_mb",
        "model_size_mb",
        "recall_Trouser",
    ):
        assert np.isfinite(runs[col]).all(), col
    assert (runs["peak_rss_mb"] > 10).all()
    summary = res.summary()
    assert summary.loc["dummy", "accuracy"] == pytest.approx(0.1, abs=0.05)
    assert summary.loc["cnn-tiny", "n"] == 2
    out = res.save(tmp_path / "bench", X_test=Xt, y_test=yt)
    payload = json.loads((out / "results.json").read_text())
    assert payload["environment"]["versions"]["torch"]
    assert len(payload["runs"]) == 4
    md = (out / "results.md").read_text()
    assert "| logreg |" in md and "Command: `test`" in md
    for png in (
        "accuracy_vs_time.png",
        "confusion_matrix.png",
        "learning_curves_cnn-tiny.png",
    ):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[4/4] cnn-tiny seed=1" in capsys.readouterr().err


def test_resolve_models():
    assert resolve_models(["smoke", "knn", "logreg"]) == [
        "dummy",
        "logreg",
        "cnn-tiny",
        "knn",
    ]
    with pytest.raises(ValueError, match=r"unknown model 'cnn-huge'"):
        resolve_models(["cnn-huge"])


def test_cnn_rows_record_a_test_accuracy_curve_timed_apart(small):
    X, y, Xt, yt = small
    res = run_benchmark(
        ["cnn-tiny"], X, y, Xt, yt, cnn_overrides={"max_epochs": 2}, progress=False
    )
    est = res.estimators["cnn-tiny"]
    accs = [row["test_acc"] for row in est.history_]
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
    assert accs[-1] == pytest.approx(res.runs["accuracy"].iloc[0], abs=1e-9)
    assert est.callbacks is None  # the held-out images are not kept
    curve = dict(est.net_.callbacks_)["test_accuracy"]
    assert curve.X is None and curve.spent_s_ > 0
