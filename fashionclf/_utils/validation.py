"""Input checks shared by the transformers and the classifier.

Pixels (shape, dtype, the scaling rule), image shapes, labels and sample
weights. Messages are worded by :func:`~.messages.expected_got`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from numbers import Real

import numpy as np
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

from .messages import expected_got

IMAGE_SHAPE: tuple[int, int, int] = (1, 28, 28)


def check_pixel_range(owner: str, value) -> None:
    """Refuse a ``pixel_range`` that is not None or a finite ``(low, high)`` pair."""
    ok = value is None or (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise ValueError(
            expected_got(
                owner,
                f"pixel_range={value!r}",
                "None or a (low, high) pair of finite numbers with low < high",
            )
        )


def resolve_image_shape(
    image_shape: Sequence[int], n_features: int, owner: str
) -> tuple[int, ...]:
    """Resolve a target image shape (one entry may be -1) against ``n_features``."""
    shape = tuple(int(s) for s in image_shape)
    if (
        len(shape) == 0
        or sum(s == -1 for s in shape) > 1
        or any(s == 0 or s < -1 for s in shape)
    ):
        raise ValueError(
            expected_got(
                owner,
                f"image_shape={tuple(image_shape)!r}",
                "a tuple of positive ints with at most one -1, e.g. (1, 28, 28)",
            )
        )
    known = int(np.prod([s for s in shape if s != -1]))
    if -1 in shape:
        if n_features % known:
            raise ValueError(
                expected_got(
                    owner,
                    f"{n_features} features per sample",
                    f"a multiple of {known} to fill image_shape={shape}",
                )
            )
        shape = tuple(n_features // known if s == -1 else s for s in shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            expected_got(
                owner,
                f"{n_features} features (pixels) per sample",
                f"{int(np.prod(shape))} pixels for images of shape {shape}",
                "Colour images must be converted to grayscale first; flat rows "
                "must have exactly one value per pixel.",
            )
        )
    return shape


def flatten_images(X, owner: str, image_shape: Sequence[int] = IMAGE_SHAPE) -> object:
    """Turn ``(n, H, W)`` / ``(n, C, H, W)`` arrays into flat ``(n, C*H*W)`` rows.

    2-D inputs (arrays, DataFrames, lists) pass through unchanged. An N-D
    array must have a per-sample shape equal to ``image_shape``, or to
    ``image_shape[1:]`` for single-channel images, else ValueError.
    """
    if hasattr(X, "iloc") or not hasattr(X, "ndim") or X.ndim <= 2:
        return X
    sample = tuple(X.shape[1:])
    shape = tuple(image_shape)
    allowed = {shape}
    if len(shape) == 3 and shape[0] == 1:  # one channel: (H, W) and Keras' (H, W, 1)
        allowed |= {shape[1:], (*shape[1:], 1)}
    if -1 not in shape and sample not in allowed:
        raise ValueError(
            expected_got(
                owner,
                f"images of shape {sample} (X.shape={tuple(X.shape)})",
                " or ".join(str(a) for a in sorted(allowed, key=len)) + " per image",
                "Colour images (H, W, 3) must be converted to grayscale; "
                "channels-last images (H, W, C) of several channels must be "
                "moved to (C, H, W) first (X.transpose(0, 3, 1, 2)).",
            )
        )
    # with one channel, (H, W, 1) and (1, H, W) hold the pixels in the same order
    return np.asarray(X).reshape(X.shape[0], -1)


#: Column names that hold pixels in the dataset's own files and loaders:
#: ``pixel1`` ... ``pixel784`` (the Kaggle CSVs, ``as_frame=True``).
def dataset_pixel_names(n_features: int) -> list[str]:
    """Return the dataset's own pixel column names for ``n_features`` pixels."""
    return [f"pixel{i}" for i in range(1, n_features + 1)]


