"""Named configurations of FashionCNNClassifier (measured: the benchmarks page).

- ``'reference'``: the parameters ``FashionCNNClassifier()`` had before the
  time-to-accuracy work, frozen: the yardstick for speed ratios.
- ``'fast'``: the default (compact) network with one conv per block, no
  augmentation, 5 epochs at a peak learning rate of 6e-3.
- ``'default'``: ``FashionCNNClassifier()`` as constructed with no arguments
  (``precision='auto'``: bfloat16 autocast where the CPU has native bf16,
  AMX or AVX512-BF16, or on a GPU; float32 elsewhere).
- ``'best'``: the default network trained 4x longer (40 epochs) at a peak
  learning rate of 6e-3, with flip test-time augmentation: about 1.4-1.8x
  the reference's fit time where bf16 is native, about 2.6x elsewhere.
- ``'small'``: the user's original architecture (Conv 32 -> Dense 32).
- ``'tiny'``: for smoke tests and examples on the bundled sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported in make_cnn: the names load without torch
    from .classifier import FashionCNNClassifier

__all__ = ["PRESETS", "REFERENCE", "make_cnn"]

# The parameters of ``FashionCNNClassifier()`` before the time-to-accuracy work
# (10 epochs of the 2x2-conv network): the yardstick that speed figures are
# ratios against. Spelled out in full and never changed, whatever the defaults
# become; parameters added later get the value that reproduces this training.
REFERENCE: dict[str, Any] = {
    "architecture": "cnn",
    "n_blocks": 2,
    "width": 32,
    "convs_per_block": 2,
    "dense_units": 128,
    "dropout": 0.25,
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 1e-2,
    "lr_schedule": "onecycle",
    "batch_size": 256,
    "max_epochs": 10,
    "augment": True,
    "label_smoothing": 0.0,
    "validation_fraction": 0.0,
    "early_stopping": False,
    "n_iter_no_change": 5,
    "standardize": True,
    "pixel_range": (0, 255),
    "image_shape": (1, 28, 28),
    "tta": False,
    "precision": "float32",
    "quantize": False,
    "module": None,
    "module_params": None,
    "class_weight": None,
}

PRESETS: dict[str, dict[str, Any]] = {
    "reference": REFERENCE,
    "tiny": {
        **REFERENCE,
        "max_epochs": 1,
        "width": 8,
        "dense_units": 32,
        "batch_size": 128,
    },
    "fast": {"convs_per_block": 1, "augment": False, "max_epochs": 5, "lr": 6e-3},
    "default": {},
    "best": {"max_epochs": 40, "lr": 6e-3, "tta": True},
    "small": {
        "architecture": "small",
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
    """Build a :class:`~fashionclf.FashionCNNClassifier` from a named preset.

    Parameters
    ----------
    preset : str, default='default'
        One of ``PRESETS``: 'tiny', 'fast', 'default', 'best', 'small'.
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
    from .classifier import FashionCNNClassifier

    if preset not in PRESETS:
        raise ValueError(
            f"make_cnn received preset={preset!r}; expected one of {sorted(PRESETS)}."
        )
    return FashionCNNClassifier(**{**PRESETS[preset], **overrides})
