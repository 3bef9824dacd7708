"""The benchmark harness (fashionclf.evaluation.harness): runs, model lists, curves, sample efficiency, progress."""

import json
import re

import numpy as np
import pytest

from fashionclf.evaluation import resolve_models, run_benchmark
from fashionclf.evaluation.memory import reset_peak_rss


def test_run_and_save(small, tmp_path, capsys):
    X, y, Xt, yt = small
    res = run_benchmark(
        ["dummy", "logreg", "cnn-tiny"],
        X,
        y,
        Xt,
        yt,
        random_state=[0, 1],
        command="test",
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
        "model_size_mb",
        "recall_Trouser",
    ):
        assert np.isfinite(runs[col]).all(), col
    if (
        reset_peak_rss()
    ):  # a kernel that keeps the old peak gets no figure, not a wrong one
        assert (runs["peak_rss_mb"] > 10).all()
    else:
        assert runs["peak_rss_mb"].isna().all()
    summary = res.summary()
    assert summary.loc["dummy", "accuracy"] == pytest.approx(0.1, abs=0.05)
    assert summary.loc["cnn-tiny", "n"] == 2
    out = res.save(tmp_path / "bench", X_test=Xt, y_test=yt)
    payload = json.loads((out / "results.json").read_text())
    assert payload["environment"]["versions"]["torch"]
    assert len(payload["runs"]) == 4
    md = (out / "results.md").read_text()
    assert re.search(r"\| logreg +\|", md) and "Command: `test`" in md
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
        ["cnn-tiny"], X, y, Xt, yt, cnn_params={"max_epochs": 2}, verbose=False
    )
    est = res.estimators["cnn-tiny"]
    accs = [row["test_acc"] for row in est.history_]
    assert len(accs) == 2 and all(0.0 <= a <= 1.0 for a in accs)
    assert accs[-1] == pytest.approx(res.runs["accuracy"].iloc[0], abs=1e-9)
    assert est.callbacks is None  # the held-out images are not kept
    curve = dict(est.net_.callbacks_)["test_accuracy"]
    assert curve.X is None and curve.spent_s_ > 0


def test_train_sizes_give_a_sample_efficiency_table_and_plot(small, tmp_path):
    X, y, Xt, yt = small
    res = run_benchmark(
        ["dummy", "logreg"], X, y, Xt, yt, train_sizes=[600, 100], verbose=False
    )
    assert sorted(res.runs["n_train"]) == [100, 100, 600, 600]
    sub = res.runs[res.runs["n_train"] == 100]
    eff = res.sample_efficiency()
    assert list(eff.columns[:3]) == ["model", "n_train", "accuracy"]
    assert len(eff) == 4
    assert res.summary()["n"].tolist() == [1, 1]  # the summary is the largest size
    assert set(sub["model"]) == {"dummy", "logreg"}
    out = res.save(tmp_path, X_test=Xt, y_test=yt)
    payload = json.loads((out / "results.json").read_text())
    assert len(payload["sample_efficiency"]) == 4
    assert re.search(
        r"\| logreg +\|", (out / "results.md").read_text().split("size:")[1]
    )
    for png in ("sample_efficiency.png", "per_class_metrics.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_train_sizes_are_checked(small):
    X, y, Xt, yt = small
    with pytest.raises(ValueError, match=r"train_sizes=\[100, 601\] must lie"):
        run_benchmark(["dummy"], X, y, Xt, yt, train_sizes=[100, 601])


def test_progress_shows_cnn_epochs_only_when_asked(small, capsys):
    X, y, Xt, yt = small
    over = {"max_epochs": 2}
    run_benchmark(["cnn-tiny"], X, y, Xt, yt, cnn_params=over, verbose=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[1/1] cnn-tiny seed=0 ... epoch 1/2, 0m")
    assert "~0m" in err[0] and err[1].startswith("[1/1] cnn-tiny seed=0 ... epoch 2/2")
    assert "accuracy" in err[2]
    run_benchmark(["cnn-tiny"], X, y, Xt, yt, cnn_params=over)  # auto, not a tty
    err = capsys.readouterr().err
    assert "epoch" not in err and err.startswith("[1/1] cnn-tiny seed=0 ... accuracy")
    run_benchmark(["dummy"], X, y, Xt, yt, verbose=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="verbose='yes'; expected True, False"):
        run_benchmark(["dummy"], X, y, Xt, yt, verbose="yes")


def test_run_once_models_take_the_first_seed_only(small):
    X, y, Xt, yt = small
    res = run_benchmark(
        ["dummy", "random_forest"],
        X[:200],
        y[:200],
        Xt,
        yt,
        random_state=[0, 1],
        run_once=["random_forest"],
        verbose=False,
    )
    assert res.runs[["model", "seed"]].values.tolist() == [
        ["dummy", 0],
        ["random_forest", 0],
    ]
    one = run_benchmark(["random_forest"], X[:200], y[:200], Xt, yt, random_state=7)
    assert one.runs["seed"].tolist() == [7]
