"""Float inference of a trained network: batch norm folded, no autograd, in batches.

skorch's ``predict_proba`` runs the training module in eval mode through its
iterator. For a fitted model we can do less work per image:

- every ``Conv2d`` followed by a ``BatchNorm2d`` in an ``nn.Sequential`` is
  folded into one convolution, on a copy, so the trained module is
  untouched. So is Conv -> MaxPool -> BatchNorm when every channel's
  batch-norm scale is positive (then the max-pool commutes with the
  per-channel affine map). Layers called from a custom ``forward`` are left
  as they are: their order is not known without tracing;
- ``torch.inference_mode`` (no autograd bookkeeping), channels-last input
  (:class:`~fashionclf.export.PixelsToProba` converts each batch);
- a fixed batch size, so memory does not grow with the number of rows.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .locks import shared

__all__ = ["folded_copy", "forward_batches"]


def folded_copy(module: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``module`` with Conv-BN pairs folded.

    Only layers that follow each other in an ``nn.Sequential`` are folded:
    that order is known without running the module. Tracing it instead
    (``torch.fx``) would patch ``nn.Module.__call__`` for the whole process
    and corrupt any network another thread runs meanwhile.

    Parameters
    ----------
    module : torch.nn.Module
        A trained network.

    Returns
    -------
    torch.nn.Module
        For inference only: its outputs equal ``module.eval()``'s up to float
        rounding.
    """
    frozen = copy.deepcopy(module).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    for seq in [m for m in frozen.modules() if isinstance(m, nn.Sequential)]:
        _fold_sequential(seq)
    return frozen.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def _foldable(bn: nn.Module) -> bool:
    return (
        type(bn) is nn.BatchNorm2d
        and bn.track_running_stats
        and bn.running_var is not None
        and bn.running_mean is not None
    )


def _fold_sequential(seq: nn.Sequential) -> None:
    """Fold Conv2d -> BatchNorm2d and Conv2d -> MaxPool2d -> BatchNorm2d in place."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for i in range(len(seq) - 1):
        conv = seq[i]
        if type(conv) is not nn.Conv2d:
            continue
        pooled = type(seq[i + 1]) is nn.MaxPool2d and i + 2 < len(seq)
        j = i + 2 if pooled else i + 1
        bn = seq[j]
        if not _foldable(bn):
            continue
        assert isinstance(bn, nn.BatchNorm2d) and bn.running_var is not None
        weight = bn.weight if bn.affine else torch.ones_like(bn.running_var)
        if pooled and not bool((weight > 0).all()):
            continue  # max-pool commutes with x -> a*x + b only where a > 0
        seq[i], seq[j] = fuse_conv_bn_eval(conv, bn), nn.Identity()


def forward_batches(
    module: nn.Module,
    X: torch.Tensor,
    *,
    batch_size: int,
    device: str = "cpu",
    amp_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Run ``module`` over ``X``, ``batch_size`` rows at a time; float32 out.

    The estimator runs its :class:`~fashionclf.export.PixelsToProba` this
    way: pixel rows in, probabilities out. On a GPU, ``X`` is pinned once
    and each batch copied without blocking; the outputs stay on the device
    and come back in one copy at the end (no synchronisation per batch).

    Parameters
    ----------
    module : torch.nn.Module
        In eval mode, on ``device``.
    X : Tensor of shape (n, ...)
    batch_size : int
    device : str, default='cpu'
    amp_dtype : torch.dtype or None, default=None
        Run under autocast to this dtype (bfloat16 or float16).

    Returns
    -------
    ndarray of shape (n, ...), float32
    """
    dev = torch.device(device)
    if dev.type == "cuda" and X.device.type == "cpu":
        X = X.pin_memory()
    out = []
    with (
        torch.inference_mode(),
        torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None),
    ):
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size].to(dev, non_blocking=True)
            with shared():
                out.append(module(xb).float())
    return torch.cat(out).cpu().numpy()
