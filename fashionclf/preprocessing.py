"""Pixel transformers: scale 0-255 pixels and move between flat rows and images.

They let :class:`~fashionclf.FashionCNNClassifier` and classic scikit-learn
models share one input: flat rows of 784 pixels (numpy or pandas), as the
Kaggle CSV gives them.

- :class:`PixelScaler`: 0-255 -> float32 in [0, 1], optionally standardized.
- :class:`ImageReshaper`: flat ``(n, 784)`` -> ``(n, 1, 28, 28)`` images.
- :class:`ImageFlattener`: ``(n, 28, 28)`` / ``(n, 1, 28, 28)`` -> flat ``(n, 784)``.
- :class:`ImageFileReader`: pictures of any size (files, PIL, arrays) -> flat
  ``(n, 784)`` rows, converted as the dataset was made.

Scaling rule (explicit, never guessed from the values): ``pixel_range=(lo, hi)``
declares the raw scale; values must lie inside it and map linearly to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._utils.messages import expected_got
from ._utils.sklearn_callbacks import CallbackSupportMixin, one_task
from ._utils.validation import check_pixel_range, check_pixels, resolve_image_shape

__all__ = ["ImageFileReader", "ImageFlattener", "ImageReshaper", "PixelScaler"]


class PixelScaler(
    CallbackSupportMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Scale raw pixels to float32 in [0, 1], optionally standardized.

    Parameters
    ----------
    pixel_range : tuple of (float, float) or None, default=(0, 255)
        The raw scale of the input. Values must lie in it (else ValueError)
        and are mapped linearly to [0, 1]. ``None`` only casts to float32.
    standardize : bool, default=False
        Subtract the training mean and divide by the training standard
        deviation (one scalar each, over all pixels).

    Attributes
    ----------
    mean_ : float
        Mean of the scaled training pixels (0.0 unless ``standardize``).
    scale_ : float
        Standard deviation of the scaled training pixels (1.0 unless
        ``standardize``).
    n_features_in_ : int
        Number of columns (pixels) seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from fashionclf.preprocessing import PixelScaler
    >>> PixelScaler().fit_transform(np.array([[0, 51, 255]], dtype=np.uint8))
    array([[0. , 0.2, 1. ]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "pixel_range": [tuple, list, None],
        "standardize": ["boolean"],
    }

    def __init__(
        self,
        *,
        pixel_range: tuple[float, float] | None = (0, 255),
        standardize: bool = False,
    ) -> None:
        self.pixel_range = pixel_range
        self.standardize = standardize

    def _check_params(self) -> None:
        self._validate_params()
        check_pixel_range(type(self).__name__, self.pixel_range)

    @one_task
    def fit(self, X, y=None) -> PixelScaler:
        """Validate ``X`` and learn the standardization statistics.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        Xs = check_pixels(
            self, X, reset=True, image_shape=(-1,), pixel_range=self.pixel_range
        )
        if self.standardize:
            self.mean_ = float(Xs.mean(dtype=np.float64))
            std = float(Xs.std(dtype=np.float64))
            self.scale_ = std if std > 0 else 1.0
        else:
            self.mean_, self.scale_ = 0.0, 1.0
        return self

    def transform(self, X) -> np.ndarray:
        """Scale ``X``; returns float32 of the same shape."""
        check_is_fitted(self)
        Xs = check_pixels(
            self, X, reset=False, image_shape=(-1,), pixel_range=self.pixel_range
        )
        if self.standardize:
            Xs = (Xs - np.float32(self.mean_)) / np.float32(self.scale_)
        return Xs

    def inverse_transform(self, X) -> np.ndarray:
        """Map scaled values back to the raw ``pixel_range`` (float32)."""
        check_is_fitted(self)
        X = check_array(X, dtype=np.float32)
        X = X * np.float32(self.scale_) + np.float32(self.mean_)
        if self.pixel_range is not None:
            lo, hi = self.pixel_range
            X = X * np.float32(hi - lo) + np.float32(lo)
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.pixel_range is not None
        tags.transformer_tags.preserves_dtype = ["float32"]  # always float32 out
        return tags


