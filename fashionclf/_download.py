"""Download files over HTTP(S) with checksums, retries, mirrors and atomic writes.

No torch here. A file is written to ``<name>.part-<random>`` in the target
folder, verified, then renamed into place, so a failed or killed download
never leaves anything that looks like data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .exceptions import ChecksumError, DownloadError

_CHUNK = 1 << 16


def file_md5(path: str | os.PathLike[str]) -> str:
    """Return the hex MD5 digest of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(url: str, dest: Path, md5: str | None, timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".part-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                expected_len = resp.headers.get("Content-Length")
                received = 0
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_len is not None and received != int(expected_len):
            raise DownloadError(
                f"{url}: transfer truncated, received {received} of "
                f"{expected_len} bytes."
            )
        if md5 is not None and digest.hexdigest() != md5:
            raise ChecksumError(
                f"{url}: MD5 is {digest.hexdigest()}, expected {md5}; the file is "
                "corrupt or not the official one."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download(
    filename: str,
    dest_dir: str | os.PathLike[str],
    *,
    mirrors: Sequence[str],
    md5: str | None,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 0.5,
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
    retries : int, default=3
        Attempts per mirror.
    timeout : float, default=30.0
        Socket timeout in seconds.
    backoff : float, default=0.5
        Seconds to wait before the second attempt, doubled after each failure.

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
    errors: list[str] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        delay = backoff
        for attempt in range(1, retries + 1):
            try:
                _fetch_once(url, dest, md5, timeout)
                return dest
            except ChecksumError as exc:
                errors.append(f"attempt {attempt}: {exc}")
            except (OSError, urllib.error.URLError) as exc:
                errors.append(f"attempt {attempt}: {url}: {exc}")
            if attempt < retries:
                time.sleep(delay)
                delay *= 2
    raise DownloadError(
        f"could not download {filename} from any of {len(mirrors)} mirror(s):\n  "
        + "\n  ".join(errors)
    )
