"""Read PNG/JPEG files as Fashion-MNIST-style pixel rows.

Images are converted to 8-bit grayscale and resized to 28x28 (Lanczos).
Fashion-MNIST shows light articles on a black background; photos of dark
articles on a light background should be read with ``invert=True``.

Files are treated as untrusted: only PNG and JPEG are opened (whatever the
file name says), an image larger than :data:`MAX_IMAGE_PIXELS` is refused
from its header before any pixel is decoded, 16-bit images are scaled (not
clipped) to 8 bits, and transparent pixels are composited onto the
background (black; white with ``invert=True``, which then becomes black).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..exceptions import DataFormatError

__all__ = ["FORMATS", "MAX_IMAGE_PIXELS", "read_images"]

#: The formats ``read_images`` opens; anything else is refused.
FORMATS = ("PNG", "JPEG")
#: Largest image accepted (width x height): 4096 x 4096.
MAX_IMAGE_PIXELS = 4096 * 4096

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


def read_images(
    paths: Sequence[str | os.PathLike[str]], *, invert: bool = False
) -> np.ndarray:
    """Load image files as flat uint8 rows ``(n, 784)``.

    Parameters
    ----------
    paths : sequence of path-like
        PNG or JPEG files (any mode: grayscale, RGB, palette, 16-bit,
        with or without alpha).
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
        A file is not a readable PNG or JPEG, or it has more than
        ``MAX_IMAGE_PIXELS`` pixels.
    """
    rows = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such image file.")
        arr = _read_one(path, invert)
        rows.append(255 - arr if invert else arr)
    return (
        np.stack(rows).reshape(len(rows), 784) if rows else np.empty((0, 784), np.uint8)
    )


def _read_one(path: str | os.PathLike[str], invert: bool) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DataFormatError(
                        f"{path}: image is {width}x{height} pixels; expected at most "
                        f"{MAX_IMAGE_PIXELS:,} pixels (e.g. 4096x4096). Downscale it "
                        "first."
                    )
                upright = ImageOps.exif_transpose(img)  # phones store shots sideways
                gray = _to_gray(upright, background=255 if invert else 0)
                gray = gray.resize((28, 28), Image.Resampling.LANCZOS)
                return np.asarray(gray, dtype=np.uint8)
    except DataFormatError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise DataFormatError(
            f"{path}: not a readable image ({exc}); expected a PNG or JPEG file."
        ) from exc


def _to_gray(img: Image.Image, background: int) -> Image.Image:
    """8-bit grayscale: 16-bit scaled, transparency composited on ``background``."""
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img, dtype=np.float64)
        scaled = np.clip(np.rint(wide * (255 / 65535)), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled)
    # alpha bands, or a tRNS chunk naming a transparent colour (palette,
    # grayscale and RGB PNGs alike)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (background, background, background, 255))
        return Image.alpha_composite(base, rgba).convert("L")
    return img.convert("L")
