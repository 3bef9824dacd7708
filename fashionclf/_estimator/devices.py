"""Devices: which one a fit takes, where its data lives, which precision it runs.

- :func:`resolve_device`: ``device='auto'`` resolved (also in parallel
  searches), others checked;
- :func:`available_device`: where a model fitted on some device can live here
  (unpickling on a machine with fewer GPUs, or none);
- :func:`data_placement`: whether a fit's training data moves to the GPU once,
  or goes batch by batch from pinned memory;
- :func:`resolve_precision`: ``precision='auto'`` (:func:`cpu_has_native_bf16`)
  and the devices each precision runs on.
"""

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
    free = _free_memory(count)
    # most free memory first; among equals, start from this fit's turn
    best = max(range(count), key=lambda i: (free[i], -((i - turn) % count)))
    return f"cuda:{best}"


def _free_memory(count: int) -> list[int]:
    """Free bytes of each visible GPU.

    From NVML where it can be read (``torch.cuda.device_memory_used``, with
    the ``pynvml`` package): that opens no CUDA context on any GPU. Else from
    ``torch.cuda.mem_get_info``, which opens one on each GPU it asks.
    """
    try:
        return [
            torch.cuda.get_device_properties(i).total_memory
            - torch.cuda.device_memory_used(i)
            for i in range(count)
        ]
    except Exception:  # no pynvml, or NVML not usable here
        return [torch.cuda.mem_get_info(i)[0] for i in range(count)]


def available_device(device: str) -> tuple[str, str | None]:
    """Where a model fitted on ``device`` can live here, and why, if elsewhere.

    A CUDA device this machine lacks (``'cuda:5'`` on a one-GPU machine) maps
    to ``'cuda'``; without CUDA, to ``'cpu'``.
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return device, None
    if not torch.cuda.is_available():
        return "cpu", f"{device!r} is not available here (no CUDA); loaded on the CPU"
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        return "cuda", f"{device!r} does not exist here ({count} GPU); loaded on 'cuda'"
    return device, None


#: Training data moves to the GPU once when it takes at most this share of
#: the GPU's free memory (the Fashion-MNIST training set: 188 MB as float32).
DEVICE_DATA_SHARE = 0.5


def data_placement(n_bytes: int, device: str, free_bytes: int | None = None) -> str:
    """``'device'``: move the data once; ``'pinned'``: copy each batch; ``'cpu'``.

    ``free_bytes`` is the GPU's free memory (read from the device if None).
    """
    dev = torch.device(device)
    if dev.type != "cuda":
        return "cpu"
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(dev)[0]
    return "device" if n_bytes <= DEVICE_DATA_SHARE * free_bytes else "pinned"


#: The ``precision`` choices.
PRECISIONS = ("float32", "bfloat16", "float16", "auto")


def cpu_has_native_bf16() -> bool:
    """Tell whether this CPU multiplies bfloat16 natively: AMX or AVX512-BF16.

    On such CPUs bfloat16 autocast trains and predicts faster than float32;
    without native bf16 it is slower (measured: :doc:`/user_guide/benchmarks`),
    so only these CPUs turn ``precision='auto'`` to bf16.
    """
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and bool(probe()):
                return True
        except RuntimeError:  # a torch build without the probe's backend
            continue
    return False


def resolve_precision(precision: str, device: str, owner: str) -> str:
    """Return the precision a fit or prediction on ``device`` runs in.

    ``'auto'``: bfloat16 on GPUs that support it, else float16 on GPUs;
    bfloat16 on CPUs with AMX or AVX512-BF16 (:func:`cpu_has_native_bf16`),
    else float32.
    ``'float16'`` (autocast with a gradient scaler) needs CUDA.
    """
    cuda = torch.device(device).type == "cuda"
    if precision == "auto":
        if not cuda:
            return "bfloat16" if cpu_has_native_bf16() else "float32"
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if precision == "float16" and not cuda:
        raise ValueError(
            expected_got(
                owner,
                f"precision='float16' on device={device!r}",
                "a CUDA device for float16",
                "On the CPU use 'bfloat16' (fast with AVX512-BF16 or AMX) or "
                "'float32'.",
            )
        )
    return precision


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
