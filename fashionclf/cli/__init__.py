"""The ``fashionclf`` command line: thin subcommands over the library.

``main(argv) -> int`` parses and dispatches; each subcommand module holds its
parser next to its handler.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
