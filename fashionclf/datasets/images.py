"""Pictures of garments as Fashion-MNIST rows: the dataset's own conversion.

Fashion-MNIST was made from Zalando's product shots by a fixed conversion
(Xiao, Rasul and Vollgraf 2017, section 2): trim the edges close to the colour
of the corner pixels, resize the longest edge to 28, sharpen, extend the
shortest edge to 28 with the article centred, negate, 8-bit grayscale.
:func:`~fashionclf.datasets.images.fashion_mnist_image` applies it to one
picture, so a model trained on the dataset sees a photo as it saw its training
images: a light article on a black background, aspect ratio kept, background at
0, brightest pixel at 255 (as in every image of the dataset: all 10,000 test
images peak at 250-255). Two choices differ from the paper's list, by
measurement on rendered product shots (:doc:`/user_guide/benchmarks`): the
article's contrast is stretched to that full range (a navy shirt on white is
otherwise dimmer than any training image), and sharpening is off by default
(``sharpen=True`` restores it).

- ``background='auto'`` reads the background from the corners: a light one
  (a product shot on white) is negated, a dark one (an image already in the
  dataset's form) is not; ``'light'`` / ``'dark'`` force either. A picture
  with transparency is treated as a shot on white (its transparent pixels
  are the background).
- ``method='resize'`` instead squashes the whole picture to 28x28 (what
  fashionclf did before), negated only for ``background='light'``.

Files are treated as untrusted: only PNG, JPEG and (where Pillow reads it) WebP
are opened, whatever the file name says; an image larger than
:data:`MAX_IMAGE_PIXELS` is refused from its header before any pixel is
decoded, and so is a JPEG of more than :data:`MAX_JPEG_SCANS` scans (its
decoding time grows with each scan); an unreadable EXIF block is a
:class:`~fashionclf.DataFormatError`; 16-bit images are scaled (not clipped) to
8 bits; transparency (alpha below 255, or a PNG ``tRNS`` colour that some pixel
has) is composited onto the background, while an alpha band that is opaque
everywhere reads exactly as no alpha; EXIF orientation is applied (phones store
portrait shots sideways).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError, features

from ..exceptions import DataFormatError

__all__ = [
    "BACKGROUNDS",
    "FORMATS",
    "MAX_IMAGE_PIXELS",
    "MAX_JPEG_SCANS",
    "fashion_mnist_image",
    "read_image_folder",
    "read_images",
]

#: The formats ``read_images`` opens; anything else is refused.
FORMATS = ("PNG", "JPEG", *(("WEBP",) if features.check("webp") else ()))
#: File name endings of images (for folders given to the command line).
SUFFIXES = (".png", ".jpg", ".jpeg", *((".webp",) if "WEBP" in FORMATS else ()))
#: Largest image accepted (width x height): 4096 x 4096.
MAX_IMAGE_PIXELS = 4096 * 4096
#: ``background`` choices.
BACKGROUNDS = ("auto", "light", "dark")
#: Colour distance from the corners, as a share of the largest distance in RGB
#: space, below which a pixel counts as background (the paper's 5%).
TRIM_TOLERANCE = 0.05

_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}


def read_images(
    images: Iterable,
    *,
    background: Literal["auto", "light", "dark"] = "auto",
    method: Literal["fashion-mnist", "resize"] = "fashion-mnist",
) -> np.ndarray:
    """Convert pictures of garments to flat uint8 Fashion-MNIST rows ``(n, 784)``.

    Parameters
    ----------
    images : iterable
        File paths (PNG, JPEG, WebP), PIL images, or arrays ``(H, W)`` /
        ``(H, W, 3 or 4)`` of uint8, of any size.
    background : {'auto', 'light', 'dark'}, default='auto'
        The picture's background: read from its corners (``'auto'``), or
        forced. A light background is negated, so the article ends light on
        black, as in the dataset.
    method : {'fashion-mnist', 'resize'}, default='fashion-mnist'
        The dataset's conversion (trim, keep the aspect ratio, centre,
        negate, stretch the contrast; see
        :func:`~fashionclf.datasets.images.fashion_mnist_image`), or a plain
        resize of the whole picture to 28x28.

    Returns
    -------
    ndarray of uint8, shape (n, 784)

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    DataFormatError
        A file is not a readable image of an accepted format, has more than
        ``MAX_IMAGE_PIXELS`` pixels, or is all background.
    ValueError
        ``background`` or ``method`` is not one of the choices.

    Examples
    --------
    >>> import numpy as np
    >>> from fashionclf.datasets import read_images
    >>> shot = np.full((300, 200), 255, np.uint8)  # a white canvas, portrait
    >>> shot[60:240, 50:150] = 0  # a black article
    >>> row = read_images([shot])[0].reshape(28, 28)
    >>> int(row[0, 0]), int(row[14, 14])  # background 0, article light
    (0, 255)
    """
    if background not in BACKGROUNDS:
        raise ValueError(
            f"read_images received background={background!r}; expected one of "
            f"{list(BACKGROUNDS)}."
        )
    if method not in ("fashion-mnist", "resize"):
        raise ValueError(
            f"read_images received method={method!r}; expected 'fashion-mnist' or "
            "'resize'."
        )
    rows = [_convert(image, background, method) for image in images]
    if not rows:
        return np.empty((0, 784), np.uint8)
    return np.stack(rows).reshape(len(rows), 784)


def read_image_folder(
    folder: str | os.PathLike[str],
    *,
    background: Literal["auto", "light", "dark"] = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of class subfolders of pictures, as torchvision's ImageFolder.

    ``folder/sandal/001.jpg`` is a picture of class ``'sandal'``. Pictures
    are the files whose names end in ``SUFFIXES``, converted by
    :func:`read_images`; other files are ignored, subfolders are classes
    (sorted by name).

    Parameters
    ----------
    folder : path-like
    background : {'auto', 'light', 'dark'}, default='auto'
        As in :func:`read_images`.

    Returns
    -------
    X : ndarray of uint8, shape (n, 784)
    y : ndarray of str, shape (n,)
        The subfolder (class) names.

    Raises
    ------
    FileNotFoundError
        ``folder`` is not a folder.
    DataFormatError
        It has no class subfolders, a class subfolder has no pictures, or a
        picture cannot be read (the message names the file).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of class subfolders.")
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataFormatError(
            f"{root}: holds no subfolders; expected one subfolder of pictures per "
            "class (folder/CLASS/picture.jpg), as torchvision's ImageFolder reads."
        )
    rows, labels = [], []
    for sub in classes:
        files = sorted(
            p
            for p in sub.iterdir()
            if p.is_file() and p.name.lower().endswith(SUFFIXES)
        )
        if not files:
            raise DataFormatError(
                f"{sub}: class folder {sub.name!r} holds no pictures "
                f"({', '.join(SUFFIXES)})."
            )
        rows.append(read_images(files, background=background))
        labels += [sub.name] * len(files)
    return np.concatenate(rows), np.array(labels)


def _convert(image, background: str, method: str) -> np.ndarray:
    name = _name(image)
    if isinstance(image, Image.Image):
        return _from_picture(image, background, method, name)
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise DataFormatError(
                f"{name}: an array of dtype {image.dtype} and shape {image.shape}; "
                "expected uint8 (H, W) grayscale or (H, W, 3 or 4) RGB(A)."
            )
        return _from_picture(Image.fromarray(image), background, method, name)
    if not os.path.isfile(image):
        raise FileNotFoundError(f"{image}: no such image file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(image, formats=FORMATS) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DataFormatError(
                        f"{image}: image is {width}x{height} pixels; expected at most "
                        f"{MAX_IMAGE_PIXELS:,} pixels (e.g. 4096x4096). Downscale it "
                        "first."
                    )
                if img.format == "JPEG":
                    _check_scans(image)
                try:  # phones store shots sideways
                    upright = ImageOps.exif_transpose(img)
                except Exception as exc:  # any failure of it: a bad EXIF block
                    raise DataFormatError(
                        f"{image}: its EXIF block is unreadable "
                        f"({type(exc).__name__}: {exc}); expected a well-formed "
                        "image file."
                    ) from exc
                return _from_picture(upright, background, method, name)
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
            f"{image}: not a readable image ({exc}); expected a "
            f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]} file."
        ) from exc


#: Most scans a JPEG may hold. Decode time grows with the scan count, not the
#: pixel count (a progressive JPEG of a few hundred KiB can hold 40,000 empty
#: scans); libjpeg-turbo's tools recommend a limit of 500. Encoders write 10.
MAX_JPEG_SCANS = 256


def _check_scans(path) -> None:
    """Refuse a JPEG of more than :data:`MAX_JPEG_SCANS` scans, before decoding.

    Counts the start-of-scan markers (``FF DA``): inside entropy-coded data an
    ``FF`` byte is always followed by ``00``, so the count is never too low
    (a scan of an embedded thumbnail counts too).
    """
    with open(path, "rb") as fh:
        scans = fh.read().count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise DataFormatError(
            f"{path}: a JPEG of {scans:,} scans; expected at most "
            f"{MAX_JPEG_SCANS} (decoding time grows with each scan). Re-encode it."
        )


def _name(image) -> str:
    if isinstance(image, str | os.PathLike):
        return os.fsdecode(image)
    return f"{type(image).__name__} image"


def _from_picture(img: Image.Image, background, method: str, name: str):
    if method == "resize":
        light = background == "light"
        gray = _flatten(img, on=255 if light else 0)
        gray = gray.resize((28, 28), Image.Resampling.LANCZOS)
        out = np.asarray(gray, dtype=np.uint8)
        return 255 - out if light else out
    return fashion_mnist_image(img, background=background, name=name)


def fashion_mnist_image(
    img: Image.Image,
    *,
    background: Literal["auto", "light", "dark"] = "auto",
    resample: Literal["lanczos", "box", "nearest"] = "nearest",
    sharpen: bool = False,
    stretch: bool = True,
    name: str = "image",
) -> np.ndarray:
    """Convert one picture the way Fashion-MNIST was made; return ``(28, 28)`` uint8.

    1. Find the background colour: the median of the four corner pixels (a
       picture with transparency: white).
    2. Trim the edges whose pixels lie within ``TRIM_TOLERANCE`` (5%) of the
       largest RGB distance from that colour.
    3. Resize the longest edge to 28 by subsampling (``resample='nearest'``,
       as the paper did; measured best of nearest, box and Lanczos on
       rendered product shots, see :doc:`/user_guide/benchmarks`).
    4. If ``sharpen``, sharpen (an unsharp mask of radius 1, as the paper's
       Gaussian of radius and standard deviation 1). Off by default: on
       rendered shots it widened the gap to the rows
       (:doc:`/user_guide/benchmarks`); untested on real photographs.
    5. Extend the shortest edge to 28 with the article centred.
    6. Negate if the background is light, then map the background to 0.
    7. If ``stretch``, scale the article so that its brightest pixel is
       255, as in every dataset image; keep 8 bits.

    Raises :class:`~fashionclf.DataFormatError` naming ``name`` if nothing but
    background is left after trimming.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image
    >>> from fashionclf.datasets.images import fashion_mnist_image
    >>> shot = np.full((200, 150, 3), 240, np.uint8)  # off-white
    >>> shot[40:160, 30:120] = (40, 40, 140)  # a navy article
    >>> out = fashion_mnist_image(Image.fromarray(shot))
    >>> out.shape, int(out[0, 0]), int(out.max())
    ((28, 28), 0, 255)
    """
    if background not in BACKGROUNDS:
        raise ValueError(
            f"fashion_mnist_image received background={background!r}; expected one "
            f"of {list(BACKGROUNDS)}."
        )
    transparent = _is_transparent(img)
    on = 0 if background == "dark" else 255  # transparency: a shot on white
    flat = np.asarray(_flatten(img, on, mode="RGB"))  # composited once, read twice
    corners = np.stack([flat[0, 0], flat[0, -1], flat[-1, 0], flat[-1, -1]])
    colour = np.full(3, float(on)) if transparent else np.median(corners, axis=0)
    # squared distance from the background colour, one channel at a time in
    # float32: a 4096x4096 picture needs two 64 MB planes, not 400 MB copies
    distance2 = np.zeros(flat.shape[:2], np.float32)
    for c in range(3):
        distance2 += np.square(flat[..., c].astype(np.float32) - np.float32(colour[c]))
    foreground = distance2 > (TRIM_TOLERANCE * 255) ** 2 * 3
    del distance2
    if transparent:
        foreground |= np.asarray(img.convert("RGBA").getchannel("A")) > 0
    rows, cols = (
        np.flatnonzero(foreground.any(axis=1)),
        np.flatnonzero(foreground.any(axis=0)),
    )
    del foreground
    if rows.size == 0:
        raise DataFormatError(
            f"{name}: the picture is all background (every pixel within 5% of the "
            "corners' colour); expected an article on a plain background."
        )
    crop = flat[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    gray = Image.fromarray(np.ascontiguousarray(crop), "RGB").convert("L")
    del flat
    level = float(np.dot(colour, [0.299, 0.587, 0.114]))  # the background's grey
    light = background == "light" or (background == "auto" and level >= 127.5)
    w, h = gray.size
    scale = 28 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = gray.resize(size, _RESAMPLE[resample])
    if sharpen:
        small = small.filter(
            ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0)
        )
    canvas = Image.new("L", (28, 28), round(level))
    canvas.paste(small, ((28 - size[0]) // 2, (28 - size[1]) // 2))
    pixels = np.asarray(canvas, dtype=np.float64)
    if light:  # negate: the background goes to 0, the article up
        out = (level - pixels) * 255 / max(level, 1.0)
    else:
        out = (pixels - level) * 255 / max(255 - level, 1.0)
    out = np.clip(out, 0, 255)
    peak = out.max()
    if stretch and peak > 0:
        out *= 255 / peak
    return np.rint(out).astype(np.uint8)  # within 0-255 already


def _is_transparent(img: Image.Image) -> bool:
    """Whether any pixel is (partly) transparent: decided by the values, not the mode.

    An alpha band that is 255 everywhere (what many tools export) or a PNG
    ``tRNS`` colour that no pixel has is no transparency: such a picture
    reads exactly as the same picture without alpha.
    """
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = img.getchannel(img.mode[-1])
    elif img.mode == "PA" or "transparency" in img.info:
        alpha = img.convert("RGBA").getchannel("A")
    else:
        return False
    lowest = alpha.getextrema()[0]  # (min, max) of one 8-bit band
    return int(lowest) < 255  # type: ignore[arg-type]


def _flatten(img: Image.Image, on: int, mode: str = "L") -> Image.Image:
    """``mode`` at 8 bits: 16-bit scaled, transparency composited onto grey ``on``."""
    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img)
        if wide.dtype != np.uint16:  # mode 'I': 32-bit values, kept to 16 bits
            wide = np.clip(wide, 0, 65535)
        # round(v * 255 / 65535) in integers: v / 257 is never half-way
        scaled = ((wide.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        del wide
        return Image.fromarray(scaled).convert(mode)
    if _is_transparent(img):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (on, on, on, 255))
        return Image.alpha_composite(base, rgba).convert(mode)
    return img.convert(mode)  # an opaque alpha band is dropped
