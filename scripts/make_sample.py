"""Build fashionclf/data/fashion_mnist_sample.npz from the shared Kaggle CSVs.

A class-balanced sample of real Fashion-MNIST images drawn with a fixed seed:
200 train images and 50 test images per class (2,000 + 500). Run from the
repository root::

    python scripts/make_sample.py ../shared/data/fashion-mnist
"""

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from fashionclf.datasets import read_kaggle_csv

SEED = 20261128
PER_CLASS = {"train": 200, "test": 50}


def _balanced(X, y, per_class, rng):
    idx = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == k), per_class, replace=False)
            for k in range(10)
        ]
    )
    idx = rng.permutation(idx)
    return X[idx], y[idx]


def _write_lzma_npz(path, arrays):
    """An .npz (readable by np.load) whose members are LZMA-compressed: the
    sample fits under 1 MB, which zlib (np.savez_compressed) does not."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_LZMA) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            zf.writestr(name + ".npy", buf.getvalue())


def main(folder: str) -> None:
    rng = np.random.default_rng(SEED)
    arrays = {}
    for subset, per_class in PER_CLASS.items():
        X, y = read_kaggle_csv(Path(folder) / f"fashion-mnist_{subset}.csv.gz")
        Xs, ys = _balanced(X, y, per_class, rng)
        arrays[f"X_{subset}"] = Xs
        arrays[f"y_{subset}"] = ys.astype(np.uint8)
    out = (
        Path(__file__).resolve().parents[1] / "fashionclf/data/fashion_mnist_sample.npz"
    )
    _write_lzma_npz(out, arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/fashion-mnist")
