"""Studies that outlive a process (fashionclf.tuning.studies): storages, resuming after a kill, identity, PostgreSQL."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from fashionclf.tuning import open_study, run_study, trials_by_worker

from .helpers import trial_states
from .postgres import postgres_server


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
    states = trial_states(after)
    assert states[TrialState.COMPLETE] >= len(completed_before) + 2
    assert states.get(TrialState.RUNNING, 0) == 0 and states[TrialState.FAIL] == 1
    (failed,) = [t for t in after.trials if t.state == TrialState.FAIL]
    retried = [
        t for t in after.trials if t.system_attrs.get("failed_trial") == failed.number
    ]
    assert len(retried) == 1  # the killed trial was re-queued with the same parameters
    assert retried[0].params == failed.params


@pytest.mark.slow
def test_sqlite_study_resumes_after_kill(tmp_path):
    _assert_resumed(*_kill_mid_trial_then_resume(f"sqlite:///{tmp_path}/r.db"))


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_study_survives_killed_worker():
    with postgres_server() as url:
        _assert_resumed(*_kill_mid_trial_then_resume(url))


@pytest.mark.postgres
@pytest.mark.slow
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
        assert len(study.trials) == 9 and trial_states(study) == {
            TrialState.COMPLETE: 9
        }
        assert sorted(t.number for t in study.trials) == list(range(9))
        workers = trials_by_worker(study)  # each process ran its own three
        assert sorted(workers.values()) == [3, 3, 3], workers
        assert {w.rsplit(":", 1)[1] for w in workers} == {str(p.pid) for p in procs}
        for out, _ in outs:  # each says per worker what the study holds so far
            assert "trials by worker: " in out


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
