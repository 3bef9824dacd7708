"""The one codec of a trained net's state: model files, pickles and checkpoints.

:func:`net_state` turns a trained skorch net into plain containers and CPU
tensors (weights, optimizer state, schedule position, and optionally the
epoch history); :func:`restore_net_state` puts that back into a net built
by :func:`~.construction.build_net`. ``save`` / ``load`` (through
:mod:`fashionclf.serialization`), pickling, and the per-epoch checkpoints
(:class:`EpochCheckpoint`, :func:`resume_from_checkpoint`) all use this pair,
so there is one description of what a trained net is.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.history import History

from .._utils.atomic import atomic_write, sweep_stale
from .schedule import schedule_position, set_schedule_position
from .tensorfile import MAX_HEADER_BYTES, read_metadata

__all__ = [
    "CHECKPOINT_MAX_AGE_S",
    "EpochCheckpoint",
    "checkpoint_file",
    "first_non_finite",
    "net_state",
    "plain",
    "restore_net_state",
    "resume_from_checkpoint",
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


class EpochCheckpoint(Callback):
    """Write a resumable checkpoint after every epoch (atomically).

    It holds the module and optimizer states, the history and the
    learning-rate schedule position; the random streams are seeded per epoch
    (see :class:`Net`), so a resumed fit on the CPU ends with the same
    weights as an uninterrupted one.

    Parameters
    ----------
    path : str
        Checkpoint file.
    fingerprint : str
        Hash of the estimator parameters and training data; a checkpoint with
        another fingerprint is never resumed from.
    """

    def __init__(self, path: str, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint

    def on_epoch_end(self, net, **kwargs) -> None:
        """Save the state after this epoch."""
        payload = {"fingerprint": self.fingerprint, **net_state(net, history=True)}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        atomic_write(self.path, lambda tmp: torch.save(payload, tmp))


#: Per-fit checkpoints in a checkpoint folder older than this are deleted.
CHECKPOINT_MAX_AGE_S = 7 * 24 * 3600.0


def checkpoint_file(checkpoint_path: str | os.PathLike[str], fingerprint: str) -> str:
    """Return the file a fit checkpoints to: ``checkpoint_path``, or one inside it.

    For an existing folder, ``<folder>/fit-<fingerprint>.ckpt``, after deleting
    the folder's checkpoints (and temporary files) older than
    :data:`CHECKPOINT_MAX_AGE_S`: those of searches abandoned long ago.
    """
    path = os.fspath(checkpoint_path)
    if not os.path.isdir(path):
        if os.path.exists(path):
            _check_is_checkpoint(path)
        return path
    sweep_stale(path, CHECKPOINT_MAX_AGE_S, pattern="fit-*.ckpt")
    sweep_stale(path)
    return os.path.join(path, f"fit-{fingerprint}.ckpt")


def _check_is_checkpoint(path: str) -> None:
    """Refuse an existing file that is not a checkpoint of this library."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch archive, or not weights-only data
        payload, reason = None, f"unreadable as a checkpoint: {type(exc).__name__}"
        try:  # a model file (safetensors) says what it is in its header
            if "format" in read_metadata(path, max_header_bytes=MAX_HEADER_BYTES):
                reason = "a model file written by save"
        except (ValueError, OSError):
            pass
    else:
        reason = (
            "a model file written by save"
            if isinstance(payload, dict) and ("format" in payload)
            else "no fingerprint"
        )
    if not (isinstance(payload, dict) and "fingerprint" in payload):
        raise ValueError(
            f"checkpoint_path={path!r} is an existing file that is not a fashionclf "
            f"checkpoint ({reason}); it is left as it is. Point checkpoint_path at "
            "a new file or a folder."
        )


def resume_from_checkpoint(net, path: str, fingerprint: str) -> int:
    """Load a matching checkpoint into an initialised net; return epochs done."""
    if not os.path.isfile(path):
        return 0
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("fingerprint") != fingerprint:
        return 0
    restore_net_state(net, payload, payload["history"])
    return len(net.history)
