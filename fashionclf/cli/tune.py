"""The ``tune`` subcommand: an Optuna study, resumable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._utils.atomic import atomic_write
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
    p.add_argument(
        "--best-out",
        default=None,
        metavar="FILE",
        help="write the best trial's model and parameters as JSON (read by "
        "'fashionclf train --params FILE')",
    )
    p.add_argument(
        "--refit-out",
        default=None,
        metavar="MODEL",
        help="refit the best parameters on all the training data (not the "
        "--train-size subset) and save the model here (CNN models)",
    )
    _add_study_args(p)
    p.set_defaults(func=tune)


def _where_the_study_lives(storage: str) -> str:
    """Say where the study is kept, a new file in the working folder included."""
    from .._utils.messages import redact_urls

    if not storage:
        where = "in memory (lost when tune ends)"
    elif storage.startswith("sqlite:///"):
        path = Path(storage.removeprefix("sqlite:///")).resolve()
        state = "resumed from" if path.exists() else "a new file,"
        where = f"{state} {path} (--storage to choose another)"
    else:
        where = redact_urls(storage)
    return where


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

    from ..registry import is_cnn
    from ..tuning.search import best_summary, run_study

    if args.refit_out is not None and not is_cnn(args.model):
        raise ValueError(
            f"tune received --refit-out with --model {args.model}; expected a CNN "
            "model (cnn-...): model files hold CNNs only. Use --best-out to keep "
            "the parameters of a baseline."
        )
    for out in (args.best_out, args.refit_out):  # before the study, not after
        if out is not None and not Path(out).resolve().parent.is_dir():
            raise FileNotFoundError(f"{out}: no such folder; create it first.")
    X_all, y_all = load_data(args, "train")
    X, y = X_all, y_all
    if args.train_size and args.train_size < len(y):
        X, _, y, _ = train_test_split(
            X,
            y,
            train_size=args.train_size,
            stratify=y,
            random_state=args.random_state,
        )
    where = _where_the_study_lives(args.storage)  # before: a new file or not
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
    print(f"study storage: {where}", file=sys.stderr)
    print(best_summary(study))
    if args.best_out is None and args.refit_out is None:
        return 0
    try:
        best = study.best_trial
    except ValueError:  # no completed trial
        raise ValueError(
            f"study '{study.study_name}' has no completed trial; nothing to write "
            "to --best-out or refit for --refit-out."
        ) from None
    fixed = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    params = {**fixed, **best.params}
    if args.best_out is not None:
        record = {
            "model": args.model,
            "params": params,
            "value": best.value,
            "study": study.study_name,
            "trial": best.number,
        }
        text = json.dumps(record, indent=2) + "\n"

        def write(tmp: Path) -> None:
            tmp.write_text(text)

        atomic_write(Path(args.best_out), write)
        print(f"best parameters written to {args.best_out}")
    if args.refit_out is not None:
        from ..registry import make_model

        model = make_model(args.model, random_state=args.random_state, **params)
        model.set_params(verbose=0)
        model.fit(X_all, y_all)
        if model.interrupted_:
            raise KeyboardInterrupt
        model.save(args.refit_out)
        print(
            f"refitted the best parameters on {len(y_all)} images; saved to "
            f"{args.refit_out}"
        )
    return 0
