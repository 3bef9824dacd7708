"""Wording of error messages, uniform across the library.

One formatter (:func:`expected_got`) keeps error wording uniform: who
complains, what was received, what was expected, and the fix when known.
:func:`first_line` quotes an underlying error in one line;
:func:`redact_urls` masks passwords in URLs before any message shows them.
"""

from __future__ import annotations

import re

__all__ = ["expected_got", "first_line", "redact_urls"]


def first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message ('' if it has none)."""
    text = str(exc)
    return text.splitlines()[0] if text else ""


def expected_got(owner: str, got: str, expected: str, fix: str | None = None) -> str:
    """Format an error message: '<owner> received <got>; expected <expected>. <fix>'."""
    msg = f"{owner} received {got}; expected {expected}."
    return f"{msg} {fix}" if fix else msg


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):([^@\s]*)@")


def redact_urls(text: str) -> str:
    """Replace the password of every ``scheme://user:password@host`` in ``text``.

    >>> redact_urls("postgresql://alice:s3cret@db:5432/optuna")
    'postgresql://alice:***@db:5432/optuna'
    """
    return _URL_PASSWORD.sub(r"\1:***@", text)
