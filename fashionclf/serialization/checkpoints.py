"""Per-epoch checkpoints of a fit: written, found and resumed from, in one module.

With ``checkpoint_path``, a fit writes :class:`EpochCheckpoint` files (the
trained net's state, :func:`~fashionclf._estimator.codec.net_state`, plus
the epoch history and a :func:`fingerprint` of the parameters and data);
:func:`checkpoint_file` names the file (one per fit inside a folder, after
sweeping stale ones) and :func:`resume_from_checkpoint` continues from a
matching one. Checkpoints are torch weights-only archives; model files are
:mod:`.modelfile`'s.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
from skorch.callbacks import Callback

from .._estimator.codec import net_state, restore_net_state
from .._utils.atomic import atomic_write, sweep_stale
from .container import MAX_HEADER_BYTES, read_metadata

__all__ = [
    "CHECKPOINT_MAX_AGE_S",
    "EpochCheckpoint",
    "checkpoint_file",
    "fingerprint",
    "resume_from_checkpoint",
]


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


def fingerprint(params: dict[str, Any], *arrays: torch.Tensor | None) -> str:
    """Hash of the parameters that shape training, and of the data."""
    skip = {"verbose", "checkpoint_path", "num_threads", "device", "callbacks"}
    items = sorted((k, repr(v)) for k, v in params.items() if k not in skip)
    h = hashlib.blake2b(repr(items).encode(), digest_size=16)
    for array in arrays:
        if array is not None:
            h.update(array.numpy().tobytes())
    return h.hexdigest()
