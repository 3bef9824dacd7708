"""Data subcommands: ``fetch``, ``info``, ``show``."""

from __future__ import annotations

import argparse

import numpy as np

from ..datasets import CLASS_NAMES, download_fashion_mnist
from .options import add_data_args, load_data


def add_parsers(sub) -> None:
    """Add ``fetch``, ``info`` and ``show``."""
    p = sub.add_parser("fetch", help="download and verify the official IDX files")
    p.add_argument("--data-home", default=None, help="target folder")
    p.set_defaults(func=fetch)

    p = sub.add_parser("info", help="load the data and print a summary")
    add_data_args(p)
    p.set_defaults(func=info)

    p = sub.add_parser("show", help="save a grid of sample images with class names")
    add_data_args(p)
    p.add_argument("--subset", default="train", choices=["train", "test"])
    p.add_argument("--rows", type=int, default=15)
    p.add_argument("--cols", type=int, default=15)
    p.add_argument(
        "--out", default="samples.png", help="PNG file (default: %(default)s)"
    )
    p.set_defaults(func=show)


def fetch(args: argparse.Namespace) -> int:
    """Download and verify the official files."""
    folder = download_fashion_mnist(args.data_home)
    print(f"Fashion-MNIST IDX files verified in {folder}")
    return 0


def info(args: argparse.Namespace) -> int:
    """Print a summary of the data."""
    for subset in ("train", "test"):
        X, y = load_data(args, subset)
        counts = np.bincount(y, minlength=10)
        print(
            f"{subset}: {X.shape[0]} images x {X.shape[1]} pixels ({X.dtype}), "
            f"pixel mean {X.mean():.1f}, per class {counts.min()}-{counts.max()}"
        )
    print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)))
    return 0


def show(args: argparse.Namespace) -> int:
    """Save a grid of sample images."""
    from ..evaluation import plotting

    X, y = load_data(args, args.subset)
    fig = plotting.plot_samples(X, y, n_rows=args.rows, n_cols=args.cols)
    print(f"wrote {plotting.save(fig, args.out)}")
    return 0
