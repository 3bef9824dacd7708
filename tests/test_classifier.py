"""FashionCNNClassifier: sklearn conformance, inputs, training features, errors."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from fashionclf import CLASS_NAMES, FashionCNNClassifier, ImageReshaper, PixelScaler

from .conftest import checks_cnn, tiny_cnn


# All checks pass for both trainable architectures: no expected failures. The
# checks feed small tabular data, so the instance reads each feature as a 1x1
# channel and takes values as scaled.
@parametrize_with_checks([checks_cnn(), checks_cnn(architecture="compact")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_learns_on_real_images(small):
    X, y, Xt, yt = small
    clf = tiny_cnn(max_epochs=3, width=16, dense_units=32).fit(X, y)
    assert clf.score(Xt, yt) > 0.55  # chance is 0.10
    assert clf.classes_.tolist() == list(range(10))
    assert clf.n_features_in_ == 784 and clf.image_shape_ == (1, 28, 28)
    assert clf.device_ == "cpu"


def test_default_compact_network_learns_on_real_images(small):
    X, y, Xt, yt = small
    clf = FashionCNNClassifier(
        max_epochs=6, width=16, batch_size=64, random_state=0
    ).fit(X, y)
    assert clf.architecture == "compact"
    assert type(clf.net_.module_.net).__name__ == "CompactCNN"
    assert clf.score(Xt, yt) > 0.55  # chance is 0.10


@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 28, 28)])
def test_input_layouts_agree(small, shape):
    X, y, Xt, _ = small
    clf = tiny_cnn().fit(X[:200], y[:200])
    ref = clf.predict_proba(Xt[:20])
    got = clf.predict_proba(Xt[:20].reshape(-1, *shape))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_float_input_with_explicit_range(small):
    X, y, Xt, _ = small
    a = tiny_cnn().fit(X[:200], y[:200])
    b = tiny_cnn(pixel_range=(0, 1)).fit(X[:200] / 255.0, y[:200])
    np.testing.assert_allclose(
        a.predict_proba(Xt[:10]), b.predict_proba(Xt[:10] / 255.0), rtol=1e-4, atol=1e-5
    )


def test_string_labels_round_trip(small):
    X, y, Xt, _ = small
    names = np.asarray(CLASS_NAMES)[y[:200]]
    clf = tiny_cnn().fit(X[:200], names)
    assert set(clf.predict(Xt[:30])) <= set(CLASS_NAMES)
    assert clf.classes_.tolist() == sorted(CLASS_NAMES)


def test_dataframe_input_feature_names(small):
    X, y, Xt, _ = small
    cols = [f"pixel{i}" for i in range(1, 785)]
    clf = tiny_cnn().fit(pd.DataFrame(X[:200], columns=cols), pd.Series(y[:200]))
    assert clf.feature_names_in_[0] == "pixel1"
    assert clf.predict(pd.DataFrame(Xt[:5], columns=cols)).shape == (5,)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(pd.DataFrame(Xt[:5], columns=cols[::-1]))


def test_history_with_validation(small):
    X, y, _, _ = small
    clf = tiny_cnn(max_epochs=2, validation_fraction=0.2).fit(X, y)
    assert len(clf.history_) == 2
    assert {"train_loss", "valid_loss", "valid_acc", "dur"} <= set(clf.history_[-1])


def test_early_stopping_restores_best(small):
    X, y, _, _ = small
    clf = tiny_cnn(
        max_epochs=30,
        validation_fraction=0.2,
        early_stopping=True,
        n_iter_no_change=1,
        lr=0.5,
        optimizer="sgd",
    ).fit(X, y)
    assert len(clf.history_) < 30
    losses = clf.history_[:, "valid_loss"]
    assert min(losses) < losses[-1] or len(losses) == 1 or np.isfinite(losses).all()


def test_determinism_and_global_rng_untouched(small):
    X, y, Xt, _ = small
    torch.manual_seed(123)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what we guard
    before_t, before_n = torch.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    p1 = tiny_cnn(random_state=7).fit(X[:200], y[:200]).predict_proba(Xt[:20])
    assert torch.equal(torch.get_rng_state(), before_t)
    np.testing.assert_array_equal(np.random.get_state()[1], before_n)  # noqa: NPY002
    p2 = tiny_cnn(random_state=7).fit(X[:200], y[:200]).predict_proba(Xt[:20])
    p3 = tiny_cnn(random_state=8).fit(X[:200], y[:200]).predict_proba(Xt[:20])
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_partial_fit_adds_exactly_one_epoch(small):
    X, y, _, _ = small
    clf = tiny_cnn(max_epochs=3)
    for k in (1, 2, 3):
        clf.partial_fit(X[:200], y[:200])
        assert len(clf.history_) == k
    clf.fit(X[:200], y[:200])
    assert len(clf.history_) == 3  # fit starts over


def test_partial_fit_unknown_label(small):
    X, y, _, _ = small
    clf = tiny_cnn().partial_fit(X[:100], y[:100] % 3)
    with pytest.raises(
        ValueError, match=r"received label 5; expected one of the classes \[0, 1, 2\]"
    ):
        clf.partial_fit(X[:100], np.full(100, 5))


def test_clone_and_set_params():
    clf = tiny_cnn(width=4)
    c2 = clone(clf).set_params(width=6, lr=0.1)
    assert c2.width == 6 and clf.width == 4 and c2.get_params()["lr"] == 0.1


def test_pickle_and_joblib_round_trip(small, tmp_path):
    X, y, Xt, _ = small
    clf = tiny_cnn().fit(X[:200], y[:200])
    ref = clf.predict_proba(Xt[:20])
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(clf)).predict_proba(Xt[:20]), ref
    )
    joblib.dump(clf, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").predict_proba(Xt[:20]), ref
    )


def test_pipeline_with_transformers(small):
    X, y, Xt, yt = small
    pipe = make_pipeline(
        PixelScaler(), ImageReshaper(), tiny_cnn(pixel_range=None, max_epochs=2)
    )
    pipe.fit(X, y)
    assert pipe.score(Xt, yt) > 0.3


def test_grid_search_pipeline(small):
    X, y, _, _ = small
    pipe = make_pipeline(PixelScaler(), tiny_cnn(pixel_range=None))
    grid = GridSearchCV(
        pipe,
        {
            "fashioncnnclassifier__width": [4, 8],
            "fashioncnnclassifier__architecture": ["cnn"],
        },
        cv=2,
    )
    grid.fit(X[:300], y[:300])
    assert grid.best_params_["fashioncnnclassifier__width"] in (4, 8)
    assert len(grid.cv_results_["mean_test_score"]) == 2


def test_grid_search_two_jobs(small):
    X, y, _, _ = small
    grid = GridSearchCV(tiny_cnn(), {"width": [4, 8]}, cv=2, n_jobs=2).fit(
        X[:200], y[:200]
    )
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_cross_val_score(small):
    X, y, _, _ = small
    scores = cross_val_score(tiny_cnn(), X[:300], y[:300], cv=3)
    assert scores.shape == (3,) and (scores > 0.1).all()


def test_calibrated(small):
    X, y, Xt, _ = small
    cal = CalibratedClassifierCV(tiny_cnn(), cv=2).fit(X[:300], y[:300])
    np.testing.assert_allclose(cal.predict_proba(Xt[:5]).sum(axis=1), 1.0)


def test_seed_architecture_tta_and_schedules(small):
    X, y, Xt, _ = small
    for kw in (
        {"architecture": "seed"},
        {"tta": True},
        {"lr_schedule": "cosine"},
        {"lr_schedule": "constant", "optimizer": "adam"},
        {"label_smoothing": 0.1},
        {"precision": "bfloat16"},
        {"num_threads": 1},
    ):
        clf = tiny_cnn(**kw).fit(X[:130], y[:130])
        proba = clf.predict_proba(Xt[:4])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_verbose_prints_epoch_table(small, capsys):
    X, y, _, _ = small
    tiny_cnn(verbose=1).fit(X[:100], y[:100])
    assert "train_loss" in capsys.readouterr().out
    tiny_cnn(verbose=0).fit(X[:100], y[:100])
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "X, match",
    [
        (
            np.zeros((4, 783)),
            r"received 783 features \(pixels\) per sample; expected 784 pixels",
        ),
        (
            np.zeros((4, 28, 28, 3)),
            r"received images of shape \(28, 28, 3\).*Colour images",
        ),
        (np.full((4, 784), np.nan), r"Input X contains NaN"),
        (np.full((4, 784), np.inf), r"Input X contains infinity"),
        (
            np.full((4, 784), -1.0),
            r"received pixel values in \[-1, -1\]; expected values in \[0, 255\]",
        ),
        (
            np.full((4, 784), 256.0),
            r"received pixel values in \[256, 256\]; expected values in \[0, 255\]",
        ),
        (np.zeros((0, 784)), r"0 sample\(s\)"),
        (np.array([["a"] * 784] * 4), r"could not convert|dtype"),
    ],
    ids=["pixels", "colour", "nan", "inf", "negative", "over255", "empty", "strings"],
)
def test_bad_X(X, match):
    with pytest.raises(ValueError, match=match):
        tiny_cnn().fit(X, np.arange(len(X)) % 2)


def test_single_class():
    with pytest.raises(
        ValueError,
        match=r"received y with a single class 3; expected at least 2 classes",
    ):
        tiny_cnn().fit(np.zeros((4, 784)), [3, 3, 3, 3])


def test_one_sample():
    with pytest.raises(
        ValueError, match=r"received 1 sample; expected at least 2 samples"
    ):
        tiny_cnn().fit(np.zeros((1, 784)), [1])


def test_mismatched_lengths():
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples"):
        tiny_cnn().fit(np.zeros((4, 784)), [0, 1, 0])


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        FashionCNNClassifier().predict(np.zeros((1, 784)))


def test_wrong_pixel_count_at_predict(small):
    X, y, _, _ = small
    clf = tiny_cnn().fit(X[:100], y[:100])
    with pytest.raises(
        ValueError,
        match=r"X has 700 features, but FashionCNNClassifier is expecting 784",
    ):
        clf.predict(np.zeros((2, 700)))


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"device": "tpu"},
            r"device='tpu'; expected 'auto', 'cpu', 'cuda' or 'cuda:N'",
        ),
        (
            {"device": "cuda:3"}
            if not torch.cuda.is_available()
            else {"device": "cuda:99"},
            r"device='cuda:(3|99)'",
        ),
        ({"early_stopping": True}, r"validation_fraction > 0"),
        (
            {"pixel_range": (5, 1)},
            r"pixel_range=\(5, 1\); expected None or \(low, high\)",
        ),
        (
            {"architecture": "resnet"},
            r"'architecture' parameter of FashionCNNClassifier must be a str among",
        ),
        (
            {"lr": -1.0},
            r"'lr' parameter of FashionCNNClassifier must be a float in the range \(0.0, inf\). Got -1.0",
        ),
    ],
)
def test_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        tiny_cnn(**params).fit(np.zeros((4, 784)), [0, 1, 0, 1])


def _fit_and_count_threads(X, y):
    import torch

    tiny_cnn().fit(X, y)
    return torch.get_num_threads()


def test_two_parallel_fits_do_not_oversubscribe(small):
    """GridSearchCV(n_jobs=2) dispatches fits to joblib's loky workers, which
    limit each to cores // 2 threads: workers x threads never exceeds cores."""
    import os

    from joblib import Parallel, delayed

    X, y, _, _ = small
    threads = Parallel(n_jobs=2)(
        delayed(_fit_and_count_threads)(X[:100], y[:100]) for _ in range(2)
    )
    assert all(2 * t <= max(os.cpu_count() or 1, 2) for t in threads), threads


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        net.history.record("counted", self.epochs_)


