"""Tuning costs on the full shared training data: pruning and threads per worker.

1. Pruning: the same CNN study (budget: n trials, same sampler seed) with the
   median pruner and without; wall time to the best trial and in total.
2. Threads: 2 worker processes with 1 torch thread each (cores // workers)
   vs 2 threads each (oversubscribed), same trials.

    FASHIONCLF_DATA=../shared/data/fashion-mnist .venv/bin/python benchmarks/bench_tuning.py
"""

import argparse
import tempfile
import time

from optuna.trial import TrialState
from sklearn.model_selection import train_test_split

from fashionclf import fetch_fashion_mnist
from fashionclf.tuning import run_study


def _time_to_best(study) -> tuple[float, float, int, int]:
    trials = [t for t in study.trials if t.datetime_complete is not None]
    start = min(t.datetime_start for t in trials)
    best = study.best_trial
    to_best = (best.datetime_complete - start).total_seconds()
    total = (max(t.datetime_complete for t in trials) - start).total_seconds()
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    return to_best, total, pruned, len(trials)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-size", type=int, default=6000)
    ap.add_argument("--n-trials", type=int, default=12)
    ap.add_argument("--max-epochs", type=int, default=6)
    args = ap.parse_args()
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    X, _, y, _ = train_test_split(
        X, y, train_size=args.train_size, stratify=y, random_state=0
    )
    common = dict(
        n_trials=args.n_trials,
        max_epochs=args.max_epochs,
        random_state=0,
    )
    for pruner in ("median", "none"):
        study = run_study(
            "cnn-fast", X, y, pruner=pruner, study_name=f"p-{pruner}", **common
        )
        to_best, total, pruned, n = _time_to_best(study)
        print(
            f"pruner={pruner}: best {study.best_value:.4f} reached at {to_best:.0f} s, "
            f"all {n} trials {total:.0f} s, {pruned} pruned",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as d:
        for threads in (1, 2):
            t0 = time.perf_counter()
            run_study(
                "cnn-fast",
                X,
                y,
                pruner="none",
                n_workers=2,
                threads_per_worker=threads,
                storage=f"sqlite:///{d}/t{threads}.db",
                study_name="t",
                **{**common, "n_trials": 4},
            )
            print(
                f"2 workers x {threads} torch thread(s) on {__import__('os').cpu_count()} "
                f"cores: 4 trials in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
