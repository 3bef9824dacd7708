"""The ``fashionclf`` command line: thin subcommands over the library.

``main(argv) -> int``; each subcommand module (:mod:`.data`, :mod:`.models`,
:mod:`.benchmark`, :mod:`.tune`) holds its parsers next to their handlers,
and shared options are in :mod:`.options`. Bad input exits non-zero with one
clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..exceptions import DataFormatError, DownloadError, ModelFileError
from . import benchmark, data, models, tune

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
    ConnectionError,  # a study storage that cannot be reached
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
    for family in (data, models, benchmark, tune):
        family.add_parsers(sub)
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
        from .._utils.messages import first_line, redact_urls

        msg = first_line(exc) or type(exc).__name__
        if isinstance(exc, DownloadError):  # one line per mirror, then the remedies
            msg = str(exc)
        msg = redact_urls(msg)  # never print a database password
        print(f"fashionclf {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except (FloatingPointError, OSError) as exc:
        # a fit that diverged, a full disk: not the input's fault
        from .._utils.messages import first_line

        print(f"fashionclf {args.command}: error: {first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fashionclf {args.command}: interrupted", file=sys.stderr)
        return 130