def _as_people_pass_them(X, owner: str, image_shape, est, reset: bool):
    """Accept lists of images; refuse paths, single rows and label columns clearly.

    - a list (or tuple) of 2-D or 3-D arrays is stacked into an array;
    - a path (or a list of paths) points at the picture and CSV readers;
    - a single flat row or image (1-D) asks for a batch;
    - a DataFrame with a ``label`` column names it;
    - a DataFrame whose columns are the dataset's pixel names, given to a
      model fitted without feature names (the shipped one), is taken as an
      array, silently.
    """
    first = X[0] if isinstance(X, list | tuple) and len(X) else None
    if isinstance(X, str | os.PathLike) or isinstance(first, str | os.PathLike):
        shown = str(X if first is None else first)
        if len(shown) > 80:  # keep the end: the file's own name
            shown = "..." + shown[-77:]
        raise ValueError(
            expected_got(
                owner,
                f"a file name ({shown!r})",
                "pixel rows or images (arrays or a DataFrame)",
                "Read pictures with fashionclf.datasets.read_images (or "
                "fashionclf.ImageFileReader in a pipeline), and CSV files with "
                "fashionclf.read_kaggle_csv.",
            )
        )
    if first is not None and np.ndim(first) >= 2:
        X = np.asarray(X)  # a list of (H, W) or (C, H, W) images
    n_pixels = int(np.prod([s for s in image_shape if s != -1]))
    if getattr(X, "ndim", None) == 1 or (
        first is not None and np.ndim(first) == 0 and len(X) == n_pixels
    ):
        n = len(X)
        raise ValueError(
            expected_got(
                owner,
                f"one flat row of {n} values (a 1-D array)",
                "a batch: rows of shape (n_samples, n_pixels)",
                "Reshape your data: for one image pass X.reshape(1, -1) (or X[None]).",
            )
        )
    if hasattr(X, "columns"):
        columns = [str(c) for c in X.columns]
        if "label" in (c.lower() for c in columns):
            name = next(c for c in columns if c.lower() == "label")
            raise ValueError(
                expected_got(
                    owner,
                    f"a DataFrame with a {name!r} column ({X.shape[1]} columns)",
                    "pixel columns only",
                    f"Drop the labels first: X = df.drop(columns={name!r}); "
                    f"y = df[{name!r}].",
                )
            )
        fitted_names = getattr(est, "feature_names_in_", None)
        pixel_names = dataset_pixel_names(len(columns))
        if (
            not reset
            and fitted_names is None
            and hasattr(est, "n_features_in_")
            and sorted(columns) == sorted(pixel_names)
        ):
            if columns != pixel_names:  # sorted by name, or by a round trip
                warnings.warn(
                    f"{owner} received the dataset's pixel columns (pixel1 ... "
                    f"pixel{len(columns)}) in another order (first: "
                    f"{', '.join(columns[:3])}); they were put in pixel order. "
                    "To skip this, pass X[[f'pixel{i}' for i in range(1, "
                    f"{len(columns) + 1})]].",
                    UserWarning,
                    stacklevel=4,
                )
                X = X.select(pixel_names) if hasattr(X, "select") else X[pixel_names]
            X = X.to_numpy()  # the dataset's own names: no feature-name warning
    return X


