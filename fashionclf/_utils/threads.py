"""torch's thread count, set for a block of code without racing other threads.

``torch.set_num_threads`` is process-wide. Saving and restoring it around a
call is wrong as soon as two threads interleave (one restores while the
other still runs). :func:`torch_threads` counts the threads inside: the
first one in sets the count, the last one out restores it, and a thread
asking for another count waits until the others are done. A thread
already inside (a nested call) keeps the count in force.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["torch_threads"]

_cond = threading.Condition()
_in_force: dict[str, int | None] = {"n": None, "users": 0, "saved": None}
_mine = threading.local()  # .depth: this thread's nesting


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (``None``: leave it)."""
    import torch

    if n is None or getattr(_mine, "depth", 0) > 0:
        yield
        return
    with _cond:
        _cond.wait_for(lambda: _in_force["users"] == 0 or _in_force["n"] == n)
        if _in_force["users"] == 0:
            _in_force.update(n=n, saved=torch.get_num_threads())
            torch.set_num_threads(n)
        _in_force["users"] = (_in_force["users"] or 0) + 1
    _mine.depth = 1
    try:
        yield
    finally:
        _mine.depth = 0
        with _cond:
            _in_force["users"] = (_in_force["users"] or 1) - 1
            if _in_force["users"] == 0:
                torch.set_num_threads(_in_force["saved"] or 1)
                _in_force["n"] = None
                _cond.notify_all()
