"""The parsed-array cache (fashionclf.datasets.cache): keyed by content, validated, rebuilt, swept."""

import time

import numpy as np
import pandas as pd
import pytest

from fashionclf import fetch_fashion_mnist
from fashionclf.datasets.formats import KAGGLE_COLUMNS

from .helpers import kaggle_folder


def test_corrupt_cache_is_rebuilt(tmp_path, sample):
    folder = kaggle_folder(tmp_path / "k", sample)
    fetch_fashion_mnist(subset="test", data_home=folder)
    (cache,) = (tmp_path / "cache").glob("*.npz")
    cache.write_bytes(b"garbage")
    X, _ = fetch_fashion_mnist(subset="test", data_home=folder, return_X_y=True)
    np.testing.assert_array_equal(X, sample[2])


def _one_cache(tmp_path):
    (cache,) = (tmp_path / "cache").glob("*.npz")
    return cache


def test_cache_is_keyed_by_content_not_size_and_mtime(tmp_path, sample):
    import os

    _, _, Xt, yt = sample
    folder = tmp_path / "k"
    folder.mkdir()
    src = folder / "fashion-mnist_test.csv"  # plain CSV: relabelling keeps the size
    pd.DataFrame(np.column_stack([yt, Xt]), columns=KAGGLE_COLUMNS).to_csv(
        src, index=False
    )
    kw = dict(subset="test", data_home=folder, cache_dir=tmp_path / "cache")
    first = fetch_fashion_mnist(**kw)
    old = _one_cache(tmp_path)
    st = src.stat()
    relabelled = np.column_stack([(yt + 1) % 10, Xt])
    pd.DataFrame(relabelled, columns=KAGGLE_COLUMNS).to_csv(src, index=False)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p / tar x restore
    assert src.stat().st_size == st.st_size
    assert src.stat().st_mtime_ns == st.st_mtime_ns
    again = fetch_fashion_mnist(**kw)
    np.testing.assert_array_equal(again.target, (first.target + 1) % 10)
    assert _one_cache(tmp_path) != old  # the superseded cache is removed


@pytest.mark.parametrize(
    "tamper",
    ["nan-pixels", "label-99", "huge-shape"],
)
def test_tampered_cache_is_rebuilt(tmp_path, sample, tamper):
    import zipfile

    folder = kaggle_folder(tmp_path / "k", sample)
    kw = dict(subset="test", data_home=folder, cache_dir=tmp_path / "cache")
    good = fetch_fashion_mnist(**kw)
    cache = _one_cache(tmp_path)
    if tamper == "nan-pixels":
        np.savez(cache, X=np.full((500, 784), np.nan), y=good.target)
    elif tamper == "label-99":
        np.savez(cache, X=good.data, y=np.full(500, 99, dtype=np.int64))
    else:  # a header claiming (10**12, 784) uint8
        header = {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)}
        with zipfile.ZipFile(cache, "w") as zf:
            with zf.open("X.npy", "w") as fh:
                np.lib.format.write_array_header_1_0(fh, header)
            with zf.open("y.npy", "w") as fh:
                np.lib.format.write_array(fh, good.target)
    again = fetch_fashion_mnist(**kw)
    np.testing.assert_array_equal(again.data, good.data)
    np.testing.assert_array_equal(again.target, good.target)


def test_cache_files_follow_the_umask(tmp_path, sample):
    import os

    folder = kaggle_folder(tmp_path / "k", sample)
    old = os.umask(0o022)
    try:
        fetch_fashion_mnist(
            subset="test", data_home=folder, cache_dir=tmp_path / "cache"
        )
    finally:
        os.umask(old)
    assert _one_cache(tmp_path).stat().st_mode & 0o777 == 0o644


def test_only_this_librarys_stale_temporary_files_are_swept(tmp_path):
    import os

    from fashionclf._utils.atomic import sweep_stale

    ours = tmp_path / ".model.pt.abc123.fashionclf-tmp"
    fresh = tmp_path / ".model.pt.def456.fashionclf-tmp"
    users = tmp_path / "notes.part-1"
    for p in (ours, fresh, users):
        p.write_text("x")
    os.utime(ours, (time.time() - 7200, time.time() - 7200))
    assert sweep_stale(tmp_path) == 1
    assert not ours.exists() and fresh.exists() and users.exists()