def check_pixels(
    est,
    X,
    *,
    reset: bool,
    image_shape: Sequence[int] = IMAGE_SHAPE,
    pixel_range: tuple[float, float] | None = (0, 255),
    refuse_unit_floats: bool = False,
    scale: bool = True,
) -> np.ndarray:
    """Validate image input and return it flat as float32, scaled to [0, 1].

    Accepts flat rows (numpy or pandas), ``(n, H, W)`` and ``(n, C, H, W)``.
    Sets ``n_features_in_`` / ``feature_names_in_`` when ``reset``. With
    ``pixel_range=(lo, hi)`` values must lie in [lo, hi] and are mapped
    linearly to [0, 1]; with ``None`` they are only cast to float32. With
    ``refuse_unit_floats`` (the classifier), float input whose maximum is in
    (0, 1] is refused when ``pixel_range`` is ``(0, hi)`` with ``hi > 1``:
    it was scaled already, and read as raw pixels it is near-black images.
    With ``scale=False`` the checked values come back unscaled, for a module
    that scales them itself (:class:`fashionclf.export.PixelsToProba`).
    """
    owner = type(est).__name__
    X = _as_people_pass_them(X, owner, image_shape, est, reset)
    shape = tuple(getattr(X, "shape", ()))  # not np.shape: no array conversion
    if (
        len(image_shape) == 3
        and image_shape[0] == 1
        and shape == tuple(image_shape[1:])
    ):
        h, w = shape
        raise ValueError(
            expected_got(
                owner,
                f"X of shape {shape}, which reads as {h} images of {w} pixels",
                f"a batch: (n, {h * w}) rows or (n, {h}, {w}) images",
                f"For one image pass img.reshape(1, {h}, {w}) (or img[None]).",
            )
        )
    X = flatten_images(X, owner, image_shape)
    X = validate_data(
        est,
        X,
        reset=reset,
        dtype="numeric",
        ensure_all_finite=True,
        ensure_min_samples=1,
    )
    if reset:  # at predict time validate_data compares with n_features_in_
        resolve_image_shape(image_shape, X.shape[1], owner)
    if pixel_range is not None:
        lo, hi = pixel_range
        xmin, xmax = X.min(), X.max()
        unit = X.dtype.kind == "f" and lo == 0 and hi > 1 and 0 < xmax <= 1
        if refuse_unit_floats and unit:
            raise ValueError(
                expected_got(
                    owner,
                    f"float pixels in [{xmin:g}, {xmax:g}]",
                    f"raw pixels in [{lo:g}, {hi:g}] (pixel_range={pixel_range}); "
                    "values of at most 1 look scaled to 0-1 already, and read as "
                    "0-255 they are near-black images",
                    f"Pass X * {hi:g}, or set pixel_range=(0, 1) (a fitted model "
                    "too: set_params(pixel_range=(0, 1))).",
                )
            )
        if xmin < lo or xmax > hi:
            raise ValueError(
                expected_got(
                    owner,
                    f"pixel values in [{xmin:g}, {xmax:g}]",
                    f"values in [{lo:g}, {hi:g}] (pixel_range={pixel_range})",
                    ("Negative values in data are not pixels. " if xmin < 0 else "")
                    + "Pass raw 0-255 pixels, or set pixel_range=None if the data "
                    "is already scaled.",
                )
            )
        if not scale:
            return X.astype(np.float32, copy=False)
        out = X.astype(np.float32)
        out -= np.float32(lo)
        out /= np.float32(hi - lo)
        return out
    return X.astype(np.float32, copy=False)


def encode_labels(
    y, n: int, classes, owner: str, fix: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Check ``y`` for ``n`` samples; return ``(classes, codes)``.

    ``classes`` None takes the sorted unique labels of ``y``; otherwise every
    label must be one of ``classes`` (else ``ValueError``, ending in
    ``fix``). pandas nullable labels without missing values keep their type
    (``Int64`` labels stay ints).
    """
    numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
    if numpy_dtype is not None and not y.isna().any():
        y = y.to_numpy(dtype=numpy_dtype)
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n), y)
    check_classification_targets(y)
    classes = np.unique(y) if classes is None else np.unique(np.asarray(classes))
    if len(classes) < 2:
        raise ValueError(
            expected_got(
                owner,
                f"y with a single class {classes[:1].tolist()[0]!r}",
                "at least 2 classes to train a classifier",
            )
        )
    codes = np.searchsorted(classes, y)
    unknown = (codes >= len(classes)) | (
        classes[np.minimum(codes, len(classes) - 1)] != y
    )
    if unknown.any():
        raise ValueError(
            expected_got(
                owner,
                f"label {y[unknown][:1].tolist()[0]!r}",
                f"one of the classes {classes.tolist()}",
                fix,
            )
        )
    return classes, codes.astype(np.int64)


def training_weights(
    sample_weight, class_weight, codes: np.ndarray, classes: np.ndarray
) -> np.ndarray | None:
    """Per-sample loss weights scaled to mean 1, or None when all are equal.

    ``class_weight`` (None, 'balanced' or a dict keyed by label) multiplies
    ``sample_weight``; equal weights train exactly as no weights.
    """
    if sample_weight is None and class_weight is None:
        return None
    weight = _check_sample_weight(
        sample_weight, np.empty((len(codes), 0)), ensure_non_negative=True
    )
    if class_weight is not None:
        weight = weight * compute_sample_weight(class_weight, classes[codes])
    if not np.isfinite(weight).all() or weight.sum() <= 0:
        raise ValueError(
            "sample_weight (times class_weight) must be finite with a positive sum; "
            f"got a sum of {weight.sum()!r}."
        )
    if np.all(weight == weight[0]):
        return None
    return (weight / weight.mean()).astype(np.float32)