class ImageReshaper(CallbackSupportMixin, TransformerMixin, BaseEstimator):
    """Reshape flat pixel rows ``(n, 784)`` into images ``(n, 1, 28, 28)``.

    Values and dtype are kept; combine with :class:`PixelScaler` to scale.

    Parameters
    ----------
    image_shape : tuple of int, default=(1, 28, 28)
        Per-sample output shape ``(channels, height, width)``; one entry may
        be -1 and is then inferred from the number of features, as in
        :func:`numpy.reshape`.

    Attributes
    ----------
    image_shape_ : tuple of int
        The resolved per-sample shape.
    n_features_in_ : int
        Number of columns (pixels) seen in ``fit``.
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from fashionclf.preprocessing import ImageReshaper
    >>> ImageReshaper().fit_transform(np.zeros((5, 784), dtype=np.uint8)).shape
    (5, 1, 28, 28)
    """

    _parameter_constraints: dict = {"image_shape": [tuple, list]}

    def __init__(self, *, image_shape: Sequence[int] = (1, 28, 28)) -> None:
        self.image_shape = image_shape

    @one_task
    def fit(self, X, y=None) -> ImageReshaper:
        """Validate ``X`` (2-D) and resolve ``image_shape``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, reset=True, dtype="numeric")
        self.image_shape_ = resolve_image_shape(
            self.image_shape, X.shape[1], type(self).__name__
        )
        return self

    def transform(self, X) -> np.ndarray:
        """Return ``X`` reshaped to ``(n_samples, *image_shape_)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype="numeric")
        return X.reshape(X.shape[0], *self.image_shape_)

    def set_output(self, *, transform: str | None = None) -> ImageReshaper:
        """Accept a pipeline's output container; the images stay NumPy arrays.

        ``Pipeline.set_output(transform="pandas")`` configures every step. A
        DataFrame (pandas or polars) holds 2-D tables and the images are
        4-D, so this step's output is a NumPy array whatever is asked; the
        steps before it (e.g. :class:`PixelScaler`) do return DataFrames.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'} or None, default=None
            Checked, then ignored.

        Returns
        -------
        self
        """
        if transform not in (None, "default", "pandas", "polars"):
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"transform={transform!r}",
                    "'default', 'pandas', 'polars' or None",
                )
            )
        return self

    def inverse_transform(self, X) -> np.ndarray:
        """Flatten images back to ``(n_samples, n_features_in_)``."""
        check_is_fitted(self)
        X = np.asarray(X)
        if X.ndim < 2 or int(np.prod(X.shape[1:])) != self.n_features_in_:
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"X of shape {X.shape}",
                    f"(n_samples, *{self.image_shape_})",
                )
            )
        return X.reshape(X.shape[0], -1)


