"""Options several subcommands share, and loading the data they name."""

from __future__ import annotations

import argparse
from typing import Literal

__all__ = [
    "VERBOSE",
    "add_data_args",
    "add_progress_arg",
    "add_random_state_arg",
    "load_data",
]

#: ``--progress`` choice -> the ``verbose`` value of the library
VERBOSE: dict[str, bool | str] = {"auto": "auto", "always": True, "never": False}


def add_data_args(p: argparse.ArgumentParser) -> None:
    """Add ``--data-home``, ``--sample`` and ``--no-download``."""
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


def add_progress_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--progress``."""
    p.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="live CNN epoch progress on stderr: 'auto' only on a terminal "
        "(default: %(default)s)",
    )


def add_random_state_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--random-state`` (alias ``--seed``)."""
    p.add_argument(
        "--random-state",
        "--seed",
        type=int,
        default=0,
        help="seed of the split and the models (default: %(default)s)",
    )


def load_data(args: argparse.Namespace, subset: Literal["train", "test", "all"]):
    """Return ``(X, y)`` of ``subset`` from the data the options name."""
    from ..datasets import fetch_fashion_mnist, load_sample

    if getattr(args, "sample", False):
        return load_sample(subset=subset, return_X_y=True)
    return fetch_fashion_mnist(
        subset=subset,
        data_home=args.data_home,
        return_X_y=True,
        download_if_missing=not getattr(args, "no_download", False),
    )
