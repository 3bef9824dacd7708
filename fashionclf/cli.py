"""The ``fashionclf`` command line: thin subcommands over the library.

``main(argv) -> int``; bad input exits non-zero with one clear line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from . import __version__
from .datasets import (
    CLASS_NAMES,
    download_fashion_mnist,
    fetch_fashion_mnist,
    load_sample,
)
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


_PROGRESS: dict[str, bool | str] = {"auto": "auto", "always": True, "never": False}


def _load(args: argparse.Namespace, subset: Literal["train", "test", "all"]):
    if getattr(args, "sample", False):
        return load_sample(subset=subset, return_X_y=True)
    return fetch_fashion_mnist(
        subset=subset,
        data_home=args.data_home,
        return_X_y=True,
        download_if_missing=not getattr(args, "no_download", False),
    )


def _cmd_fetch(args: argparse.Namespace) -> int:
    folder = download_fashion_mnist(args.data_home)
    print(f"Fashion-MNIST IDX files verified in {folder}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    for subset in ("train", "test"):
        X, y = _load(args, subset)
        counts = np.bincount(y, minlength=10)
        print(
            f"{subset}: {X.shape[0]} images x {X.shape[1]} pixels ({X.dtype}), "
            f"pixel mean {X.mean():.1f}, per class {counts.min()}-{counts.max()}"
        )
    print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .presets import make_cnn

    X, y = _load(args, "train")
    over = {
        "random_state": args.random_state,
        "verbose": 0 if args.quiet else 2,
        "validation_fraction": args.validation_fraction,
    }
    if args.max_epochs is not None:
        over["max_epochs"] = args.max_epochs
    clf = make_cnn(args.preset, **over).fit(X, y)
    clf.save(args.out)
    print(
        f"trained '{args.preset}' on {len(X)} images in {len(clf.history_)} epochs; "
        f"saved to {args.out}"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sklearn.metrics import classification_report

    from . import plotting
    from .classifier import load_model

    if args.saliency and not args.out_dir:
        raise SystemExit(
            "fashionclf evaluate: --saliency needs --out-dir for saliency.png"
        )
    model = load_model(args.model)
    X, y = _load(args, "test")
    proba = model.predict_proba(X)
    pred = model.classes_[proba.argmax(axis=1)]
    print(
        classification_report(
            y, pred, target_names=list(CLASS_NAMES), digits=4, zero_division=0
        )
    )
    if args.out_dir:
        out = args.out_dir
        plotting.save(
            plotting.plot_confusion_matrix(y, pred), f"{out}/confusion_matrix.png"
        )
        plotting.save(
            plotting.plot_per_class_metrics(y, pred), f"{out}/per_class_metrics.png"
        )
        plotting.save(
            plotting.plot_misclassified(X, y, proba, classes=model.classes_),
            f"{out}/misclassified.png",
        )
        if args.saliency:
            plotting.save(
                plotting.plot_saliency(model, X, y, n=args.saliency),
                f"{out}/saliency.png",
            )
        print(f"plots written to {out}/")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from ._atomic import atomic_write
    from ._formats import read_pixel_csv
    from .classifier import load_model
    from .image_files import read_images

    out_path = Path(args.out).resolve()
    for given in [args.model, *args.inputs]:
        if Path(given).resolve() == out_path:
            raise ValueError(
                f"--out {args.out} is also an input ({given}); expected a new file "
                "name, so no input is overwritten."
            )
    model = load_model(args.model)
    frames = []
    images = [
        p for p in args.inputs if not str(p).lower().endswith((".csv", ".csv.gz"))
    ]
    for path in args.inputs:
        if path in images:
            continue
        X, _ = read_pixel_csv(path)
        frames.append((pd.DataFrame({"source": path, "row": range(len(X))}), X))
    if images:
        frames.append(
            (
                pd.DataFrame({"source": images, "row": 0}),
                read_images(images, invert=args.invert),
            )
        )
    out = []
    for meta, X in frames:
        proba = model.predict_proba(X)
        meta["label"] = model.classes_[proba.argmax(axis=1)]
        if (
            np.issubdtype(model.classes_.dtype, np.integer)
            and len(model.classes_) == 10
        ):
            meta["class_name"] = [CLASS_NAMES[int(k)] for k in meta["label"]]
        for j, c in enumerate(model.classes_):
            meta[f"proba_{c}"] = proba[:, j].round(6)
        out.append(meta)
    result = pd.concat(out, ignore_index=True)
    atomic_write(out_path, lambda tmp: result.to_csv(tmp, index=False))
    print(f"{len(result)} predictions written to {args.out}")
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .benchmark import run_benchmark

    X, y = _load(args, "train")
    Xt, yt = _load(args, "test")
    over = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    command = "fashionclf " + " ".join(args.argv)
    result = run_benchmark(
        args.models or [args.preset],
        X,
        y,
        Xt,
        yt,
        random_state=args.random_state,
        cnn_params=over,
        run_once=args.run_once,
        train_sizes=args.train_sizes,
        verbose=_PROGRESS[args.progress],
        command=command,
    )
    result.save(args.out_dir, X_test=Xt, y_test=yt)
    print(result.to_markdown())
    if args.train_sizes:
        print("\nTest accuracy by training-set size:\n")
        print(result.sample_efficiency_markdown())
    print(f"results and plots written to {args.out_dir}/")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from .tuning import best_summary, run_study

    X, y = _load(args, "train")
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
        verbose=_PROGRESS[args.progress],
    )
    print(best_summary(study))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from . import plotting

    X, y = _load(args, args.subset)
    fig = plotting.plot_samples(X, y, n_rows=args.rows, n_cols=args.cols)
    print(f"wrote {plotting.save(fig, args.out)}")
    return 0


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
    p.set_defaults(func=_cmd_train)


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
    p.set_defaults(func=_cmd_evaluate)


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
    p.set_defaults(func=_cmd_predict)


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
    p.set_defaults(func=_cmd_benchmark)


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
    p.set_defaults(func=_cmd_tune)


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
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("info", help="load the data and print a summary")
    _add_data_args(p)
    p.set_defaults(func=_cmd_info)

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
    p.set_defaults(func=_cmd_show)
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
