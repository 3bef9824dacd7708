"""fashionclf.benchmark.memory: the peak resident memory of this process."""

import builtins
import io
import sys

import numpy as np
import pytest

from fashionclf.benchmark import memory
from fashionclf.benchmark.memory import peak_rss_mb, reset_peak_rss

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="VmHWM and VmRSS are Linux's"
)


def _rss_mb():
    return memory._status_kb()["VmRSS"] / 1024


@linux_only
def test_the_peak_is_never_below_what_is_resident():
    before = _rss_mb()
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page written
    resident = _rss_mb()
    assert resident - before > 60
    assert peak_rss_mb() >= resident
    del block


@linux_only
def test_a_reset_the_kernel_ignores_is_reported(monkeypatch):
    block = np.ones(64 * 2**20, dtype=np.uint8)
    del block  # the peak is now well above what is resident
    assert peak_rss_mb() - _rss_mb() > 30
    real_open = builtins.open

    def ignoring_open(
        file, *args, **kwargs
    ):  # a kernel that takes the write, does nothing
        if file == "/proc/self/clear_refs":
            return io.StringIO()
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", ignoring_open)
    assert reset_peak_rss() is False


@linux_only
def test_the_peak_counts_what_was_touched_since_the_reset():
    block = np.ones(64 * 2**20, dtype=np.uint8)
    del block
    if not reset_peak_rss():
        status = memory._status_kb()
        pytest.skip(
            "this kernel keeps VmHWM after a write to /proc/self/clear_refs "
            f"(VmHWM {status['VmHWM'] / 1024:.0f} MiB, VmRSS {status['VmRSS'] / 1024:.0f} "
            "MiB); the harness reports no peak here"
        )
    before = peak_rss_mb()
    block = np.ones(64 * 2**20, dtype=np.uint8)
    grown = peak_rss_mb()
    del block
    assert grown - before > 60
    assert reset_peak_rss()
    assert peak_rss_mb() < grown - 30  # the freed block no longer counts
