"""Live progress of long fits on stderr: epochs, time elapsed, time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from skorch.callbacks import Callback


def wants_live(verbose: bool | str) -> bool:
    """Whether to show per-epoch progress for ``verbose`` True/False/'auto'.

    True and 'auto' show it: rewritten in place on a terminal, one plain
    line per epoch in a log, a pipe or a notebook's captured output (so a
    long fit is never silent there, as pip's progress is not); False shows
    nothing.
    """
    if verbose not in (True, False, "auto"):
        raise ValueError(f"verbose={verbose!r}; expected True, False or 'auto'.")
    return verbose in (True, "auto")


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def epoch_text(done: int, total: int, elapsed: float) -> str:
    """``epoch 3/10, 1m05s elapsed, ~2m32s left`` (mean epoch time so far)."""
    left = elapsed / done * (total - done)
    return f"epoch {done}/{total}, {_clock(elapsed)} elapsed, ~{_clock(left)} left"


class EpochProgress(Callback):
    """After each epoch, write ``epoch k/K, elapsed, ~left`` to a stream.

    On a terminal the line is rewritten in place after ``prefix``; elsewhere
    each epoch gets its own line. The time left assumes the remaining epochs
    take as long as the mean so far (with early stopping, at most that).

    Parameters
    ----------
    prefix : str, default=''
        Text in front of the progress (e.g. the benchmark row's name).
    stream : file-like, optional
        Default: ``sys.stderr`` at the time of writing.
    """

    def __init__(self, prefix: str = "", stream: TextIO | None = None) -> None:
        self.prefix = prefix
        self.stream = stream

    def on_train_begin(self, net, **kwargs) -> None:
        """Start the clock."""
        self.start_ = time.perf_counter()
        self.done_ = 0

    def on_epoch_end(self, net, **kwargs) -> None:
        """Write the epoch count, elapsed time and estimated time left."""
        self.done_ += 1
        elapsed = time.perf_counter() - self.start_
        text = epoch_text(self.done_, max(int(net.max_epochs), self.done_), elapsed)
        stream = self.stream or sys.stderr
        if getattr(stream, "isatty", lambda: False)():
            stream.write(f"\r\x1b[K{self.prefix}{text}")
        else:
            stream.write(f"{self.prefix}{text}\n")
        stream.flush()
