"""A frozen patch-whitening stem: ``FashionCNNClassifier(stem='whitened')``.

The CIFAR-10 speed runs (airbench) replace the learned first convolution
by a fixed one: the eigenvectors of the covariance of the training images'
patches, with both signs, each scaled by one over the square root of its
eigenvalue. The first layer then hands the next ones decorrelated inputs
from the first step on, and it costs no backward pass: it is the only
convolution whose input needs no gradient, so without a weight gradient
autograd skips it entirely. On Fashion-MNIST (``benchmarks/RESULTS.md``) the
compact network trained about a fifth faster per epoch this way at the same
or better accuracy.

:func:`freeze_stem` runs whenever the net is built (fit, load, unpickling),
so a loaded model's ``partial_fit`` keeps the stem fixed too;
:func:`whiten_stem` sets the filters once, at the first epoch of a fit from
scratch (with ``init_from`` the stem keeps the source's weights, frozen).
"""

from __future__ import annotations

import math

import torch

from .._utils.messages import expected_got

__all__ = ["STEMS", "freeze_stem", "stem_conv", "whiten_stem", "whitening_filters"]

#: Values of ``stem``.
STEMS = ("learned", "whitened")

#: Images whose patches estimate the covariance (evenly spaced over the data).
MAX_IMAGES = 10_000

#: Added to the eigenvalues before scaling, so near-constant directions of
#: the patches are not blown up.
EPS = 1e-2


def stem_conv(module: torch.nn.Module, owner: str) -> torch.nn.Conv2d:
    """Return the first ``Conv2d`` of ``module`` (registration order), checked.

    Whitening yields two filters (both signs) per eigenvector of the
    ``C * kh * kw`` patch covariance, so the convolution needs an even number
    of output channels, at most twice that dimension, and ``groups=1``.
    """
    conv = next((m for m in module.modules() if isinstance(m, torch.nn.Conv2d)), None)
    if conv is None:
        raise ValueError(
            expected_got(
                owner,
                f"stem='whitened' for a network without a Conv2d "
                f"({type(module).__name__})",
                "a network whose first convolution is a torch.nn.Conv2d",
                "Use stem='learned'.",
            )
        )
    c, kh, kw = conv.weight.shape[1:]
    dim = c * kh * kw
    if conv.groups != 1 or conv.out_channels % 2 or conv.out_channels > 2 * dim:
        raise ValueError(
            expected_got(
                owner,
                f"stem='whitened' with a first convolution of {conv.out_channels} "
                f"filters of {c}x{kh}x{kw} (groups={conv.groups})",
                f"an even number of filters, at most {2 * dim} (two per "
                f"dimension of its {c}x{kh}x{kw} patches), and groups=1",
                "architecture='compact' has a stem of width // 2 filters (16 for "
                "the default width=32); else use stem='learned'.",
            )
        )
    return conv


def whitening_filters(images: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """Whitening filters for ``conv`` from standardized ``images`` ``(N, C, H, W)``.

    The top ``out_channels / 2`` eigenvectors of the covariance of all
    ``kh x kw`` patches of up to :data:`MAX_IMAGES` images (evenly spaced),
    each divided by ``sqrt(eigenvalue + EPS)``, then the same filters
    negated. Returns a tensor of ``conv.weight``'s shape and dtype.
    """
    images = images[:: max(1, math.ceil(len(images) / MAX_IMAGES))]
    dim = conv.weight[0].numel()
    total = torch.zeros(dim, dtype=torch.float64)
    outer = torch.zeros(dim, dim, dtype=torch.float64)
    count = 0
    for chunk in torch.split(images, 1000):
        patches = torch.nn.functional.unfold(
            chunk.to("cpu", torch.float32),
            conv.kernel_size,
            dilation=conv.dilation,
        )  # (n, dim, positions)
        patches = patches.transpose(1, 2).reshape(-1, dim).double()
        total += patches.sum(0)
        outer += patches.T @ patches
        count += len(patches)
    mean = total / count
    values, vectors = torch.linalg.eigh(outer / count - torch.outer(mean, mean))
    n_pairs = conv.out_channels // 2
    values, vectors = values.flip(0)[:n_pairs], vectors.flip(1)[:, :n_pairs]
    filters = (vectors / torch.sqrt(values.clamp_min(0) + EPS)).T
    filters = filters.reshape(n_pairs, *conv.weight.shape[1:])
    return torch.cat([filters, -filters]).to(conv.weight.dtype)


def whiten_stem(
    module: torch.nn.Module, images: torch.Tensor, mean: float, std: float, owner: str
) -> None:
    """Set the first convolution of ``module`` to whitening filters of ``images``.

    ``images`` are the training images as the estimator scales them; ``mean``
    and ``std`` standardize them as the network's input layer does.
    """
    conv = stem_conv(module, owner)
    filters = whitening_filters((images - mean) / std, conv)
    with torch.no_grad():
        conv.weight.copy_(filters)


def freeze_stem(module: torch.nn.Module, owner: str) -> None:
    """Stop gradients to the first convolution's weights (its bias still trains)."""
    stem_conv(module, owner).weight.requires_grad_(False)
