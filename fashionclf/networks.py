"""The CNNs, in plain PyTorch. This module imports only torch.

Each architecture is registered by name with :func:`register_network`
(``ARCHITECTURES`` maps names to classes), is built for any input shape
``(C, H, W)`` and number of classes, and takes the size parameters its
signature names. The estimator's ``architecture`` choices, and what it
passes each network, come from this registry: adding a network is one
decorated class here.

- :class:`SmallCNN` (``'small'``): the smallest, ``Conv(32, 3x3)`` -> ReLU ->
  MaxPool 2x2 -> Flatten -> Dense 32 -> ReLU -> Dense 10 (174k parameters
  at 28x28).
- :class:`BlockCNN` (``'cnn'``, the ``reference`` preset's network):
  ``n_blocks`` blocks of ``convs_per_block`` x (Conv 3x3 -> BatchNorm ->
  ReLU) -> MaxPool 2x2 -> Dropout, channels ``width * 2**block``; then
  Flatten -> Dense -> ReLU -> Dropout -> Dense. With 2 blocks, width 32,
  2 convs and dense 128 it has 468k parameters and 37 MFLOPs forward per
  28x28 image.
- :class:`CompactCNN` (``'compact'``, the default): a full-resolution stem,
  then blocks of Conv -> MaxPool -> BatchNorm -> ReLU (-> Conv -> BatchNorm
  -> ReLU), global max pooling and one linear layer. With 3 blocks of width
  32 it has 293k parameters and 34 MFLOPs forward per 28x28 image.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from numbers import Integral

import torch
from torch import nn

__all__ = [
    "ARCHITECTURES",
    "SIZE_PARAMS",
    "BlockCNN",
    "CompactCNN",
    "Dropout",
    "SmallCNN",
    "Standardized",
    "build_network",
    "per_block",
    "register_network",
    "settle_batch_norm",
    "size_params",
]

#: name -> network class; filled by :func:`register_network`.
ARCHITECTURES: dict[str, type[nn.Module]] = {}

#: The estimator parameters that size a network; each network takes those its
#: ``__init__`` names.
SIZE_PARAMS = ("n_blocks", "width", "convs_per_block", "dense_units", "dropout")


def register_network(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Register a network class under ``name`` (a class decorator).

    The class is built as ``cls(input_shape, n_classes, **sizes)``, where
    ``sizes`` holds the entries of ``SIZE_PARAMS`` that its ``__init__``
    names. A name that is taken raises ``ValueError``: a network is never
    replaced silently.
    """

    def register(cls: type[nn.Module]) -> type[nn.Module]:
        taken = ARCHITECTURES.get(name)
        if taken is not None and taken is not cls:
            raise ValueError(
                f"received a network named {name!r} ({cls.__qualname__}); expected "
                f"a new name: {name!r} is {taken.__module__}.{taken.__qualname__}. "
                f"Taken: {sorted(ARCHITECTURES)}."
            )
        ARCHITECTURES[name] = cls
        return cls

    return register


