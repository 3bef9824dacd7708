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


def test_your_own_estimators_run_beside_registry_names(small):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    from fashionclf import PixelScaler

    X, y, Xt, yt = small
    tree = DecisionTreeClassifier(max_depth=5)
    mine = make_pipeline(PixelScaler(), LogisticRegression(C=0.1, max_iter=50))
    res = run_benchmark(
        {"tree": tree, "logreg-C0.1": mine, "logreg": "logreg"},
        X,
        y,
        Xt,
        yt,
        random_state=[0, 1],
        model_params={"logreg": {"logisticregression__C": 0.5}},
        verbose=False,
    )
    runs = res.runs.groupby("model").size().to_dict()
    # a random_state makes your model stochastic (one run per seed; the
    # registry knows its lbfgs logreg is not)
    assert runs == {"tree": 2, "logreg-C0.1": 2, "logreg": 1}
    seeds = res.runs[res.runs.model == "tree"].seed.tolist()
    assert seeds == [0, 1] and res.estimators["tree"].random_state == 1
    assert tree.random_state is None and not hasattr(tree, "tree_")  # a clone ran
    assert res.estimators["logreg"].steps[-1][1].C == 0.5
    assert res.estimators["logreg-C0.1"].steps[-1][1].C == 0.1
    summary = res.summary()
    assert set(summary.index) == {"tree", "logreg-C0.1", "logreg"}
    assert summary["p_mcnemar"].notna().sum() == 2  # paired tests against the best


def test_an_estimator_in_a_list_is_labelled_by_its_class_or_steps(small):
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline

    from fashionclf import PixelScaler

    X, y, Xt, yt = small
    res = run_benchmark(
        [DummyClassifier(), make_pipeline(PixelScaler(), DummyClassifier()), "knn"],
        X[:200],
        y[:200],
        Xt,
        yt,
        verbose=False,
    )
    assert list(res.runs.model) == [
        "DummyClassifier",
        "pixelscaler+dummyclassifier",
        "knn",
    ]
    with pytest.raises(ValueError, match=r"two models labelled 'DummyClassifier'"):
        run_benchmark([DummyClassifier(), DummyClassifier()], X, y, Xt, yt)
    with pytest.raises(TypeError, match=r"the model 3; expected a model name"):
        run_benchmark([3], X, y, Xt, yt)
    with pytest.raises(ValueError, match=r"model_params for 'knn'"):
        run_benchmark(["logreg"], X, y, Xt, yt, model_params={"knn": {}})


def test_cnn_params_reach_your_own_cnn_and_its_pipeline(small):
    from sklearn.pipeline import make_pipeline

    from fashionclf import ImageReshaper, PixelScaler

    from .helpers import tiny_cnn

    X, y, Xt, yt = small
    pipe = make_pipeline(PixelScaler(), ImageReshaper(), tiny_cnn(pixel_range=None))
    res = run_benchmark(
        {"cnn": tiny_cnn(max_epochs=3), "pipe": pipe},
        X[:200],
        y[:200],
        Xt,
        yt,
        cnn_params={"max_epochs": 1},
        verbose=False,
    )
    assert len(res.estimators["cnn"].history_) == 1
    assert len(res.estimators["pipe"][-1].history_) == 1
    assert res.runs.precision.tolist() == ["float32", "float32"]
    # your own CNN gets the learning curve too; one inside a pipeline cannot
    assert "test_acc" in res.estimators["cnn"].history_[-1]


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


def test_progress_shows_cnn_epochs_unless_told_not_to(small, capsys):
    X, y, Xt, yt = small
    over = {"max_epochs": 2}
    run_benchmark(["cnn-tiny"], X, y, Xt, yt, cnn_params=over, verbose=True)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[1/1] cnn-tiny seed=0 ... epoch 1/2, 0m")
    assert "~0m" in err[0] and err[1].startswith("[1/1] cnn-tiny seed=0 ... epoch 2/2")
    assert "accuracy" in err[2]
    # auto, not a tty (a log, a pipe): a plain line per epoch, never silent
    run_benchmark(["cnn-tiny"], X, y, Xt, yt, cnn_params=over)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[1/1] cnn-tiny seed=0 ... epoch 1/2, 0m")
    assert "\r" not in "".join(err) and len(err) == 3
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
