"""Fashion-MNIST loaders in the style of ``sklearn.datasets``.

Sources, tried in this order for the folder ``data_home`` (argument, else the
``FASHIONCLF_DATA`` environment variable, else ``~/fashionclf_data``):

1. the official IDX files (``train-images-idx3-ubyte[.gz]`` ...);
2. the Kaggle CSVs (``fashion-mnist_train.csv[.gz]``, ``fashion-mnist_test.csv[.gz]``);
3. if neither is there and ``download_if_missing=True``: the official IDX gzip
   files, downloaded from the official mirrors, MD5-verified, written
   atomically into ``data_home``.

Parsed arrays are cached as ``.npz`` in ``cache_dir`` (argument, else
``FASHIONCLF_CACHE``, else ``~/.cache/fashionclf``), keyed by the content of
the source files (not their size and date, which ``cp -p`` or ``tar x``
restore), so the second load takes milliseconds. The
data folder itself is only read, never written, unless a download is needed.

No torch is imported here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from filelock import FileLock
from sklearn.utils import Bunch

from .._utils.atomic import sweep_stale
from ..exceptions import ChecksumError, DataFormatError
from .cache import cache_names, read_cache, write_cache
from .download import download, file_md5
from .formats import N_PIXELS, read_idx, read_kaggle_csv

__all__ = [
    "CLASS_NAMES",
    "OFFICIAL_MD5",
    "OFFICIAL_MIRRORS",
    "download_fashion_mnist",
    "fashion_class_names",
    "fetch_fashion_mnist",
    "get_cache_dir",
    "get_data_home",
    "get_mirrors",
    "load_sample",
    "read_idx",
    "read_kaggle_csv",
]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def fashion_class_names(classes) -> list[str] | None:
    """Return the Fashion-MNIST names of ``classes`` if they are exactly 0-9.

    Any other label set (text, a subset, 1-10) is a user's own labels: None.
    """
    classes = np.asarray(classes)
    if np.issubdtype(classes.dtype, np.integer) and sorted(classes.tolist()) == list(
        range(len(CLASS_NAMES))
    ):
        return [CLASS_NAMES[int(k)] for k in classes]
    return None


OFFICIAL_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

#: MD5 checksums published in the Fashion-MNIST README.
OFFICIAL_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_KAGGLE_NAMES = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}
_SAMPLE = "fashion_mnist_sample.npz"

Subset = Literal["train", "test", "all"]

_DESCR = """Fashion-MNIST ({subset}, {n} images)
Zalando Research, MIT licence: 28x28 grayscale article images, pixel values
0-255 stored row-major as 784 columns, 10 classes:
{classes}.
Source: {source}.
Note: the Kaggle CSV split is not the split of the official IDX files (the
first official training image is in the Kaggle test file); test accuracies
are comparable to published figures only within sampling noise.
"""


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder where raw Fashion-MNIST files are looked for.

    ``data_home`` if given, else ``$FASHIONCLF_DATA``, else ``~/fashionclf_data``.
    """
    if data_home is None:
        data_home = os.environ.get("FASHIONCLF_DATA", "~/fashionclf_data")
    return Path(data_home).expanduser()


def get_mirrors(mirrors: Sequence[str] | None = None) -> tuple[str, ...]:
    """Return the base URLs a download tries, in order.

    ``mirrors`` if given, else the whitespace-separated URLs in
    ``$FASHIONCLF_MIRRORS`` (e.g. a company mirror), else
    ``OFFICIAL_MIRRORS``. Every file is checked against ``OFFICIAL_MD5``
    wherever it comes from.
    """
    if mirrors is None:
        mirrors = os.environ.get("FASHIONCLF_MIRRORS", "").split() or OFFICIAL_MIRRORS
    return tuple(mirrors)