class Dropout(nn.Dropout):
    """``nn.Dropout`` that draws its masks from ``generator`` when one is set.

    The trainer gives each fit its own generator, so fits running in parallel
    threads do not share torch's global RNG (and stay reproducible). With
    ``generator=None`` it is ``nn.Dropout``; it has no weights either way.
    """

    generator: torch.Generator | None = None

    def __prepare_scriptable__(self) -> nn.Dropout:
        """For ``torch.jit.script``: a plain ``nn.Dropout`` (no generator)."""
        return nn.Dropout(self.p, self.inplace).train(self.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero each element with probability ``p`` and rescale (training only)."""
        if not self.training or self.generator is None or self.p == 0:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)


@register_network("small")
class SmallCNN(nn.Module):
    """``Conv(32, 3x3)`` -> ReLU -> MaxPool -> Flatten -> Dense 32 -> ReLU -> Dense.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
    n_classes : int, default=10
    """

    def __init__(
        self, input_shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10
    ) -> None:
        super().__init__()
        c, h, w = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, kernel_size=3, padding=1 if min(h, w) < 3 else 0),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
        )
        n_flat = self.features(torch.zeros(1, c, h, w)).numel()  # 32 x 13 x 13
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(n_flat, 32), nn.ReLU(), nn.Linear(32, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``(N, n_classes)`` for images ``(N, C, H, W)``."""
        return self.head(self.features(x))


@register_network("cnn")
class BlockCNN(nn.Module):
    """Conv-BN-ReLU blocks with max-pooling and dropout, then a dense head.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
    n_classes : int, default=10
    n_blocks : int, default=2
        Number of conv blocks; each ends in a 2x2 max-pool.
    width : int or sequence of int, default=32
        Channels of the first block, block ``i`` having ``width * 2**i``; or
        the channels of each block (``n_blocks`` entries), e.g. ``(16, 64)``.
    convs_per_block : int or sequence of int, default=2
        Convolutions in each block: one count for every block, or one count
        per block (``n_blocks`` entries), e.g. ``(1, 2)`` for a single conv
        at full resolution.
    dense_units : int, default=128
    dropout : float, default=0.25
        Dropout after each block and before the last layer.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        n_classes: int = 10,
        *,
        n_blocks: int = 2,
        width: int | Sequence[int] = 32,
        convs_per_block: int | Sequence[int] = 2,
        dense_units: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        c_in, _h, _w = input_shape
        if isinstance(width, Integral):
            width = [int(width) * 2**block for block in range(n_blocks)]
        channels = per_block(width, n_blocks, "width")
        counts = per_block(convs_per_block, n_blocks, "convs_per_block")
        layers: list[nn.Module] = []
        for c_out, n_convs in zip(channels, counts, strict=True):
            for _ in range(n_convs):
                layers += [
                    nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                ]
                c_in = c_out
            layers += [nn.MaxPool2d(2, ceil_mode=True), Dropout(dropout)]
        self.features = nn.Sequential(
            *layers
        )  # (N, width*2**(n_blocks-1), H/2^b, W/2^b)
        with torch.no_grad():
            n_flat = self.features.eval()(torch.zeros(1, *input_shape)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_flat, dense_units),
            nn.ReLU(inplace=True),
            Dropout(dropout),
            nn.Linear(dense_units, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``(N, n_classes)`` for images ``(N, C, H, W)``."""
        return self.head(self.features(x))


@register_network("compact")
class CompactCNN(nn.Module):
    """A full-resolution stem, then conv blocks that pool before normalising.

    The layout of the CIFAR-10 speed-run networks (airbench's conv groups),
    sized for 28x28 images. Max-pooling right after a block's first
    convolution puts batch norm, ReLU and the following convolutions at a
    quarter of the pixels, and a global max-pool replaces the large dense
    layer: per training image it costs about 0.9x the FLOPs of
    :class:`BlockCNN`'s default and learns more per epoch.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
    n_classes : int, default=10
    n_blocks : int, default=3
        Blocks; each halves the resolution (28 -> 14 -> 7 -> 4).
    width : int or sequence of int, default=32
        Channels of the first block, doubled in each further block; or one
        count per block. The stem has half the first block's channels.
    convs_per_block : int or sequence of int, default=2
        Convolutions per block, the first one followed by the max-pool.
    dropout : float, default=0.0
        Dropout before the final linear layer.

    Notes
    -----
    Shapes for the defaults and a 28x28 input: stem (16, 28, 28); blocks
    (32, 14, 14), (64, 7, 7), (128, 4, 4); global max-pool (128,); logits.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        n_classes: int = 10,
        *,
        n_blocks: int = 3,
        width: int | Sequence[int] = 32,
        convs_per_block: int | Sequence[int] = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(width, Integral):
            width = [int(width) * 2**block for block in range(n_blocks)]
        channels = per_block(width, n_blocks, "width")
        counts = per_block(convs_per_block, n_blocks, "convs_per_block")
        c_in = max(1, channels[0] // 2)
        layers = _conv_bn_relu(input_shape[0], c_in)
        for c_out, n_convs in zip(channels, counts, strict=True):
            layers += _conv_bn_relu(c_in, c_out, pool=True)
            for _ in range(n_convs - 1):
                layers += _conv_bn_relu(c_out, c_out)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            Dropout(dropout),
            nn.Linear(c_in, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``(N, n_classes)`` for images ``(N, C, H, W)``."""
        return self.head(self.features(x))


def _conv_bn_relu(c_in: int, c_out: int, *, pool: bool = False) -> list[nn.Module]:
    """Conv 3x3 (no bias) [-> MaxPool 2x2] -> BatchNorm -> ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return [*layers, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def per_block(value: int | Sequence[int], n_blocks: int, name: str) -> list[int]:
    """Expand ``value`` (one int, or one int per block) to ``n_blocks`` ints.

    Raises ``ValueError`` unless it gives ``n_blocks`` positive ints.
    """
    counts = (
        [int(value)] * n_blocks
        if isinstance(value, Integral)
        else [int(v) for v in value]  # type: ignore[union-attr]
    )
    if len(counts) != n_blocks or min(counts, default=0) < 1:
        raise ValueError(
            f"{name}={value!r} does not fit n_blocks={n_blocks}: expected a "
            f"positive int or {n_blocks} positive ints."
        )
    return counts


def size_params(architecture: str) -> tuple[str, ...]:
    """Return the entries of ``SIZE_PARAMS`` that ``architecture`` takes.

    Read from the registered class's signature: ``'compact'`` has no hidden
    dense layer (no ``dense_units``), ``'small'`` has a fixed size (none).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"received architecture={architecture!r}; expected one of "
            f"{sorted(ARCHITECTURES)}."
        )
    accepted = inspect.signature(ARCHITECTURES[architecture]).parameters
    return tuple(p for p in SIZE_PARAMS if p in accepted)


