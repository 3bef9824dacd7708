"""scikit-learn's own callbacks (sklearn.callback): epochs as tasks, in searches too."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from fashionclf import ImageReshaper, PixelScaler

from .helpers import tiny_cnn

callback = pytest.importorskip(
    "sklearn.callback", reason="scikit-learn < 1.9 has no sklearn.callback"
)


class Recorder:
    """Records every task that ends: (estimator, task, id, fitted estimator's type)."""

    max_propagation_depth = None  # auto-propagated: searches pass it on

    def __init__(self):
        self.ended = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.ended.append(
            (
                context.estimator_name,
                context.task_name,
                context.task_id,
                fitted_estimator,
            )
        )


def _epochs(recorder):
    return [e for e in recorder.ended if e[1] == "epoch"]


def test_each_epoch_is_a_task_with_a_model_that_predicts(small):
    X, y, Xt, _ = small
    recorder = Recorder()
    clf = tiny_cnn(max_epochs=3).set_callbacks(recorder)
    clf.fit(X[:200], y[:200])
    assert [e[:3] for e in recorder.ended] == [
        ("FashionCNNClassifier", "epoch", 0),
        ("FashionCNNClassifier", "epoch", 1),
        ("FashionCNNClassifier", "epoch", 2),
        ("FashionCNNClassifier", "fit", 0),
    ]
    # the model of the last epoch is the fitted model (batch-norm statistics
    # aside, which the fit settles afterwards: 'cnn' has them, so compare labels)
    last = recorder.ended[2][3]
    assert last is not clf and last.predict(Xt[:50]).shape == (50,)
    assert recorder.ended[3][3] is clf or recorder.ended[3][3].classes_ is clf.classes_


def test_partial_fit_is_one_epoch_task(small):
    X, y, _, _ = small
    recorder = Recorder()
    clf = tiny_cnn(max_epochs=3).set_callbacks(recorder)
    clf.partial_fit(X[:200], y[:200], classes=np.unique(y))
    clf.partial_fit(X[:200], y[:200])
    assert [e[1] for e in recorder.ended] == ["epoch", "fit", "epoch", "fit"]


def test_scoring_monitor_scores_every_epoch(small):
    X, y, _, _ = small
    monitor = callback.ScoringMonitor(scoring="accuracy")
    tiny_cnn(max_epochs=2).set_callbacks(monitor).fit(X[:200], y[:200])
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == 2
    assert all(0 <= r["accuracy"] <= 1 for r in epochs)


def test_a_pipeline_passes_callbacks_to_every_step_without_a_warning(small):
    X, y, _, _ = small
    recorder = Recorder()
    pipe = make_pipeline(PixelScaler(), ImageReshaper(), tiny_cnn(pixel_range=None))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "does not support callbacks"
        pipe.set_callbacks(recorder).fit(X[:200], y[:200])
    assert [e[:2] for e in recorder.ended] == [
        ("PixelScaler", "fit"),
        ("ImageReshaper", "fit"),
        ("FashionCNNClassifier", "epoch"),
        ("FashionCNNClassifier", "fit"),
        ("Pipeline", "fit"),
    ]


def test_a_search_reports_the_epochs_of_every_fit(small):
    X, y, _, _ = small
    recorder = Recorder()
    search = GridSearchCV(tiny_cnn(max_epochs=2), {"lr": [1e-3, 3e-3]}, cv=2)
    search.set_callbacks(recorder).fit(X[:200], y[:200])
    fits = [e for e in recorder.ended if e[:2] == ("FashionCNNClassifier", "fit")]
    assert len(fits) == 2 * 2 + 1  # candidates x folds, and the refit
    assert len(_epochs(recorder)) == 2 * len(fits)  # max_epochs=2 each


def test_the_progress_bar_in_a_search_replaces_the_library_bar(small, capsys):
    pytest.importorskip("rich", reason="ProgressBar needs rich (the test extra)")
    X, y, _, _ = small
    search = GridSearchCV(tiny_cnn(max_epochs=2, verbose=2), {"lr": [3e-3]}, cv=2)
    search.set_callbacks(callback.ProgressBar(max_propagation_depth=None))
    search.fit(X[:200], y[:200])
    names = dict(search.best_estimator_.net_.callbacks_)
    assert "progress_bar" not in names  # skorch's own bar: not twice
    assert "sklearn_tasks" in names
    search.best_estimator_.set_callbacks()  # none: verbose=2 shows skorch's bar
    search.best_estimator_.fit(X[:100], y[:100])
    assert "progress_bar" in dict(search.best_estimator_.net_.callbacks_)


def test_a_fitted_model_pickles_without_its_fit_context(small):
    import pickle

    X, y, Xt, _ = small
    clf = tiny_cnn().set_callbacks(Recorder()).fit(X[:200], y[:200])
    assert not hasattr(clf, "_callback_fit_ctx")
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        back.predict_proba(Xt[:20]), clf.predict_proba(Xt[:20])
    )
