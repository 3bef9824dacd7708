"""fashionclf: a scikit-learn compatible CNN for Fashion-MNIST clothing images."""

from .classifier import FashionCNNClassifier
from .datasets import (
    CLASS_NAMES,
    download_fashion_mnist,
    fetch_fashion_mnist,
    load_sample,
    read_idx,
    read_kaggle_csv,
)
from .exceptions import ChecksumError, DataFormatError, DownloadError, ModelFileError
from .preprocessing import ImageFlattener, ImageReshaper, PixelScaler
from .serialization import load_model, save_model

__version__ = "0.1.0"

__all__ = [
    "CLASS_NAMES",
    "ChecksumError",
    "DataFormatError",
    "DownloadError",
    "FashionCNNClassifier",
    "ImageFlattener",
    "ImageReshaper",
    "ModelFileError",
    "PixelScaler",
    "__version__",
    "download_fashion_mnist",
    "fetch_fashion_mnist",
    "load_model",
    "load_sample",
    "read_idx",
    "read_kaggle_csv",
    "save_model",
]
