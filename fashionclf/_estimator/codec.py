"""The one codec of a trained net's state: model files, pickles and checkpoints.

:func:`net_state` turns a trained skorch net into plain containers and CPU
tensors (weights, optimizer state, schedule position, and optionally the
epoch history); :func:`restore_net_state` puts that back into a net built
by :func:`~.construction.build_net`. Model files and checkpoints
(:mod:`fashionclf.serialization`), pickling and device moves
(:class:`~.fitted.FittedNetwork`) all use this pair, so there is one
description of what a trained net is; :func:`state_to_bytes` and
:func:`state_from_bytes` carry an int8 network's state through a pickle.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import torch
from skorch.history import History

from .schedule import schedule_position, set_schedule_position

__all__ = [
    "first_non_finite",
    "net_state",
    "plain",
    "restore_net_state",
    "state_from_bytes",
    "state_to_bytes",
]


def net_state(net, *, history: bool = False) -> dict[str, Any]:
    """Return the trained net as plain containers and CPU tensors.

    Holds the weights, the optimizer state and the learning-rate schedule's
    position (``lr_total_steps``, ``lr_step``): all ``partial_fit`` needs to
    continue as the net would have; with ``history=True`` also the epoch
    history, as plain Python values.
    """
    total, step = schedule_position(net)
    state = {
        "module": plain(net.module_.state_dict()),
        "optimizer": plain(net.optimizer_.state_dict()),
        "lr_total_steps": total,
        "lr_step": step,
    }
    if history:
        state["history"] = plain(list(net.history))
    return state


def restore_net_state(net, state: dict[str, Any], history: list) -> None:
    """Load :func:`net_state` output (and the epoch history) into a built net.

    ``state`` may lack ``'optimizer'`` (older model files): the optimizer
    then starts fresh.
    """
    net.module_.load_state_dict(state["module"], strict=True)
    if "lr_step" in state:
        set_schedule_position(net, state["lr_step"])
    if state.get("optimizer") is not None:
        net.optimizer_.load_state_dict(state["optimizer"])
    net.history = History(history)


def first_non_finite(state: dict[str, torch.Tensor]) -> str | None:
    """Name of the first floating-point tensor holding NaN or inf, or None."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def plain(obj):
    """Tensors detached on the CPU, numpy scalars as Python values, recursively.

    What ``torch.load(weights_only=True)`` and pickles take without any
    class of this library.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(plain(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def state_to_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """Serialize an int8 ``state_dict`` (for pickling the classifier)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> dict[str, torch.Tensor]:
    """Read :func:`state_to_bytes` output with the weights-only loader."""
    with warnings.catch_warnings():  # torch's own TypedStorage notice for qtensors
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(io.BytesIO(data), weights_only=True)
