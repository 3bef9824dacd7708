"""The ``tune`` subcommand: an Optuna study, resumable."""

from __future__ import annotations

import argparse

from .options import (
    VERBOSE,
    add_data_args,
    add_progress_arg,
    add_random_state_arg,
    load_data,
)


def add_parsers(sub) -> None:
    """Add ``tune``."""
    _add_tune_parser(sub)


def _add_tune_parser(sub) -> None:
    """Add the ``tune`` subcommand."""
    from ..registry import MODEL_NAMES

    p = sub.add_parser(
        "tune", help="Optuna study over the CNN or a baseline (resumable)"
    )
    add_data_args(p)
    add_progress_arg(p)
    p.add_argument(
        "--model",
        default="cnn-fast",
        choices=MODEL_NAMES,
        help="a CNN preset (the search starts from it) or a baseline "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--n-trials",
        type=int,
        default=20,
        help="trials this command runs, over all its workers (default: %(default)s)",
    )
    p.add_argument(
        "--n-workers",
        type=int,
        default=1,
        help="worker processes sharing the study (default: %(default)s)",
    )
    p.add_argument(
        "--pruner", default="median", choices=["median", "hyperband", "none"]
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    p.add_argument("--max-epochs", type=int, default=None, help="epochs per CNN trial")
    p.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="tune on a stratified subset of this many training images",
    )
    add_random_state_arg(p)
    _add_study_args(p)
    p.set_defaults(func=tune)


def _add_study_args(p: argparse.ArgumentParser) -> None:
    """Where a study is kept, and how dead workers are noticed."""
    p.add_argument(
        "--storage",
        default="sqlite:///fashionclf-study.db",
        help="sqlite:///PATH, postgresql://USER@HOST:PORT/DB, journal:PATH, or '' "
        "for in-memory (default: %(default)s); the same study name on the "
        "same storage resumes the study",
    )
    p.add_argument(
        "--study-name",
        default=None,
        help="default: what the study holds, e.g. fashionclf-cnn-fast-n20000; "
        "resuming a study with other settings is refused",
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        default=20,
        help="seconds between RDB heartbeats; a dead worker's trial is failed and "
        "retried (0 disables; default: %(default)s)",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        default=None,
        help="seconds without heartbeat before a trial counts as dead",
    )


def tune(args: argparse.Namespace) -> int:
    """Run (or resume) a study and print its best trial."""
    from sklearn.model_selection import train_test_split

    from ..tuning.search import best_summary, run_study

    X, y = load_data(args, "train")
    if args.train_size and args.train_size < len(y):
        X, _, y, _ = train_test_split(
            X,
            y,
            train_size=args.train_size,
            stratify=y,
            random_state=args.random_state,
        )
    study = run_study(
        args.model,
        X,
        y,
        n_trials=args.n_trials,
        study_name=args.study_name,
        storage=args.storage or None,
        n_workers=args.n_workers,
        timeout=args.timeout,
        pruner=args.pruner,
        max_epochs=args.max_epochs,
        random_state=args.random_state,
        heartbeat_interval=args.heartbeat or None,
        grace_period=args.grace_period,
        verbose=VERBOSE[args.progress],
    )
    print(best_summary(study))
    return 0
