"""Float inference of a trained network: batch norm folded, no autograd, in batches.

skorch's ``predict_proba`` runs the training module in eval mode through its
iterator. For a fitted model we can do less work per image:

- every ``Conv2d`` followed by a ``BatchNorm2d`` is folded into one
  convolution (``torch.fx.experimental.optimization.fuse``), on a copy, so the
  trained module is untouched; a module that torch.fx cannot trace is used
  as it is. So is Conv -> MaxPool -> BatchNorm in a ``Sequential`` when every
  channel's batch-norm scale is positive (then the max-pool commutes with
  the per-channel affine map);
- ``torch.inference_mode`` (no autograd bookkeeping), channels-last input;
- a fixed batch size, so memory does not grow with the number of rows.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn

__all__ = ["folded_copy", "predict_proba_batches"]


def folded_copy(module: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``module`` with Conv-BN pairs folded.

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
        _fold_pooled(seq)
    try:
        with warnings.catch_warnings():  # torch.jit deprecation notices on import
            warnings.simplefilter("ignore", DeprecationWarning)
            from torch.fx.experimental.optimization import fuse

            folded = fuse(frozen, inplace=True)
    except Exception:  # any module torch.fx cannot trace: keep it unfolded
        folded = frozen
    return folded.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def _fold_pooled(seq: nn.Sequential) -> None:
    """Fold Conv2d -> MaxPool2d -> BatchNorm2d runs of ``seq`` in place."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    layers = list(seq)
    for i in range(len(layers) - 2):
        conv, pool, bn = layers[i : i + 3]
        if not (
            type(conv) is nn.Conv2d
            and type(pool) is nn.MaxPool2d
            and type(bn) is nn.BatchNorm2d
            and bn.track_running_stats
            and bn.running_var is not None
        ):
            continue
        weight = bn.weight if bn.affine else torch.ones_like(bn.running_var)
        if not bool((weight > 0).all()):  # max-pool commutes with x -> a*x + b, a > 0
            continue
        seq[i] = fuse_conv_bn_eval(conv, bn)
        seq[i + 2] = nn.Identity()


def predict_proba_batches(
    module: nn.Module,
    X: torch.Tensor,
    *,
    batch_size: int,
    device: str = "cpu",
    bf16: bool = False,
) -> np.ndarray:
    """Softmax probabilities of ``module`` on images ``X``, ``batch_size`` at a time.

    Parameters
    ----------
    module : torch.nn.Module
        In eval mode, on ``device``.
    X : Tensor of shape (n, C, H, W)
    batch_size : int
    device : str, default='cpu'
    bf16 : bool, default=False
        Run under bfloat16 autocast; probabilities come back as float32.

    Returns
    -------
    ndarray of shape (n, n_classes), float32
    """
    device_type = torch.device(device).type
    out = []
    with (
        torch.inference_mode(),
        torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16),
    ):
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size].to(device)
            xb = xb.contiguous(memory_format=torch.channels_last)
            out.append(torch.softmax(module(xb).float(), dim=1).cpu())
    return torch.cat(out).numpy()
