"""Atomic file writes: a temporary file beside the target, then a rename.

No torch here. Every file the library writes (downloads, caches, model files,
checkpoints, prediction CSVs) goes through :func:`atomic_write`, so

- a crash or Ctrl-C never leaves a half-written file under the real name;
- the file gets the permissions the process umask gives any new file
  (``mkstemp`` alone would leave 0600, unreadable to a shared folder's
  other users);
- temporary files carry this library's own suffix, ``.fashionclf-tmp``, so
  leftovers of a killed process can be swept without touching a user's files
  (:func:`sweep_stale`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["TMP_SUFFIX", "atomic_write", "sweep_stale"]

TMP_SUFFIX = ".fashionclf-tmp"


def _umask() -> int:
    """Return the process umask, read without changing it (Linux: /proc/self/status).

    Setting it to 0 and back, the only portable way, lets a file that another
    thread creates in between come out world-writable; elsewhere that is done
    under a lock, which covers fashionclf's own writes.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)  # the strictest: a file made meanwhile stays private
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a new temporary file beside ``path``, then rename.

    Parameters
    ----------
    path : path-like
        The target; its folder must exist.
    write : callable
        Writes the content to the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sweep_stale(
    folder: str | os.PathLike[str],
    older_than_s: float = 3600.0,
    pattern: str = f".*{TMP_SUFFIX}",
) -> int:
    """Delete this library's files in ``folder`` older than a limit.

    Only names matching the glob ``pattern`` are touched: by default the
    temporary files of :func:`atomic_write` (ending in :data:`TMP_SUFFIX`).
    Returns how many were removed.
    """
    removed = 0
    cutoff = time.time() - older_than_s
    for tmp in Path(folder).glob(pattern):
        try:
            if tmp.stat().st_mtime <= cutoff:
                tmp.unlink()
                removed += 1
        except OSError:
            continue  # gone already, or not ours to remove
    return removed
