"""Optuna and scikit-learn searches: pipeline, pruning, resume, workers, PostgreSQL, Dask."""

import os
import signal
import subprocess
import sys
import time

import joblib
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from optuna_integration import OptunaSearchCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from fashionclf import PixelScaler
from fashionclf.tuning import best_summary, open_study, run_study, search_space

from .conftest import tiny_cnn
from .postgres import postgres_server


def _states(study):
    out = {}
    for t in study.trials:
        out[t.state] = out.get(t.state, 0) + 1
    return out


def test_search_space_prefix_and_unknown():
    space = search_space("cnn", prefix="cnn__")
    assert "cnn__lr" in space and "cnn__width" in space
    assert search_space("cnn-best") == search_space("cnn")  # every preset's
    with pytest.raises(ValueError, match=r"model='svm'; expected 'cnn' or one of"):
        search_space("svm")


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
    states = _states(study)
    assert states.get(TrialState.PRUNED, 0) >= 1, states
    assert states.get(TrialState.COMPLETE, 0) >= 1
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert all(len(t.intermediate_values) < 3 for t in pruned)
    assert "best trial" in best_summary(study)


def test_baseline_study_in_memory(small):
    X, y, _, _ = small
    study = run_study("knn", X, y, n_trials=3)
    assert _states(study) == {TrialState.COMPLETE: 3}


def test_workers_share_a_sqlite_study_exactly(small, tmp_path):
    X, y, _, _ = small
    url = f"sqlite:///{tmp_path}/s.db"
    study = run_study(
        "dummy", X, y, n_trials=7, n_workers=3, storage=url, study_name="w"
    )
    assert len(study.trials) == 7 and _states(study) == {TrialState.COMPLETE: 7}
    assert sorted(t.number for t in study.trials) == list(range(7))


def test_workers_need_persistent_storage(small):
    X, y, _, _ = small
    with pytest.raises(
        ValueError,
        match=r"n_workers > 1 with storage=None; expected a persistent storage",
    ):
        run_study("dummy", X, y, n_trials=2, n_workers=2)


def _tune_cmd(url, n_trials, extra=()):
    return [
        sys.executable,
        "-m",
        "fashionclf",
        "tune",
        "--sample",
        "--model",
        "cnn-tiny",
        "--max-epochs",
        "4",
        "--pruner",
        "none",
        "--n-trials",
        str(n_trials),
        "--storage",
        url,
        "--study-name",
        "r",
        "--train-size",
        "400",
        *extra,
    ]