def build_network(
    architecture: str,
    input_shape: tuple[int, int, int],
    n_classes: int,
    **sizes: int | Sequence[int] | float,
) -> nn.Module:
    """Build the network registered as ``architecture``.

    ``sizes`` holds size parameters (``SIZE_PARAMS``); each network takes
    those its signature names and ignores the rest (``'compact'`` has no
    hidden dense layer, so no ``dense_units``; ``'small'`` has a fixed size).
    """
    accepted = size_params(architecture)
    return ARCHITECTURES[architecture](
        input_shape, n_classes, **{k: v for k, v in sizes.items() if k in accepted}
    )


class Standardized(nn.Module):
    """Wrap a network so its input is standardized: ``net((x - mean) / std)``.

    ``mean`` and ``std`` are buffers, so they travel with the ``state_dict``.
    """

    def __init__(self, net: nn.Module, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize ``x`` and return the wrapped network's logits."""
        return self.net((x - self.mean) / self.std)


#: Training images the batch-norm statistics are recomputed on after a fit.
BN_SAMPLE = 4096


def settle_batch_norm(
    module: nn.Module,
    X: torch.Tensor,
    *,
    seed: int,
    batch_size: int,
    device: str,
) -> None:
    """Recompute the running batch-norm statistics of ``module`` for its weights.

    The running averages that training leaves behind (momentum 0.1) mix the
    statistics of earlier weights: after a few hundred steps they have not
    settled, and the model predicts near chance although its weights are
    good (2 epochs on 2,000 images: 10% with the running averages, about 70%
    with the recomputed ones). As :func:`torch.optim.swa_utils.update_bn`
    does, a no-grad pass over up to ``BN_SAMPLE`` training images (a
    seeded random subset, unaugmented) stores their exact mean and variance;
    unlike it, only the batch-norm layers are in training mode (dropout is
    off, so the pass draws no random numbers).
    """
    norms = [
        m
        for m in module.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    if not norms:
        return
    generator = torch.Generator().manual_seed(int(seed))
    rows = torch.randperm(len(X), generator=generator)[:BN_SAMPLE]
    if len(rows) % batch_size == 1 and len(rows) > 1:  # batch norm needs 2 rows
        rows = rows[:-1]
    was_training = module.training
    momenta = [m.momentum for m in norms]
    module.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
        norm.train()
    try:
        with torch.no_grad():
            for i in range(0, len(rows), batch_size):
                module(X[rows[i : i + batch_size]].to(device))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        module.train(was_training)
