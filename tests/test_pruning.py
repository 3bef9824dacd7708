"""Per-epoch pruning in OptunaSearchCV (fashionclf.tuning.pruning)."""

import optuna
import pytest
from optuna.trial import TrialState
from sklearn.pipeline import make_pipeline

from fashionclf import PixelScaler

from .helpers import tiny_cnn, trial_states


def _counting_partial_fit(monkeypatch):
    from fashionclf import FashionCNNClassifier

    calls = []
    original = FashionCNNClassifier.partial_fit

    def counted(self, X, y, classes=None):
        calls.append(id(self))
        return original(self, X, y, classes=classes)

    monkeypatch.setattr(FashionCNNClassifier, "partial_fit", counted)
    return calls


def test_pruned_search_works_on_the_readme_pipeline(small, monkeypatch):
    from fashionclf.tuning import PartialFitPipeline, make_pruned_search

    X, y, _, _ = small
    calls = _counting_partial_fit(monkeypatch)
    pipe = make_pipeline(PixelScaler(), tiny_cnn(pixel_range=None, max_epochs=3))
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.ThresholdPruner(lower=0.5),  # prunes any weak epoch
        sampler=optuna.samplers.TPESampler(seed=0),
    )
    search = make_pruned_search(
        pipe,
        {
            "fashioncnnclassifier__lr": optuna.distributions.FloatDistribution(
                1e-5, 1e-4
            )
        },
        n_trials=2,
        cv=2,
        study=study,
    )
    assert isinstance(search.estimator, PartialFitPipeline)
    assert search.max_iter == 3 and search.enable_pruning
    search.fit(X[:300], y[:300])
    states = trial_states(search.study_)
    assert states.get(TrialState.PRUNED, 0) >= 1, states  # lr 1e-5: weak after 1 epoch
    per_model = {i: calls.count(i) for i in set(calls)}
    assert max(per_model.values()) <= 3  # never more epochs than max_epochs
    assert all(len(t.intermediate_values) <= 3 for t in search.study_.trials)


def test_pruned_search_budget_follows_max_epochs(small, monkeypatch):
    from fashionclf.tuning import make_pruned_search

    X, y, _, _ = small
    calls = _counting_partial_fit(monkeypatch)
    search = make_pruned_search(
        tiny_cnn(max_epochs=2),
        {"lr": optuna.distributions.FloatDistribution(1e-3, 3e-3)},
        n_trials=1,
        cv=2,
    )
    search.fit(X[:200], y[:200])
    trial = search.study_.trials[0]
    assert trial.state == TrialState.COMPLETE and len(trial.intermediate_values) == 2
    assert sorted({calls.count(i) for i in set(calls)}) == [2]  # 2 folds x 2 epochs


def test_pruned_search_refuses_what_it_cannot_do():
    from sklearn.linear_model import LogisticRegression

    from fashionclf.tuning import make_pruned_search

    lr = {"lr": optuna.distributions.FloatDistribution(1e-3, 3e-3)}
    with pytest.raises(TypeError, match="got LogisticRegression"):
        make_pruned_search(LogisticRegression(), lr)
    with pytest.raises(ValueError, match="search over max_epochs; expected a fixed"):
        make_pruned_search(
            tiny_cnn(), {"max_epochs": optuna.distributions.IntDistribution(1, 3)}
        )
    with pytest.raises(TypeError, match="sets max_iter itself"):
        make_pruned_search(tiny_cnn(), lr, max_iter=10)
