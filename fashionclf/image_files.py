"""Read PNG/JPEG files as Fashion-MNIST-style pixel rows.

Images are converted to 8-bit grayscale and resized to 28x28 (Lanczos).
Fashion-MNIST shows light articles on a black background; photos of dark
articles on a light background should be read with ``invert=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from .exceptions import DataFormatError

__all__ = ["read_images"]


def read_images(
    paths: Sequence[str | os.PathLike[str]], *, invert: bool = False
) -> np.ndarray:
    """Load image files as flat uint8 rows ``(n, 784)``.

    Parameters
    ----------
    paths : sequence of path-like
        PNG, JPEG or any format Pillow reads.
    invert : bool, default=False
        Use ``255 - pixel`` (for dark objects on a light background).

    Returns
    -------
    ndarray of uint8, shape (n, 784)

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    DataFormatError
        A file is not a readable image.
    """
    rows = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such image file.")
        try:
            with Image.open(path) as img:
                gray = img.convert("L").resize((28, 28), Image.Resampling.LANCZOS)
                arr = np.asarray(gray, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DataFormatError(
                f"{path}: not a readable image ({exc}); expected a PNG or JPEG file."
            ) from exc
        rows.append(255 - arr if invert else arr)
    return (
        np.stack(rows).reshape(len(rows), 784) if rows else np.empty((0, 784), np.uint8)
    )
