"""fashionclf.benchmark.memory: the peak resident memory of this process."""

import sys

import numpy as np
import pytest

from fashionclf.benchmark.memory import peak_rss_mb, reset_peak_rss


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="VmHWM resets only on Linux"
)
def test_the_peak_counts_what_was_touched_since_the_reset():
    assert reset_peak_rss()
    before = peak_rss_mb()
    block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page written
    grown = peak_rss_mb()
    del block
    assert grown - before > 60
    assert reset_peak_rss()
    assert peak_rss_mb() < grown - 30  # the freed block no longer counts
