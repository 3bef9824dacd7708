"""The ``fashionclf`` command line: thin subcommands over the library.

``main(argv) -> int``; bad input exits non-zero with one clear line on
stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import __version__
from .datasets import CLASS_NAMES, download_fashion_mnist, fetch_fashion_mnist, load_sample
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
)


def _load(args: argparse.Namespace, subset: str):
    if getattr(args, "sample", False):
        return load_sample(subset=subset, return_X_y=True)
    return fetch_fashion_mnist(
        subset=subset, data_home=args.data_home, return_X_y=True,
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
        print(f"{subset}: {X.shape[0]} images x {X.shape[1]} pixels ({X.dtype}), "
              f"pixel mean {X.mean():.1f}, per class {counts.min()}-{counts.max()}")
    print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)))
    return 0


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-home", default=None,
                   help="folder with the IDX or Kaggle CSV files (default: "
                        "$FASHIONCLF_DATA, else ~/fashionclf_data)")
    p.add_argument("--sample", action="store_true",
                   help="use the small sample bundled with fashionclf instead")
    p.add_argument("--no-download", action="store_true",
                   help="fail instead of downloading when the data is missing")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``fashionclf`` command."""
    parser = argparse.ArgumentParser(
        prog="fashionclf",
        description="Fashion-MNIST with a scikit-learn compatible CNN.",
    )
    parser.add_argument("--version", action="version", version=f"fashionclf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="download and verify the official IDX files")
    p.add_argument("--data-home", default=None, help="target folder")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("info", help="load the data and print a summary")
    _add_data_args(p)
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage / help
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except _USER_ERRORS as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"fashionclf {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fashionclf {args.command}: interrupted", file=sys.stderr)
        return 130
