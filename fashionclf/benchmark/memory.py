"""Peak resident memory of this process, for the harness and the benchmark scripts."""

from __future__ import annotations

import resource

__all__ = ["peak_rss_mb", "reset_peak_rss"]


def reset_peak_rss() -> bool:
    """Restart the peak-memory count from the current resident size.

    Returns
    -------
    bool
        ``True`` where the peak could be reset (Linux: writing ``5`` to
        ``/proc/self/clear_refs`` resets ``VmHWM``); elsewhere ``False``,
        and :func:`peak_rss_mb` then counts from the start of the process.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory in MiB since the last :func:`reset_peak_rss`.

    Returns
    -------
    float
        ``VmHWM`` of ``/proc/self/status``, or ``ru_maxrss`` where that file
        is missing.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
