"""fashionclf.evaluation.memory: the peak resident memory of this process."""

import builtins
import io
import mmap
import sys

import pytest

from fashionclf.evaluation import memory
from fashionclf.evaluation.memory import peak_rss_mb, reset_peak_rss

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="VmHWM and VmRSS are Linux's"
)


def _rss_mb():
    return memory._status_kb()["VmRSS"] / 1024


def _touched_block(mib: int = 64) -> mmap.mmap:
    """``mib`` MiB mapped straight from the kernel, every page written.

    Not through malloc, which may serve a block from memory it already
    holds resident (its thresholds move as a long test session runs).
    """
    block = mmap.mmap(-1, mib * 2**20)
    for offset in range(0, len(block), mmap.PAGESIZE):
        block[offset] = 1
    return block


@linux_only
def test_the_peak_is_never_below_what_is_resident():
    before = _rss_mb()
    block = _touched_block()
    resident = _rss_mb()
    assert resident - before > 60
    assert peak_rss_mb() >= resident
    block.close()


@linux_only
def test_a_reset_the_kernel_ignores_is_reported(monkeypatch):
    block = _touched_block()
    block.close()  # the peak is now well above what is resident
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
    block = _touched_block()
    block.close()
    if not reset_peak_rss():
        status = memory._status_kb()
        pytest.skip(
            "this kernel keeps VmHWM after a write to /proc/self/clear_refs "
            f"(VmHWM {status['VmHWM'] / 1024:.0f} MiB, VmRSS {status['VmRSS'] / 1024:.0f} "
            "MiB); the harness reports no peak here"
        )
    before = peak_rss_mb()
    block = _touched_block()
    grown = peak_rss_mb()
    block.close()
    assert grown - before > 60
    assert reset_peak_rss()
    assert peak_rss_mb() < grown - 30  # the freed block no longer counts