def _kill_mid_trial_then_resume(url):
    """Kill a tuning process mid-trial, resume; return (trials before, study after)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    hb = ["--heartbeat", "1", "--grace-period", "3"]
    proc = subprocess.Popen(
        _tune_cmd(url, 100, hb),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        done = 0
        while time.time() < deadline and done < 2:
            time.sleep(1)
            try:
                study = optuna.load_study(study_name="r", storage=url)
                done = sum(t.state == TrialState.COMPLETE for t in study.trials)
            except (KeyError, ValueError, optuna.exceptions.StorageInternalError):
                pass
        assert done >= 2, "the tuning process completed fewer than 2 trials in 300 s"
        time.sleep(1.5)  # let it start the next trial, then kill it mid-trial
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # a snapshot: a Study object re-reads the storage on every access
    before = optuna.load_study(study_name="r", storage=url).get_trials(deepcopy=True)
    assert any(t.state == TrialState.RUNNING for t in before)
    time.sleep(4)  # past the grace period: the dead trial's heartbeat is stale
    r = subprocess.run(
        _tune_cmd(url, 2, hb), env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return before, optuna.load_study(study_name="r", storage=url)


def _assert_resumed(before, after):
    completed_before = {
        t.number: t.value for t in before if t.state == TrialState.COMPLETE
    }
    kept = {t.number: t.value for t in after.trials if t.number in completed_before}
    assert kept == completed_before  # every completed trial kept, unchanged
    states = _states(after)
    assert states[TrialState.COMPLETE] >= len(completed_before) + 2
    assert states.get(TrialState.RUNNING, 0) == 0 and states[TrialState.FAIL] == 1
    (failed,) = [t for t in after.trials if t.state == TrialState.FAIL]
    retried = [
        t for t in after.trials if t.system_attrs.get("failed_trial") == failed.number
    ]
    assert len(retried) == 1  # the killed trial was re-queued with the same parameters
    assert retried[0].params == failed.params


def test_sqlite_study_resumes_after_kill(tmp_path):
    _assert_resumed(*_kill_mid_trial_then_resume(f"sqlite:///{tmp_path}/r.db"))


@pytest.mark.postgres
def test_postgres_study_survives_killed_worker():
    with postgres_server() as url:
        _assert_resumed(*_kill_mid_trial_then_resume(url))


@pytest.mark.postgres
def test_three_processes_share_a_postgres_study():
    with postgres_server() as url:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        cmd = [
            sys.executable,
            "-m",
            "fashionclf",
            "tune",
            "--sample",
            "--model",
            "logreg",
            "--n-trials",
            "3",
            "--storage",
            url,
            "--study-name",
            "pg",
            "--train-size",
            "500",
        ]
        procs = [
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=600) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-1500:] for o in outs]
        study = open_study("pg", url, heartbeat_interval=None)
        assert len(study.trials) == 9 and _states(study) == {TrialState.COMPLETE: 9}
        assert sorted(t.number for t in study.trials) == list(range(9))


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


# ------------------------------------------------- study identity and resume
def test_a_study_refuses_to_mix_models(small, tmp_path):
    X, y, _, _ = small
    url = f"sqlite:///{tmp_path}/s.db"
    run_study("dummy", X, y, n_trials=2, storage=url, study_name="s")
    with pytest.raises(
        ValueError,
        match=r"study 's' in sqlite:.* searches something else: model='dummy' \(this call: 'knn'\)",
    ):
        run_study("knn", X, y, n_trials=2, storage=url, study_name="s")
    with pytest.raises(ValueError, match=r"n_samples=600 \(this call: 500\)"):
        run_study("dummy", X[:500], y[:500], n_trials=1, storage=url, study_name="s")
    study = optuna.load_study(study_name="s", storage=url)
    assert len(study.trials) == 2 and study.user_attrs["fashionclf"]["model"] == "dummy"


def test_default_study_names_say_what_they_hold(small, tmp_path):
    X, y, _, _ = small
    url = f"sqlite:///{tmp_path}/s.db"
    a = run_study("dummy", X, y, n_trials=1, storage=url)
    b = run_study("knn", X, y, n_trials=1, storage=url)
    assert (a.study_name, b.study_name) == (
        "fashionclf-dummy-n600",
        "fashionclf-knn-n600",
    )
    assert len(a.trials) == len(b.trials) == 1


def test_a_resumed_study_proposes_new_trials_and_a_fresh_one_repeats(small, tmp_path):
    X, y, _, _ = small
    url = f"sqlite:///{tmp_path}/r.db"
    run_study("knn", X, y, n_trials=3, storage=url, study_name="r")
    study = run_study("knn", X, y, n_trials=3, storage=url, study_name="r")
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(params) == 6 and params[3:] != params[:3]
    again = run_study(
        "knn", X, y, n_trials=3, storage=f"sqlite:///{tmp_path}/o.db", study_name="r"
    )
    assert [tuple(sorted(t.params.items())) for t in again.trials] == params[:3]


def test_cli_tune_refuses_a_mixed_study(tmp_path, capsys):
    from fashionclf.cli import main

    url = f"sqlite:///{tmp_path}/c.db"
    base = [
        "tune",
        "--sample",
        "--n-trials",
        "1",
        "--storage",
        url,
        "--study-name",
        "x",
    ]
    assert main([*base, "--model", "dummy"]) == 0
    assert main([*base, "--model", "knn"]) == 2
    assert "searches something else: model='dummy'" in capsys.readouterr().err


def test_cnn_trials_report_epochs_on_stderr_when_asked(small, capsys):
    X, y, _, _ = small
    kw = {"n_trials": 1, "max_epochs": 2, "pruner": "none"}
    run_study("cnn-tiny", X[:300], y[:300], verbose=True, **kw)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "epoch" in ln]
    assert lines[0].startswith("trial 0: epoch 1/2, 0m")
    assert "left, validation accuracy 0." in lines[0]
    assert lines[1].startswith("trial 0: epoch 2/2")
    run_study("cnn-tiny", X[:300], y[:300], **kw)  # 'auto': stderr is not a terminal
    assert "epoch" not in capsys.readouterr().err


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
    states = _states(search.study_)
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
