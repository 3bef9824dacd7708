"""Peak resident memory of this process, for the harness and the benchmark scripts."""

from __future__ import annotations

import resource

__all__ = ["peak_rss_mb", "reset_peak_rss"]

# After a reset VmHWM equals VmRSS; this much apart means the reset did not take
# (threads may free memory between the write and the read).
_RESET_TOLERANCE_KB = 8 * 1024


def _status_kb() -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of ``/proc/self/status`` in KiB (empty where missing)."""
    found = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def reset_peak_rss() -> bool:
    """Restart the peak-memory count from the current resident size.

    Returns
    -------
    bool
        ``True`` where the peak now counts from here: on Linux, writing ``5``
        to ``/proc/self/clear_refs`` resets ``VmHWM`` to ``VmRSS``, and the
        two are read back to check it. ``False`` where the file is missing,
        or where the kernel takes the write and keeps the old peak (seen in
        some sandboxes); :func:`peak_rss_mb` then counts from the start of
        the process.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    status = _status_kb()
    if "VmHWM" not in status or "VmRSS" not in status:
        return False
    return status["VmHWM"] - status["VmRSS"] <= _RESET_TOLERANCE_KB


def peak_rss_mb() -> float:
    """Peak resident memory in MiB since the last :func:`reset_peak_rss`.

    Returns
    -------
    float
        ``VmHWM`` of ``/proc/self/status``, or ``ru_maxrss`` where that file
        is missing.
    """
    status = _status_kb()
    if "VmHWM" in status:
        return status["VmHWM"] / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
