"""Tune the CNN with Optuna: a pruned, resumable study, then OptunaSearchCV
========================================================================

Run it::

    python examples/optuna_study.py
    FASHIONCLF_SMOKE=1 python examples/optuna_study.py

Watch a persistent study while it runs::

    pip install optuna-dashboard && optuna-dashboard sqlite:///optuna_example.db
"""

import os

from optuna_integration import OptunaSearchCV
from sklearn.pipeline import make_pipeline

from fashionclf import FashionCNNClassifier, PixelScaler, load_sample
from fashionclf.tuning import best_summary, run_study, search_space

SMOKE = os.environ.get("FASHIONCLF_SMOKE") == "1"
X, y = load_sample(return_X_y=True)
Xt, yt = load_sample(subset="test", return_X_y=True)

# 1. A plain Optuna study: one epoch per partial_fit, validation accuracy reported
#    after each, the median pruner stops bad trials. Stored in SQLite: run the
#    script again and the study resumes with its earlier trials.
study = run_study(
    "cnn-tiny" if SMOKE else "cnn-fast",  # the CNN preset the search starts from
    X,
    y,
    n_trials=3 if SMOKE else 20,
    max_epochs=2 if SMOKE else 8,
    storage="sqlite:///optuna_example.db",
    study_name="example",
)
print(best_summary(study))

# 2. OptunaSearchCV over the CNN inside a Pipeline (cross-validated).
pipe = make_pipeline(
    PixelScaler(),
    FashionCNNClassifier(
        pixel_range=None, max_epochs=1 if SMOKE else 5, random_state=0
    ),
)
space = search_space("cnn", prefix="fashioncnnclassifier__")
search = OptunaSearchCV(pipe, space, n_trials=2 if SMOKE else 10, cv=2, random_state=0)
search.fit(X[:500] if SMOKE else X, y[:500] if SMOKE else y)
print("OptunaSearchCV best:", search.best_params_)
print(f"test accuracy of the refitted best pipeline: {search.score(Xt, yt):.4f}")
