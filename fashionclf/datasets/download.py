"""Download files over HTTP(S) with checksums, retries, mirrors and atomic writes.

No torch here. A file is written to a temporary
``.<name>.*.fashionclf-tmp`` file in the target folder, verified, then
renamed into place, so a failed or killed download
never leaves anything that looks like data.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .._utils.atomic import atomic_write
from ..exceptions import ChecksumError, DownloadError

_CHUNK = 1 << 16


def file_md5(path: str | os.PathLike[str]) -> str:
    """Return the hex MD5 digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(
    url: str,
    dest: Path,
    md5: str | None,
    timeout: float,
    deadline_s: float,
    max_bytes: int,
) -> None:
    """One attempt: stream ``url`` to a temporary file, verify, rename to ``dest``."""
    started = time.monotonic()

    def left() -> float:
        return deadline_s - (time.monotonic() - started)

    def write(tmp: Path) -> None:
        digest = hashlib.md5(usedforsecurity=False)
        with (
            open(tmp, "wb") as out,
            urllib.request.urlopen(url, timeout=min(timeout, deadline_s)) as resp,
        ):
            # each read returns what has arrived (read1) and waits at most until
            # the deadline, so a mirror dripping bytes cannot stretch an attempt
            sock = getattr(getattr(resp.fp, "raw", None), "_sock", None)
            expected_len = _content_length(resp.headers.get("Content-Length"), url)
            if expected_len is not None and expected_len > max_bytes:
                raise DownloadError(
                    f"{url}: announces {expected_len:,} bytes; expected at most "
                    f"{max_bytes:,}"
                )
            received = 0

            def too_slow() -> DownloadError:
                return DownloadError(
                    f"{url}: not complete after {deadline_s:g} s "
                    f"({received:,} bytes received)"
                )

            while True:
                if sock is not None:
                    sock.settimeout(max(0.05, min(timeout, left())))
                try:
                    chunk = resp.read1(_CHUNK)
                except TimeoutError:
                    if left() > 0:
                        raise  # the mirror stalled for a whole timeout
                    raise too_slow() from None
                if not chunk:
                    break
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadError(
                        f"{url}: sent more than {max_bytes:,} bytes, the most expected"
                    )
                if left() < 0:
                    raise too_slow()
                out.write(chunk)
                digest.update(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_len is not None and received != expected_len:
            raise DownloadError(
                f"{url}: transfer truncated, received {received} of "
                f"{expected_len} bytes."
            )
        if md5 is not None and digest.hexdigest() != md5:
            raise ChecksumError(
                f"{url}: MD5 is {digest.hexdigest()}, expected {md5}; the file is "
                "corrupt or not the official one."
            )

    atomic_write(dest, write)


def _content_length(value: str | None, url: str) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit():
        raise DownloadError(f"{url}: Content-Length {value[:40]!r} is not a number")
    return int(value)


def download(
    filename: str,
    dest_dir: str | os.PathLike[str],
    *,
    mirrors: Sequence[str],
    md5: str | None,
    n_retries: int = 2,
    delay: float = 0.5,
    timeout: float = 30.0,
    deadline_s: float = 600.0,
    max_bytes: int = 100 * 2**20,
) -> Path:
    """Download ``filename`` from the first mirror that serves it intact.

    Parameters
    ----------
    filename : str
        Name of the file, appended to each mirror's base URL.
    dest_dir : path-like
        Folder to write into; created if missing.
    mirrors : sequence of str
        Base URLs, tried in order.
    md5 : str or None
        Expected hex MD5 digest; ``None`` skips verification.
    n_retries : int, default=2
        Attempts per mirror after the first one fails.
    delay : float, default=0.5
        Seconds before the first retry, doubled before each further one.
    timeout : float, default=30.0
        Socket timeout in seconds.
    deadline_s : float, default=600.0
        Longest one attempt may take, however slowly the bytes trickle in.
    max_bytes : int, default=100 MiB
        Largest file accepted; a larger announced or sent body is refused.

    Returns
    -------
    Path
        The verified file.

    Raises
    ------
    DownloadError
        No mirror delivered a verified file; the message lists every failure.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    failures: list[str] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        wait = delay
        reasons: list[str] = []
        for attempt in range(n_retries + 1):
            try:
                _fetch_once(url, dest, md5, timeout, deadline_s, max_bytes)
                return dest
            except (
                OSError,  # network errors; DownloadError (truncated, too big, slow)
                ValueError,  # ChecksumError; anything urllib finds malformed
                http.client.HTTPException,  # e.g. a body cut short, a non-HTTP reply
            ) as exc:
                reasons.append(failure_reason(exc, timeout))
            if attempt < n_retries:
                time.sleep(wait)
                wait *= 2
        failures.append(f"{url}: {_summarize(reasons)}")
    raise DownloadError(
        f"could not download {filename} from any of {len(mirrors)} mirror(s):\n  "
        + "\n  ".join(failures)
        + "\n"
        + REMEDIES
    )


REMEDIES = (
    "To use a copy you already have, point data_home (CLI: --data-home) or the "
    "FASHIONCLF_DATA environment variable at a folder holding the four official "
    "IDX files (*-idx?-ubyte.gz) or the Kaggle CSVs (fashion-mnist_train.csv and "
    "fashion-mnist_test.csv, optionally .gz); to try the library without the data, "
    "use load_sample() (CLI: --sample), 2,500 real images bundled with fashionclf."
)


def failure_reason(exc: BaseException, timeout: float) -> str:
    """Say in a few words why one download attempt failed."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, socket.gaierror):
        return f"name resolution failed ({cause.strerror or cause})"
    if isinstance(cause, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, ChecksumError):
        return "the file's MD5 did not match: " + str(exc).split(": ", 1)[-1]
    text = str(cause) or type(cause).__name__
    return text.split(": ", 1)[-1] if text.startswith("http") else text


def _summarize(reasons: list[str]) -> str:
    """One line for a mirror's attempts: 'reason (3 attempts)' or each reason."""
    if len(set(reasons)) == 1:
        n = len(reasons)
        return reasons[0] + (f" ({n} attempts)" if n > 1 else "")
    return "; ".join(f"attempt {i}: {r}" for i, r in enumerate(reasons, 1))
