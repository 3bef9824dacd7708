"""Named configurations of FashionCNNClassifier, measured in benchmarks/RESULTS.md.

- ``'fast'``: one conv per block, no augmentation, 6 epochs.
- ``'default'``: ``FashionCNNClassifier()`` as constructed with no arguments.
- ``'best'``: the default network trained 2.4x longer (24 epochs), with flip
  test-time augmentation. (A wider network, 48/96 channels, needs about
  2.25x the convolution FLOPs per image: too slow for a 45-minute budget
  on a 2-core CPU without native bf16.)
- ``'seed'``: the user's original architecture (Conv 32 -> Dense 32).
- ``'tiny'``: for smoke tests and examples on the bundled sample.
"""

from __future__ import annotations

from typing import Any

from .classifier import FashionCNNClassifier

__all__ = ["PRESETS", "make_cnn"]

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"max_epochs": 1, "width": 8, "dense_units": 32, "batch_size": 128},
    "fast": {
        "max_epochs": 6,
        "width": 32,
        "convs_per_block": 1,
        "dense_units": 128,
        "augment": False,
    },
    "default": {},
    "best": {"max_epochs": 24, "tta": True},
    "seed": {
        "architecture": "seed",
        "max_epochs": 10,
        "augment": False,
        "standardize": False,
        "lr_schedule": "constant",
        "optimizer": "adam",
        "lr": 1e-3,
        "weight_decay": 0.0,
        "dropout": 0.0,
        "batch_size": 512,
    },
}


def make_cnn(preset: str = "default", **overrides: Any) -> FashionCNNClassifier:
    """Build a :class:`FashionCNNClassifier` from a named preset.

    Parameters
    ----------
    preset : str, default='default'
        One of ``PRESETS``: 'tiny', 'fast', 'default', 'best', 'seed'.
    **overrides
        Parameters that replace the preset's (e.g. ``random_state=0``).

    Returns
    -------
    FashionCNNClassifier

    Examples
    --------
    >>> from fashionclf.presets import make_cnn
    >>> make_cnn("fast", random_state=0).width
    32
    """
    if preset not in PRESETS:
        raise ValueError(
            f"make_cnn received preset={preset!r}; expected one of {sorted(PRESETS)}."
        )
    return FashionCNNClassifier(**{**PRESETS[preset], **overrides})
