"""Which device a fit with ``device='auto'`` takes, also in parallel searches."""

from __future__ import annotations

import itertools
import os
import threading

import torch

from .._utils.messages import expected_got

# The first turn comes from the process id: worker processes started one
# after another (consecutive pids) begin on different GPUs.
_turn = itertools.count(os.getpid())
_lock = threading.Lock()


def auto_device() -> str:
    """``'cpu'`` without CUDA; else the visible GPU with the most free memory.

    With one GPU this is ``'cuda'``. With several, each fit looks at the free
    memory of every visible GPU when it starts and takes the emptiest, so
    the workers of a parallel search (processes or threads) spread over the
    GPUs instead of all piling onto ``cuda:0``; GPUs with equal free memory
    (e.g. at the start of a search) are taken in turn, round-robin, by the
    fits of one process, starting from the process id (so worker processes
    with consecutive ids start on different GPUs). A heuristic, not a
    guarantee: to pin a worker to a GPU, pass ``device='cuda:N'`` or set
    ``CUDA_VISIBLE_DEVICES`` per process.
    """
    if not torch.cuda.is_available():
        return "cpu"
    count = torch.cuda.device_count()
    if count <= 1:
        return "cuda"
    with _lock:
        turn = next(_turn)
    free = [torch.cuda.mem_get_info(i)[0] for i in range(count)]
    # most free memory first; among equals, start from this fit's turn
    best = max(range(count), key=lambda i: (free[i], -((i - turn) % count)))
    return f"cuda:{best}"


def resolve_device(device: str, owner: str) -> str:
    """Return the device a fit runs on: ``'auto'`` resolved, others checked."""
    if device == "auto":
        return auto_device()
    expected = "'auto', 'cpu', 'cuda' or 'cuda:N'"
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(expected_got(owner, f"device={device!r}", expected)) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(expected_got(owner, f"device={device!r}", expected))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            expected_got(
                owner,
                f"device={device!r}",
                "a device that exists here",
                "CUDA is not available; use 'auto' or 'cpu'.",
            )
        )
    return str(dev)
