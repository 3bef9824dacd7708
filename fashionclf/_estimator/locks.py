"""Forward passes in many threads against torch's process-wide state.

Two things fashionclf does change state that every thread sees:

- seeding torch's global RNG to initialise a network's weights;
- tracing a network with ``torch.fx`` (int8 quantization), which patches
  ``torch.nn.Module.__call__`` for the whole process while it runs, so any
  network another thread runs meanwhile is routed through the tracer.

Those run under :func:`exclusive`; every forward pass fashionclf makes runs
under :func:`shared`. Forward passes overlap freely; an exclusive section
waits for those in flight, and new ones wait for it (it goes first, so
threads that train non-stop cannot starve it). A thread may nest either
inside its own exclusive section.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["exclusive", "seeded_torch_rng", "shared"]


class _Counts:
    shared = 0  # forward passes in flight, all threads
    waiting = 0  # threads waiting to go exclusive
    exclusive: int | None = None  # the thread in its exclusive section


_cond = threading.Condition()
_now = _Counts()
_mine = threading.local()  # .depth: this thread's forward passes in flight


def _depth() -> int:
    return getattr(_mine, "depth", 0)


@contextlib.contextmanager
def shared() -> Iterator[None]:
    """Run a forward pass; waits while another thread is in :func:`exclusive`."""
    me = threading.get_ident()

    def may_start() -> bool:
        if _now.exclusive == me or _depth() > 0:  # nested: never wait on itself
            return True
        return _now.exclusive is None and not _now.waiting

    with _cond:
        _cond.wait_for(may_start)
        _now.shared += 1
    _mine.depth = _depth() + 1
    try:
        yield
    finally:
        _mine.depth -= 1
        with _cond:
            _now.shared -= 1
            _cond.notify_all()


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Change process-wide torch state with no other thread's forward in flight."""
    me = threading.get_ident()
    if _now.exclusive == me:  # nested in this thread's own section
        yield
        return
    with _cond:
        _now.waiting += 1
        _cond.wait_for(lambda: _now.exclusive is None and _now.shared == _depth())
        _now.waiting -= 1
        _now.exclusive = me
    try:
        yield
    finally:
        with _cond:
            _now.exclusive = None
            _cond.notify_all()


@contextlib.contextmanager
def seeded_torch_rng(seed: int, device: str = "cpu") -> Iterator[None]:
    """Seed torch's global RNG (CPU, and ``device`` if CUDA); restore it after.

    Only those two generators are seeded, and both are restored: other GPUs'
    generators are never touched.

    Seeding and restoring are exclusive sections, so they never land in the
    middle of another thread's seeded initialisation.
    """
    import torch

    cuda = torch.device(device).type == "cuda"
    with exclusive():
        saved = torch.get_rng_state()
        saved_cuda = torch.cuda.get_rng_state(device) if cuda else None
        # seed only what is restored: the CPU and this fit's GPU (torch.manual_seed
        # would reseed every GPU, and leave the others reseeded)
        torch.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
    try:
        yield
    finally:
        with exclusive():
            torch.set_rng_state(saved)
            if saved_cuda is not None:
                torch.cuda.set_rng_state(saved_cuda, device)
