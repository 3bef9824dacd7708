"""What each ``fashionclf`` subcommand does, given its parsed arguments.

The parsers are in :mod:`fashionclf.cli`. Each command imports the library
modules it needs when it runs, so ``fashionclf --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

import numpy as np

from .datasets import (
    CLASS_NAMES,
    download_fashion_mnist,
    fetch_fashion_mnist,
    load_sample,
)

__all__ = ["benchmark", "evaluate", "fetch", "info", "predict", "show", "train", "tune"]


#: ``--progress`` choice -> the ``verbose`` value of the library
VERBOSE: dict[str, bool | str] = {"auto": "auto", "always": True, "never": False}


def load_data(args: argparse.Namespace, subset: Literal["train", "test", "all"]):
    if getattr(args, "sample", False):
        return load_sample(subset=subset, return_X_y=True)
    return fetch_fashion_mnist(
        subset=subset,
        data_home=args.data_home,
        return_X_y=True,
        download_if_missing=not getattr(args, "no_download", False),
    )


def fetch(args: argparse.Namespace) -> int:
    folder = download_fashion_mnist(args.data_home)
    print(f"Fashion-MNIST IDX files verified in {folder}")
    return 0


def info(args: argparse.Namespace) -> int:
    for subset in ("train", "test"):
        X, y = load_data(args, subset)
        counts = np.bincount(y, minlength=10)
        print(
            f"{subset}: {X.shape[0]} images x {X.shape[1]} pixels ({X.dtype}), "
            f"pixel mean {X.mean():.1f}, per class {counts.min()}-{counts.max()}"
        )
    print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)))
    return 0


def train(args: argparse.Namespace) -> int:
    from .presets import make_cnn

    X, y = load_data(args, "train")
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


def evaluate(args: argparse.Namespace) -> int:
    from sklearn.metrics import classification_report

    from . import plotting
    from .classifier import load_model

    if args.saliency and not args.out_dir:
        raise SystemExit(
            "fashionclf evaluate: --saliency needs --out-dir for saliency.png"
        )
    model = load_model(args.model)
    X, y = load_data(args, "test")
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


def predict(args: argparse.Namespace) -> int:
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


def benchmark(args: argparse.Namespace) -> int:
    from .benchmark import run_benchmark

    X, y = load_data(args, "train")
    Xt, yt = load_data(args, "test")
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
        verbose=VERBOSE[args.progress],
        command=command,
    )
    result.save(args.out_dir, X_test=Xt, y_test=yt)
    print(result.to_markdown())
    if args.train_sizes:
        print("\nTest accuracy by training-set size:\n")
        print(result.sample_efficiency_markdown())
    print(f"results and plots written to {args.out_dir}/")
    return 0


def tune(args: argparse.Namespace) -> int:
    from sklearn.model_selection import train_test_split

    from .tuning import best_summary, run_study

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


def show(args: argparse.Namespace) -> int:
    from . import plotting

    X, y = load_data(args, args.subset)
    fig = plotting.plot_samples(X, y, n_rows=args.rows, n_cols=args.cols)
    print(f"wrote {plotting.save(fig, args.out)}")
    return 0
