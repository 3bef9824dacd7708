"""The ``fashionclf`` command line: thin subcommands over the library.

``main(argv) -> int``; bad input exits non-zero with one clear line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from . import _commands as commands
from .exceptions import DataFormatError, DownloadError, ModelFileError

# Errors that are the user's input, reported as one line (exit 2).
_USER_ERRORS = (
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
    DataFormatError,
    DownloadError,
    ModelFileError,
    ValueError,
    KeyError,
    ImportError,  # e.g. no database driver for a --storage URL
)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-home",
        default=None,
        help="folder with the IDX or Kaggle CSV files (default: "
        "$FASHIONCLF_DATA, else ~/fashionclf_data)",
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="use the small sample bundled with fashionclf instead",
    )
    p.add_argument(
        "--no-download",
        action="store_true",
        help="fail instead of downloading when the data is missing",
    )


def _add_progress_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="live CNN epoch progress on stderr: 'auto' only on a terminal "
        "(default: %(default)s)",
    )


def _add_random_state_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--random-state",
        "--seed",
        type=int,
        default=0,
        help="seed of the split and the models (default: %(default)s)",
    )


def _add_train_parser(sub) -> None:
    """Add the ``train`` subcommand."""
    from .presets import PRESETS

    p = sub.add_parser("train", help="train a CNN preset and save it (weights-only)")
    _add_data_args(p)
    p.add_argument(
        "--preset",
        default="default",
        choices=sorted(PRESETS),
        help="CNN configuration (default: %(default)s)",
    )
    p.add_argument(
        "--out", default="model.pt", help="model file (default: %(default)s)"
    )
    p.add_argument(
        "--max-epochs", type=int, default=None, help="override the preset's epochs"
    )
    _add_random_state_arg(p)
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        help="hold out this fraction to report validation scores per epoch",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no epoch table or progress bar"
    )
    p.set_defaults(func=commands.train)


def _add_evaluate_parser(sub) -> None:
    """Add the ``evaluate`` subcommand."""
    p = sub.add_parser(
        "evaluate", help="score a saved model on the test set, with plots"
    )
    _add_data_args(p)
    p.add_argument("model", help="model file written by 'fashionclf train'")
    p.add_argument(
        "--out-dir",
        default=None,
        help="write confusion_matrix.png, per_class_metrics.png and "
        "misclassified.png here",
    )
    p.add_argument(
        "--saliency",
        type=int,
        default=0,
        metavar="N",
        help="also write saliency.png to --out-dir: integrated gradients of the "
        "N most confidently misclassified test images",
    )
    p.set_defaults(func=commands.evaluate)


def _add_predict_parser(sub) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser("predict", help="predict labels and probabilities to CSV")
    p.add_argument("model", help="model file written by 'fashionclf train'")
    p.add_argument(
        "inputs",
        nargs="+",
        help="CSV files of pixel rows (pixel1..pixel784) and/or PNG/JPEG images "
        "(resized to 28x28 grayscale)",
    )
    p.add_argument(
        "--out", default="predictions.csv", help="output CSV (default: %(default)s)"
    )
    p.add_argument(
        "--invert",
        action="store_true",
        help="invert images (dark article on light background)",
    )
    p.set_defaults(func=commands.predict)


def _add_benchmark_parser(sub) -> None:
    """Add the ``benchmark`` subcommand."""
    from .presets import BENCHMARK_PRESETS

    p = sub.add_parser(
        "benchmark", help="CNN vs classic baselines: table, JSON and plots"
    )
    _add_data_args(p)
    p.add_argument(
        "--preset",
        default="quick",
        choices=sorted(BENCHMARK_PRESETS),
        help="model list (default: %(default)s)",
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="explicit models, e.g. logreg random_forest cnn-fast",
    )
    p.add_argument(
        "--random-state",
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="seeds; stochastic models run once per seed (default: 0)",
    )
    p.add_argument(
        "--run-once",
        "--one-seed",
        nargs="+",
        default=[],
        help="slow stochastic models to run with the first seed only",
    )
    p.add_argument(
        "--max-epochs", type=int, default=None, help="override every CNN's epochs"
    )
    p.add_argument(
        "--train-sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="also train every model on stratified subsets of these sizes "
        "(e.g. 1000 5000 20000 60000) for sample_efficiency.png",
    )
    _add_progress_arg(p)
    p.add_argument(
        "--out-dir",
        default="results/benchmark",
        help="output folder (default: %(default)s)",
    )
    p.set_defaults(func=commands.benchmark)


def _add_tune_parser(sub) -> None:
    """Add the ``tune`` subcommand."""
    from .registry import MODEL_NAMES

    p = sub.add_parser(
        "tune", help="Optuna study over the CNN or a baseline (resumable)"
    )
    _add_data_args(p)
    _add_progress_arg(p)
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
    _add_random_state_arg(p)
    _add_study_args(p)
    p.set_defaults(func=commands.tune)


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``fashionclf`` command."""
    parser = argparse.ArgumentParser(
        prog="fashionclf",
        description="Fashion-MNIST with a scikit-learn compatible CNN.",
    )
    parser.add_argument(
        "--version", action="version", version=f"fashionclf {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="download and verify the official IDX files")
    p.add_argument("--data-home", default=None, help="target folder")
    p.set_defaults(func=commands.fetch)

    p = sub.add_parser("info", help="load the data and print a summary")
    _add_data_args(p)
    p.set_defaults(func=commands.info)

    _add_train_parser(sub)
    _add_evaluate_parser(sub)
    _add_predict_parser(sub)
    _add_benchmark_parser(sub)
    _add_tune_parser(sub)

    p = sub.add_parser("show", help="save a grid of sample images with class names")
    _add_data_args(p)
    p.add_argument("--subset", default="train", choices=["train", "test"])
    p.add_argument("--rows", type=int, default=15)
    p.add_argument("--cols", type=int, default=15)
    p.add_argument(
        "--out", default="samples.png", help="PNG file (default: %(default)s)"
    )
    p.set_defaults(func=commands.show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage / help
        return int(exc.code or 0)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        return int(args.func(args))
    except _USER_ERRORS as exc:
        from ._validation import first_line, redact_urls

        msg = first_line(exc) or type(exc).__name__
        if isinstance(exc, DownloadError):  # one line per mirror, then the remedies
            msg = str(exc)
        msg = redact_urls(msg)  # never print a database password
        print(f"fashionclf {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fashionclf {args.command}: interrupted", file=sys.stderr)
        return 130
