"""Options several subcommands share, and loading the data they name."""

from __future__ import annotations

import argparse
from typing import Any, Literal

__all__ = [
    "VERBOSE",
    "add_data_args",
    "add_progress_arg",
    "add_random_state_arg",
    "add_trusted_module_arg",
    "add_user_data_arg",
    "load_data",
    "load_labelled",
    "parse_set",
]

#: ``--progress`` choice -> the ``verbose`` value of the library
VERBOSE: dict[str, bool | str] = {"auto": "auto", "always": True, "never": False}


def parse_set(item: str, example: str = "lr=0.001") -> tuple[str, Any]:
    """Read one ``--set NAME=VALUE``: VALUE as JSON when it parses, else as text."""
    import json

    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--set {item!r}: expected NAME=VALUE, e.g. {example}.")
    try:
        return name, json.loads(text)
    except ValueError:
        return name, text
    except RecursionError as exc:
        raise ValueError(
            f"--set {name}: nested too deeply to read; expected a number, text, "
            "or a short list or object."
        ) from exc


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
        help="CNN epoch progress on stderr: 'auto' rewrites one line on a "
        "terminal and writes a line per epoch to a log or pipe, like 'always'; "
        "'never' is silent (default: %(default)s)",
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


def add_user_data_arg(p: argparse.ArgumentParser, what: str) -> None:
    """Add ``--data PATH``: the user's own labelled images instead of Fashion-MNIST."""
    p.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help=f"{what} your own labelled images instead of Fashion-MNIST: a CSV in "
        "the Kaggle layout (label, pixel1..pixel784) or a folder with one "
        "subfolder of pictures per class (folder/CLASS/picture.jpg, as "
        "torchvision's ImageFolder); labels may be text",
    )


def add_trusted_module_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--trusted-module`` (repeatable)."""
    p.add_argument(
        "--trusted-module",
        action="append",
        default=[],
        metavar="NAME",
        help="import path ('package.module' or 'package.module:Class') of a user "
        "network the model file may name; repeat for several. Loading imports "
        "(runs) that code: name only code you trust",
    )


def load_labelled(args: argparse.Namespace, subset: Literal["train", "test"]):
    """``(X, y)``: the user's ``--data`` if given, else Fashion-MNIST's ``subset``."""
    from pathlib import Path

    from ..datasets import read_image_folder
    from ..datasets.formats import read_pixel_csv
    from ..exceptions import DataFormatError

    if getattr(args, "data", None) is None:
        return load_data(args, subset)
    path = Path(args.data)
    if path.is_dir():
        return read_image_folder(path)
    X, y = read_pixel_csv(path)
    if y is None:
        raise DataFormatError(
            f"{path}: has no 'label' column; --data needs labelled rows (label, "
            "pixel1..pixel784) or a folder of class subfolders."
        )
    return X, y