def get_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding parsed-array caches.

    ``cache_dir`` if given, else ``$FASHIONCLF_CACHE``, else ``~/.cache/fashionclf``.
    """
    if cache_dir is None:
        cache_dir = os.environ.get("FASHIONCLF_CACHE", "~/.cache/fashionclf")
    return Path(cache_dir).expanduser()


def _first_existing(folder: Path, name: str) -> Path | None:
    for candidate in (folder / (name + ".gz"), folder / name):
        if candidate.is_file():
            return candidate
    return None


def _find_source(folder: Path, subset: str) -> tuple[str, list[Path]] | None:
    idx = [_first_existing(folder, n) for n in _IDX_NAMES[subset]]
    if all(idx):
        return "idx", [p for p in idx if p is not None]
    csv = _first_existing(folder, _KAGGLE_NAMES[subset])
    if csv is not None:
        return "kaggle-csv", [csv]
    return None


def _parse(kind: str, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    if kind == "kaggle-csv":
        return read_kaggle_csv(paths[0])
    X, y = read_idx(paths[0]), read_idx(paths[1])
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise DataFormatError(
            f"{paths[0]} holds {len(X)} images but {paths[1]} holds {len(y)} "
            "labels; expected one label per image."
        )
    return X, y.astype(np.int64)


def _load_subset(
    folder: Path, subset: str, cache_dir: Path, download_if_missing: bool, **dl_kw
) -> tuple[np.ndarray, np.ndarray, str]:
    source = _find_source(folder, subset)
    if source is None:
        if not download_if_missing:
            idx_names = ", ".join(n + "[.gz]" for n in _IDX_NAMES[subset])
            raise FileNotFoundError(
                f"No Fashion-MNIST {subset} files in {folder}: looked for {idx_names} "
                f"or {_KAGGLE_NAMES[subset]}[.gz]. Point data_home= or the "
                "FASHIONCLF_DATA environment variable at a folder holding them, or "
                "download them with download_if_missing=True or `fashionclf fetch`."
            )
        needed = {f"{n}.gz" for n in _IDX_NAMES[subset]}  # only this subset's
        checksums = dl_kw.get("checksums", OFFICIAL_MD5)
        dl_kw["checksums"] = {k: v for k, v in checksums.items() if k in needed}
        download_fashion_mnist(folder, **dl_kw)
        source = _find_source(folder, subset)
        assert source is not None  # download_fashion_mnist raises otherwise
    kind, paths = source
    prefix, name = cache_names(kind, paths, subset)
    described = f"{kind}: {', '.join(map(str, paths))}"
    cached = read_cache(cache_dir / name)
    if cached is not None:
        return (*cached, described)
    X, y = _parse(kind, paths)
    try:
        write_cache(cache_dir / name, X=X, y=y)
        for old in cache_dir.glob(prefix + "*.npz"):  # caches of earlier content
            if old.name != name:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache folder only costs speed
    return X, y, described


def download_fashion_mnist(
    data_home: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] = OFFICIAL_MD5,
    n_retries: int = 2,
    delay: float = 0.5,
    timeout: float = 30.0,
) -> Path:
    """Download the four official IDX gzip files into ``data_home``.

    Files already present with the right checksum are kept. Concurrent
    callers are serialised by a lock file, so two processes fetching into
    the same empty folder end with one verified copy.

    Parameters
    ----------
    data_home : path-like, optional
        Target folder; see :func:`~fashionclf.datasets.get_data_home`.
    mirrors : sequence of str, optional
        Base URLs tried in order; see ``get_mirrors``.
    checksums : mapping of str to str, default=OFFICIAL_MD5
        File name -> expected MD5; its keys are the files to fetch.
    n_retries : int, default=2
        Attempts per mirror and file after the first one fails (as in
        ``sklearn.datasets.fetch_openml``).
    delay : float, default=0.5
        Seconds before the first retry, doubled before each further one.
    timeout : float, default=30.0
        Socket timeout in seconds.

    Returns
    -------
    Path
        The folder holding the verified files.
    """
    folder = get_data_home(data_home)
    created = _missing_folders(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _download_into(folder, mirrors, checksums, n_retries, delay, timeout)
    except BaseException:
        # a failed first download leaves no empty folder behind
        for made in created:  # innermost first
            with contextlib.suppress(OSError):  # not empty: kept
                made.rmdir()
        raise
    return folder


def _missing_folders(folder: Path) -> list[Path]:
    """Return the folders ``folder.mkdir(parents=True)`` would make, innermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _download_into(folder, mirrors, checksums, n_retries, delay, timeout) -> None:
    """Fetch the files of ``checksums`` missing in ``folder`` (under the lock)."""
    with FileLock(_download_lock(folder)):
        # Holding the lock, no other fetch is writing here: partial files are
        # leftovers of a killed fetch (never mistaken for data: wrong name).
        sweep_stale(folder, older_than_s=0)
        for name, md5 in checksums.items():
            target = folder / name
            if target.is_file():
                if file_md5(target) == md5:
                    continue
                raise ChecksumError(
                    f"{target}: exists but its MD5 is {file_md5(target)}, expected "
                    f"{md5}; delete it and fetch again."
                )
            download(
                name,
                folder,
                mirrors=get_mirrors(mirrors),
                md5=md5,
                n_retries=n_retries,
                delay=delay,
                timeout=timeout,
            )


def _download_lock(folder: Path) -> str:
    """Return the lock file for downloads into ``folder``, in the temp folder.

    Not in ``folder`` itself, so a fetch (even a failed, offline one) leaves
    nothing there but the verified files; fetches into the same folder on
    this machine still take turns.
    """
    import hashlib
    import tempfile

    key = hashlib.sha256(os.fsencode(folder.resolve())).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"fashionclf-download-{key}.lock")


