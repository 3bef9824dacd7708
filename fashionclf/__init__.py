"""fashionclf: a scikit-learn compatible CNN for Fashion-MNIST clothing images.

Names are imported lazily (PEP 562): ``from fashionclf.datasets import
fetch_fashion_mnist`` loads neither torch nor skorch, and ``import
fashionclf`` is cheap until a name such as ``FashionCNNClassifier`` is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the submodule that defines it
_LAZY = {
    "FashionCNNClassifier": "classifier",
    "CLASS_NAMES": "datasets",
    "download_fashion_mnist": "datasets",
    "fetch_fashion_mnist": "datasets",
    "load_sample": "datasets",
    "read_idx": "datasets",
    "read_kaggle_csv": "datasets",
    "ChecksumError": "exceptions",
    "DataFormatError": "exceptions",
    "DownloadError": "exceptions",
    "ModelFileError": "exceptions",
    "ImageFileReader": "preprocessing",
    "ImageFlattener": "preprocessing",
    "ImageReshaper": "preprocessing",
    "PixelScaler": "preprocessing",
    "SKOPS_TRUSTED_TYPES": "serialization",
    "load_model": "classifier",
    "save_model": "classifier",
}

__all__ = [
    "CLASS_NAMES",
    "SKOPS_TRUSTED_TYPES",
    "ChecksumError",
    "DataFormatError",
    "DownloadError",
    "FashionCNNClassifier",
    "ImageFileReader",
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

if TYPE_CHECKING:  # for type checkers and IDEs: the eager imports
    from .classifier import FashionCNNClassifier, load_model, save_model
    from .datasets.loaders import (
        CLASS_NAMES,
        download_fashion_mnist,
        fetch_fashion_mnist,
        load_sample,
        read_idx,
        read_kaggle_csv,
    )
    from .exceptions import (
        ChecksumError,
        DataFormatError,
        DownloadError,
        ModelFileError,
    )
    from .preprocessing import (
        ImageFileReader,
        ImageFlattener,
        ImageReshaper,
        PixelScaler,
    )
    from .serialization import SKOPS_TRUSTED_TYPES


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'fashionclf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
