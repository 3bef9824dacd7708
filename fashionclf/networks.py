"""The CNNs, in plain PyTorch. This module imports only torch.

Two architectures, both built for any input shape ``(C, H, W)`` and number of
classes:

- :class:`SeedCNN` — the user's starting point: Conv 32@3x3 -> ReLU ->
  MaxPool 2x2 -> Flatten -> Dense 32 -> ReLU -> Dense 10 (174k parameters
  at 28x28).
- :class:`FashionCNN` — the default: ``n_blocks`` blocks of
  ``convs_per_block`` x (Conv 3x3 -> BatchNorm -> ReLU) -> MaxPool 2x2 ->
  Dropout, channels ``width * 2**block``; then Flatten -> Dense -> ReLU ->
  Dropout -> Dense. With the defaults (2 blocks, width 32, 2 convs, dense
  128) it has 468k parameters and 37 MFLOPs forward per 28x28 image.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "FashionCNN", "SeedCNN", "Standardized", "build_network"]


class SeedCNN(nn.Module):
    """Conv 32@3x3 -> ReLU -> MaxPool -> Flatten -> Dense 32 -> ReLU -> Dense.

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


class FashionCNN(nn.Module):
    """Conv-BN-ReLU blocks with max-pooling and dropout, then a dense head.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
    n_classes : int, default=10
    n_blocks : int, default=2
        Number of conv blocks; each ends in a 2x2 max-pool.
    width : int, default=32
        Channels of the first block; block ``i`` has ``width * 2**i``.
    convs_per_block : int, default=2
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
        width: int = 32,
        convs_per_block: int = 2,
        dense_units: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        c_in, _h, _w = input_shape
        layers: list[nn.Module] = []
        for block in range(n_blocks):
            c_out = width * 2**block
            for _ in range(convs_per_block):
                layers += [
                    nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(c_out),
                    nn.ReLU(inplace=True),
                ]
                c_in = c_out
            layers += [nn.MaxPool2d(2, ceil_mode=True), nn.Dropout(dropout)]
        self.features = nn.Sequential(
            *layers
        )  # (N, width*2**(n_blocks-1), H/2^b, W/2^b)
        with torch.no_grad():
            n_flat = self.features.eval()(torch.zeros(1, *input_shape)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_flat, dense_units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(dense_units, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits ``(N, n_classes)`` for images ``(N, C, H, W)``."""
        return self.head(self.features(x))


ARCHITECTURES = ("cnn", "seed")


def build_network(
    architecture: str,
    input_shape: tuple[int, int, int],
    n_classes: int,
    *,
    n_blocks: int = 2,
    width: int = 32,
    convs_per_block: int = 2,
    dense_units: int = 128,
    dropout: float = 0.25,
) -> nn.Module:
    """Build a network by name: ``'cnn'`` (:class:`FashionCNN`) or ``'seed'``.

    Size parameters apply to ``'cnn'`` only.
    """
    if architecture == "seed":
        return SeedCNN(input_shape, n_classes)
    if architecture == "cnn":
        return FashionCNN(
            input_shape,
            n_classes,
            n_blocks=n_blocks,
            width=width,
            convs_per_block=convs_per_block,
            dense_units=dense_units,
            dropout=dropout,
        )
    raise ValueError(
        f"build_network received architecture={architecture!r}; expected one of "
        f"{ARCHITECTURES}."
    )


class Standardized(nn.Module):
    """Wrap a network so its input is standardized: ``net((x - mean) / std)``.

    ``mean`` and ``std`` are buffers, so they travel with the ``state_dict``.
    """

    def __init__(self, net: nn.Module, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardize ``x`` and return the wrapped network's logits."""
        return self.net((x - self.mean) / self.std)
