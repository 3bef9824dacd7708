"""Fashion-MNIST data: loaders, file formats, downloads, the array cache, image files.

The data family imports no torch: ``from fashionclf.datasets import
fetch_fashion_mnist`` stays cheap.

- :mod:`~fashionclf.datasets.loaders`: ``fetch_fashion_mnist`` and friends,
  in the style of ``sklearn.datasets``;
- :mod:`~fashionclf.datasets.formats`: the IDX and Kaggle CSV parsers;
- :mod:`~fashionclf.datasets.download`: verified, retried, atomic downloads;
- :mod:`~fashionclf.datasets.cache`: the ``.npz`` cache of parsed arrays;
- :mod:`~fashionclf.datasets.images`: PNG/JPEG files as pixel rows.
"""

from .images import read_image_folder, read_images
from .loaders import (
    CLASS_NAMES,
    OFFICIAL_MD5,
    OFFICIAL_MIRRORS,
    download_fashion_mnist,
    fetch_fashion_mnist,
    get_cache_dir,
    get_data_home,
    get_mirrors,
    load_sample,
    read_idx,
    read_kaggle_csv,
)

__all__ = [
    "CLASS_NAMES",
    "OFFICIAL_MD5",
    "OFFICIAL_MIRRORS",
    "download_fashion_mnist",
    "fetch_fashion_mnist",
    "get_cache_dir",
    "get_data_home",
    "get_mirrors",
    "load_sample",
    "read_idx",
    "read_image_folder",
    "read_images",
    "read_kaggle_csv",
]
