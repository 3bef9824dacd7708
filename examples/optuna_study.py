"""Tune the CNN with Optuna: a pruned, resumable study, then OptunaSearchCV
========================================================================

On the 2,000 bundled training images, with few trials and epochs, so that it
runs in about a minute: the searches are real, their budgets small. On the
full data, ``fashionclf tune --model cnn-fast --n-trials 50`` runs the same
study from the command line, on as many machines as share its storage.

Run it::

    python examples/optuna_study.py

Watch a persistent study while it runs::

    pip install optuna-dashboard && optuna-dashboard sqlite:///optuna_example.db
"""

import warnings

import optuna
from matplotlib.figure import Figure
from optuna.trial import TrialState
from optuna_integration import OptunaSearchCV
from sklearn.pipeline import make_pipeline

from fashionclf import FashionCNNClassifier, PixelScaler, load_sample
from fashionclf.evaluation.plotting import save
from fashionclf.tuning import best_summary, run_study, search_space

# Quieter output: one line per study instead of one per trial, and two warnings
# that are not about this code: optuna-integration marks OptunaSearchCV
# experimental, and it calls optuna.terminator, deprecated since Optuna 4.9.
optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", "`optuna.terminator` module", FutureWarning)

X, y = load_sample(return_X_y=True)
X_test, y_test = load_sample(subset="test", return_X_y=True)

# %%
# 1. A plain Optuna study: one epoch per ``partial_fit``, validation accuracy
# reported after each, the median pruner stops bad trials. Stored in SQLite:
# run the script again and the study resumes with its earlier trials.
study = run_study(
    "cnn-fast",  # the CNN preset the search starts from
    X,
    y,
    n_trials=6,
    max_epochs=3,
    storage="sqlite:///optuna_example.db",
    study_name="example",
)
print(best_summary(study))

# %%
# Each trial's validation accuracy, pruned trials at the epoch they stopped:
fig = Figure(figsize=(6, 3.2))
ax = fig.add_subplot()
for state, marker in ((TrialState.COMPLETE, "o"), (TrialState.PRUNED, "x")):
    trials = [t for t in study.trials if t.state == state]
    values = [
        t.value if t.value is not None else max(t.intermediate_values.values())
        for t in trials
    ]
    ax.scatter(
        [t.number for t in trials], values, marker=marker, label=state.name.lower()
    )
ax.set_xlabel("trial")
ax.set_ylabel("validation accuracy")
ax.legend()
fig.tight_layout()
save(fig, "optuna_trials.png")

# %%
# 2. OptunaSearchCV over the CNN inside a Pipeline (cross-validated).
pipe = make_pipeline(
    PixelScaler(), FashionCNNClassifier(pixel_range=None, max_epochs=3, random_state=0)
)
space = search_space("cnn", prefix="fashioncnnclassifier__")
search = OptunaSearchCV(pipe, space, n_trials=3, cv=2, random_state=0)
search.fit(X, y)
print("OptunaSearchCV best:", search.best_params_)
print(
    f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.4f}"
)