def test_extra_callbacks_run_beside_the_built_in_ones(small, tmp_path):
    X, y, _, _ = small
    counter = _CountEpochs()
    clf = tiny_cnn(max_epochs=2, callbacks=[("count", counter)]).fit(X, y)
    assert [row["counted"] for row in clf.history_] == [1, 2]
    bare = tiny_cnn(max_epochs=1, callbacks=[_CountEpochs()]).fit(X, y)
    assert "_CountEpochs" in dict(bare.net_.callbacks_)
    clf.save(tmp_path / "m.pt")  # callbacks are objects, not stored
    assert FashionCNNClassifier.load(tmp_path / "m.pt").callbacks is None
    assert clone(clf).callbacks[0][0] == "count"


def test_callback_names_of_built_ins_are_refused(small):
    X, y, _, _ = small
    with pytest.raises(
        ValueError, match=r"a callback named 'lr_schedule'.*another name"
    ):
        tiny_cnn(callbacks=[("lr_schedule", _CountEpochs())]).fit(X, y)
    with pytest.raises(ValueError, match=r"a callback named 'a'"):
        tiny_cnn(callbacks=[("a", _CountEpochs()), ("a", _CountEpochs())]).fit(X, y)
    with pytest.raises(TypeError, match=r"a skorch Callback or a \(name, Callback\)"):
        tiny_cnn(callbacks=["not a callback"]).fit(X, y)