class ImageFlattener(CallbackSupportMixin, TransformerMixin, BaseEstimator):
    """Flatten images ``(n, 28, 28)`` or ``(n, 1, 28, 28)`` into rows ``(n, 784)``.

    Any per-sample shape is accepted at ``fit`` and must be the same at
    ``transform``; 2-D input passes through. Output feature names are those
    of a fitted DataFrame, else ``pixel1..pixelN`` (the Kaggle CSV columns),
    so ``set_output(transform="pandas")`` gives a Kaggle-layout frame.

    Attributes
    ----------
    image_shape_ : tuple of int
        Per-sample shape seen at ``fit``.
    n_features_in_ : int
        Number of values per sample (product of ``image_shape_``).

    Examples
    --------
    >>> import numpy as np
    >>> from fashionclf.preprocessing import ImageFlattener
    >>> ImageFlattener().fit_transform(np.zeros((5, 1, 28, 28))).shape
    (5, 784)
    """

    def _validate(self, X, reset: bool) -> np.ndarray:
        if not hasattr(X, "iloc") and not sp.issparse(X):
            X = np.asarray(X)
        if hasattr(X, "iloc") or sp.issparse(X) or X.ndim <= 2:
            X = validate_data(self, X, reset=reset, dtype="numeric")
            shape: tuple[int, ...] = X.shape[1:]
        else:
            X = check_array(X, allow_nd=True, dtype="numeric")
            shape = X.shape[1:]
            if reset:
                self.n_features_in_ = int(np.prod(shape))
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
        if reset:
            self.image_shape_ = tuple(int(s) for s in shape)
        elif tuple(shape) != self.image_shape_:
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"samples of shape {tuple(shape)}",
                    f"shape {self.image_shape_} as seen in fit",
                )
            )
        return X.reshape(X.shape[0], -1)

    @one_task
    def fit(self, X, y=None) -> ImageFlattener:
        """Record the per-sample shape of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
        y : ignored

        Returns
        -------
        self
        """
        self._validate(X, reset=True)
        return self

    def transform(self, X) -> np.ndarray:
        """Return ``X`` as ``(n_samples, n_features_in_)``."""
        check_is_fitted(self)
        return self._validate(X, reset=False)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the flat output columns.

        Parameters
        ----------
        input_features : array-like of str, optional
            Must match ``feature_names_in_`` when given.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_ or (
                names is not None and not np.array_equal(input_features, names)
            ):
                raise ValueError(
                    expected_got(
                        type(self).__name__,
                        f"{len(input_features)} input_features",
                        f"{self.n_features_in_} names matching the fitted ones",
                    )
                )
            return input_features
        if names is not None:
            return np.asarray(names, dtype=object)
        return np.asarray(
            [f"pixel{i}" for i in range(1, self.n_features_in_ + 1)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class ImageFileReader(CallbackSupportMixin, TransformerMixin, BaseEstimator):
    """Read pictures of garments as 784-pixel rows, the way Fashion-MNIST was made.

    Takes a list of image files (PNG, JPEG, WebP), PIL images or uint8 arrays
    of any size, and converts each with
    :func:`fashionclf.datasets.read_images`: trimmed to the article, longest
    edge resized to 28, centred, negated when the background is light, its
    contrast stretched to 0-255. So
    ``make_pipeline(ImageFileReader(), FashionCNNClassifier())`` fits and
    predicts from file paths. Stateless: ``fit`` only checks the parameters.

    Its input is a list of pictures, not a numeric array, so scikit-learn's
    estimator checks (which feed numeric arrays) do not apply; it clones,
    pickles and works in pipelines and searches (tested).

    Parameters
    ----------
    background : {'auto', 'light', 'dark'}, default='auto'
        The pictures' background: read from each picture's corners, or
        forced.
    method : {'fashion-mnist', 'resize'}, default='fashion-mnist'
        The dataset's conversion, or a plain resize to 28x28.

    Examples
    --------
    >>> import numpy as np
    >>> from fashionclf.preprocessing import ImageFileReader
    >>> shot = np.full((120, 90, 3), 250, np.uint8)  # an article on white
    >>> shot[20:100, 20:70] = (30, 60, 200)
    >>> ImageFileReader().fit_transform([shot]).shape
    (1, 784)
    """

    _parameter_constraints: dict = {
        "background": [StrOptions({"auto", "light", "dark"})],
        "method": [StrOptions({"fashion-mnist", "resize"})],
    }

    def __init__(
        self,
        *,
        background: Literal["auto", "light", "dark"] = "auto",
        method: Literal["fashion-mnist", "resize"] = "fashion-mnist",
    ) -> None:
        self.background = background
        self.method = method

    @one_task
    def fit(self, X, y=None) -> ImageFileReader:
        """Check the parameters (nothing is learned).

        Parameters
        ----------
        X : list of path-like, PIL images or uint8 arrays
            Pictures (not read by ``fit``).
        y : ignored

        Returns
        -------
        self : ImageFileReader
        """
        self._validate_params()
        return self

    def transform(self, X) -> np.ndarray:
        """Convert each picture to a row of 784 uint8 pixels.

        Parameters
        ----------
        X : list of path-like, PIL images or uint8 arrays
            Pictures of any size.

        Returns
        -------
        rows : ndarray of uint8, shape (n_pictures, 784)
        """
        from .datasets.images import read_images

        self._validate_params()
        if isinstance(X, str | bytes) or (
            isinstance(X, np.ndarray) and X.dtype != object and X.ndim < 3
        ):
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"X of type {type(X).__name__}"
                    + (f" and shape {X.shape}" if isinstance(X, np.ndarray) else ""),
                    "a list of pictures (paths, PIL images or arrays)",
                    "For one picture, pass [picture].",
                )
            )
        return read_images(list(X), background=self.background, method=self.method)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return ``pixel1`` ... ``pixel784``, the Kaggle CSV's column names.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        names : ndarray of str
        """
        return np.array([f"pixel{i}" for i in range(1, 785)], dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless
