"""Optuna searches (fashionclf.tuning.search): spaces, objectives, run_study, sklearn and Dask searches."""

import os
import socket

import joblib
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from optuna_integration import OptunaSearchCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from fashionclf import PixelScaler
from fashionclf.tuning import (
    best_summary,
    make_objective,
    run_study,
    search_space,
    trials_by_worker,
)

from .helpers import tiny_cnn, trial_states


def test_search_space_prefix_and_unknown():
    space = search_space("cnn", prefix="cnn__")
    assert "cnn__lr" in space and "cnn__width" in space
    assert search_space("cnn-best") == search_space("cnn")  # every preset's
    with pytest.raises(ValueError, match=r"model='svm'; expected 'cnn' or one of"):
        search_space("svm")


# OptunaSearchCV says on every construction that it is experimental upstream
@pytest.mark.filterwarnings("ignore:OptunaSearchCV is experimental")
def test_optuna_search_cv_pipeline(small):
    X, y, Xt, yt = small
    pipe = make_pipeline(PixelScaler(), tiny_cnn(pixel_range=None))
    space = search_space("cnn", prefix="fashioncnnclassifier__")
    space.pop("fashioncnnclassifier__width")  # keep the test's networks tiny
    search = OptunaSearchCV(pipe, space, n_trials=3, cv=2, random_state=0)
    search.fit(X[:300], y[:300])
    assert len(search.trials_) == 3
    assert set(search.best_params_) == set(space)
    assert 0 <= search.score(Xt, yt) <= 1


@pytest.mark.slow
def test_pruned_study(small):
    X, y, _, _ = small
    study = run_study(
        "cnn-tiny",
        X,
        y,
        n_trials=8,
        max_epochs=3,
        pruner="median",
        random_state=0,
    )
    states = trial_states(study)
    assert states.get(TrialState.PRUNED, 0) >= 1, states
    assert states.get(TrialState.COMPLETE, 0) >= 1
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(len(t.intermediate_values) < 3 for t in pruned)
    assert "best trial" in best_summary(study)


def test_baseline_study_in_memory(small):
    X, y, _, _ = small
    study = run_study("knn", X, y, n_trials=3)
    assert trial_states(study) == {TrialState.COMPLETE: 3}


@pytest.mark.slow
def test_workers_share_a_sqlite_study_exactly(small, tmp_path):
    X, y, _, _ = small
    url = f"sqlite:///{tmp_path}/s.db"
    study = run_study(
        "dummy", X, y, n_trials=7, n_workers=3, storage=url, study_name="w"
    )
    assert len(study.trials) == 7 and trial_states(study) == {TrialState.COMPLETE: 7}
    assert sorted(t.number for t in study.trials) == list(range(7))
    workers = trials_by_worker(study)  # three processes, each named on its trials
    assert len(workers) == 3 and sum(workers.values()) == 7, workers
    assert all(t.user_attrs["host"] == socket.gethostname() for t in study.trials)
    assert {t.user_attrs["pid"] for t in study.trials} != {os.getpid()}
    assert "trials by worker: " in best_summary(study)


def test_workers_need_persistent_storage(small):
    X, y, _, _ = small
    with pytest.raises(
        ValueError,
        match=r"n_workers > 1 with storage=None; expected a persistent storage",
    ):
        run_study("dummy", X, y, n_trials=2, n_workers=2)


@pytest.mark.slow
def test_grid_search_on_dask_local_cluster(small):
    from distributed import Client, LocalCluster, get_task_stream

    X, y, _, _ = small
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        with joblib.parallel_config(backend="dask"), get_task_stream(client) as ts:
            grid = GridSearchCV(
                tiny_cnn(num_threads=1), {"width": [4, 8]}, cv=2, n_jobs=-1
            )
            grid.fit(X[:200], y[:200])
        assert len(ts.data) >= 4  # the 4 CV fits ran as tasks on the cluster
        workers = {t["worker"] for t in ts.data}
        assert workers <= set(client.scheduler_info()["workers"])
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_cnn_trials_report_epochs_on_stderr_unless_told_not_to(small, capsys):
    X, y, _, _ = small
    kw = {"n_trials": 1, "max_epochs": 2, "pruner": "none"}
    # 'auto', the default, where stderr is not a terminal: a line per epoch
    run_study("cnn-tiny", X[:300], y[:300], **kw)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "epoch" in ln]
    assert lines[0].startswith("trial 0: epoch 1/2, 0m")
    assert "left, validation accuracy 0." in lines[0]
    assert lines[1].startswith("trial 0: epoch 2/2")
    run_study("cnn-tiny", X[:300], y[:300], verbose=False, **kw)
    assert "epoch" not in capsys.readouterr().err


class _PruneAtStep(optuna.pruners.BasePruner):
    """Prunes a trial exactly when its last reported step is ``step``."""

    def __init__(self, step):
        self.step = step

    def prune(self, study, trial):
        return trial.last_step == self.step


@pytest.mark.parametrize(("prune_at", "state"), [(1, "COMPLETE"), (0, "PRUNED")])
def test_a_trial_that_trained_all_its_epochs_is_never_pruned(
    small, tmp_path, prune_at, state
):
    """max_epochs=2: a pruner that prunes at the last step (1) leaves the trial
    complete with its value; one that prunes at step 0 still prunes."""
    X, y, _, _ = small
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path}/p.db",
        direction="maximize",
        pruner=_PruneAtStep(prune_at),
    )
    objective = make_objective("cnn-tiny", X[:300], y[:300], max_epochs=2)
    study.optimize(objective, n_trials=1)
    (trial,) = study.trials
    assert trial.state.name == state
    assert len(trial.intermediate_values) == 2 - (state == "PRUNED")
    if state == "COMPLETE":
        assert trial.value == trial.intermediate_values[1]
    assert trial.user_attrs["worker"] == f"{socket.gethostname()}:{os.getpid()}"