def test_nullable_int_labels_keep_their_type(small):
    """Issue 12, bug 8: pandas Int64 labels used to come back as floats."""
    import pandas as pd

    X, y, Xt, _ = small
    clf = tiny_cnn().fit(X[:200], pd.Series(y[:200]).astype("Int64"))
    assert clf.classes_.dtype.kind == "i"
    assert clf.predict(Xt[:3]).dtype.kind == "i"


def test_one_28x28_image_gets_a_hint(small):
    X, y, Xt, _ = small
    clf = tiny_cnn().fit(X[:200], y[:200])
    with pytest.raises(
        ValueError, match=r"reads as 28 images of 28 pixels.*reshape\(1, 28, 28\)"
    ):
        clf.predict(Xt[0].reshape(28, 28))
    assert clf.predict(Xt[0].reshape(1, 28, 28)).shape == (1,)


def test_verbose_2_without_ipywidgets_uses_the_text_bar(small, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real(name, *a),
    )
    X, y, _, _ = small
    clf = tiny_cnn(verbose=2).fit(X[:128], y[:128])
    bar = dict(clf.net_.callbacks_)["progress_bar"]
    assert bar.detect_notebook is False


def test_a_validation_split_too_small_to_stratify_still_fits(small):
    """20 images of 10 classes with validation_fraction=0.1: 2 validation images."""
    X, y, _, _ = small
    idx = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(10)])
    clf = tiny_cnn(validation_fraction=0.1).fit(X[idx], y[idx])
    assert "valid_acc" in clf.history_[-1]