def _bunch(
    X: np.ndarray,
    y: np.ndarray,
    *,
    subset: str,
    source: str,
    return_X_y: bool,
    as_frame: bool,
) -> Bunch | tuple:
    feature_names = [f"pixel{i}" for i in range(1, N_PIXELS + 1)]
    data: np.ndarray | pd.DataFrame = X
    target: np.ndarray | pd.Series = y
    frame = None
    if as_frame:
        data = pd.DataFrame(X, columns=feature_names)
        target = pd.Series(y, name="label")
        frame = pd.concat([target, data], axis=1)
    if return_X_y:
        return data, target
    descr = _DESCR.format(
        subset=subset, n=len(X), classes=", ".join(CLASS_NAMES), source=source
    )
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        images=X.reshape(-1, 28, 28),
        target_names=list(CLASS_NAMES),
        feature_names=feature_names,
        DESCR=descr,
        source=source,
    )


def _check_subset(subset: str) -> None:
    if subset not in ("train", "test", "all"):
        raise ValueError(
            f"subset={subset!r} is not valid; expected 'train', 'test' or 'all'."
        )


def fetch_fashion_mnist(
    *,
    subset: Subset = "train",
    data_home: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
    as_frame: bool = False,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] = OFFICIAL_MD5,
    n_retries: int = 2,
    delay: float = 0.5,
) -> Bunch | tuple:
    """Load the full Fashion-MNIST dataset (60,000 train / 10,000 test images).

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        Which images to return; ``'all'`` is train followed by test.
    data_home : path-like, optional
        Folder of raw files; see :func:`~fashionclf.datasets.get_data_home`.
    cache_dir : path-like, optional
        Folder of parsed-array caches; see ``get_cache_dir``.
    download_if_missing : bool, default=True
        Download the official IDX files if ``data_home`` holds no dataset.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        Return ``data`` as a DataFrame with columns ``pixel1..pixel784`` and
        ``target`` as a Series named ``label``.
    mirrors, checksums, n_retries, delay
        Passed to :func:`download_fashion_mnist` when a download is needed.

    Returns
    -------
    Bunch or tuple
        ``data`` (n, 784) uint8, ``target`` (n,) int64 in 0-9, ``images``
        (n, 28, 28) uint8 view of ``data``, ``target_names``,
        ``feature_names``, ``frame``, ``DESCR`` and ``source``.

    Raises
    ------
    FileNotFoundError
        No dataset in ``data_home`` and ``download_if_missing=False``.
    DataFormatError
        A source file is malformed (the message names it).

    Examples
    --------
    >>> from fashionclf import fetch_fashion_mnist
    >>> X, y = fetch_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((10000, 784), dtype('uint8'))
    """
    _check_subset(subset)
    folder = get_data_home(data_home)
    cache = get_cache_dir(cache_dir)
    parts = ["train", "test"] if subset == "all" else [subset]
    loaded = [
        _load_subset(
            folder,
            s,
            cache,
            download_if_missing,
            mirrors=mirrors,
            checksums=checksums,
            n_retries=n_retries,
            delay=delay,
        )
        for s in parts
    ]
    X = np.concatenate([p[0] for p in loaded]) if len(loaded) > 1 else loaded[0][0]
    y = np.concatenate([p[1] for p in loaded]) if len(loaded) > 1 else loaded[0][1]
    source = "; ".join(p[2] for p in loaded)
    return _bunch(
        X, y, subset=subset, source=source, return_X_y=return_X_y, as_frame=as_frame
    )


def load_sample(
    *, subset: Subset = "train", return_X_y: bool = False, as_frame: bool = False
) -> Bunch | tuple:
    """Load the small class-balanced sample of real images shipped with fashionclf.

    2,000 training and 500 test images (200 / 50 per class) drawn with a fixed
    seed from the Kaggle CSVs by ``scripts/make_sample.py``. For tests,
    examples and offline demos; needs no files and no network.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
    return_X_y : bool, default=False
    as_frame : bool, default=False

    Returns
    -------
    Bunch or tuple
        As :func:`fetch_fashion_mnist`.

    Examples
    --------
    >>> from fashionclf import load_sample
    >>> X, y = load_sample(return_X_y=True)
    >>> X.shape, X.dtype.name, sorted(set(y.tolist())) == list(range(10))
    ((2000, 784), 'uint8', True)
    """
    _check_subset(subset)
    ref = resources.files("fashionclf") / "data" / _SAMPLE
    with resources.as_file(ref) as path, np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    parts = ["train", "test"] if subset == "all" else [subset]
    X = np.concatenate([arrays[f"X_{s}"] for s in parts])
    y = np.concatenate([arrays[f"y_{s}"] for s in parts]).astype(np.int64)
    return _bunch(
        X,
        y,
        subset=subset,
        source=f"bundled sample ({_SAMPLE})",
        return_X_y=return_X_y,
        as_frame=as_frame,
    )
