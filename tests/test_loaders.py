"""Fashion-MNIST loaders (fashionclf.datasets.loaders): sources, environment, the shared copy."""

import shutil
import time

import numpy as np
import pytest

from fashionclf import CLASS_NAMES, fetch_fashion_mnist, load_sample
from fashionclf.datasets import get_cache_dir, get_data_home
from fashionclf.datasets.formats import write_idx

from .helpers import kaggle_folder


def test_sample_is_balanced_real_uint8():
    b = load_sample(subset="all")
    assert b.data.shape == (2500, 784) and b.data.dtype == np.uint8
    assert b.images.shape == (2500, 28, 28)
    assert np.bincount(b.target).tolist() == [250] * 10
    assert b.target_names == list(CLASS_NAMES)
    assert "Fashion-MNIST" in b.DESCR


def test_sample_as_frame():
    X, y = load_sample(subset="test", as_frame=True, return_X_y=True)
    assert list(X.columns[:2]) == ["pixel1", "pixel2"] and y.name == "label"
    assert len(X) == 500


def test_env_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("FASHIONCLF_DATA", str(tmp_path / "a"))
    monkeypatch.setenv("FASHIONCLF_CACHE", str(tmp_path / "b"))
    assert get_data_home() == tmp_path / "a" and get_cache_dir() == tmp_path / "b"
    assert get_data_home(tmp_path / "c") == tmp_path / "c"


def test_kaggle_folder_detected_and_cached(tmp_path, sample):
    folder = kaggle_folder(tmp_path / "kaggle", sample)
    b1 = fetch_fashion_mnist(
        subset="train", data_home=folder, download_if_missing=False
    )
    assert b1.source.startswith("kaggle-csv:")
    caches = list((tmp_path / "cache").glob("*.npz"))
    assert len(caches) == 1
    b2 = fetch_fashion_mnist(
        subset="train", data_home=folder, download_if_missing=False
    )
    np.testing.assert_array_equal(b1.data, b2.data)
    np.testing.assert_array_equal(b1.data, sample[0])
    # a changed source invalidates the cache
    time.sleep(0.01)
    kaggle_folder(folder, (sample[0][::-1], sample[1][::-1], sample[2], sample[3]))
    b3 = fetch_fashion_mnist(
        subset="train", data_home=folder, download_if_missing=False
    )
    np.testing.assert_array_equal(b3.data, sample[0][::-1])


def test_idx_folder_detected(tmp_path, sample):
    _X, _y, Xt, yt = sample
    for name, arr in [("t10k-images-idx3-ubyte", Xt), ("t10k-labels-idx1-ubyte", yt)]:
        write_idx(tmp_path / name, arr)  # uncompressed variant
    X2, y2 = fetch_fashion_mnist(
        subset="test", data_home=tmp_path, return_X_y=True, download_if_missing=False
    )
    np.testing.assert_array_equal(X2, Xt)
    assert y2.dtype == np.int64


def test_subset_all_and_frame(tmp_path, sample):
    folder = kaggle_folder(tmp_path / "k", sample)
    b = fetch_fashion_mnist(subset="all", data_home=folder, as_frame=True)
    assert b.frame.shape == (2500, 785) and b.frame.columns[0] == "label"


def test_missing_folder_names_where_it_looked(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"No Fashion-MNIST test files in .*nowhere: looked for t10k-images-idx3-ubyte\[.gz\].*FASHIONCLF_DATA.*fashionclf fetch",
    ):
        fetch_fashion_mnist(
            subset="test", data_home=tmp_path / "nowhere", download_if_missing=False
        )


def test_bad_subset():
    with pytest.raises(
        ValueError,
        match=r"subset='val' is not valid; expected 'train', 'test' or 'all'",
    ):
        load_sample(subset="val")


def test_shared_copy_full_size(shared_data, tmp_path):
    """The real dataset: 60,000/10,000 images, 6,000/1,000 per class; cache hit."""
    X, y = fetch_fashion_mnist(subset="train", data_home=shared_data, return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", data_home=shared_data, return_X_y=True)
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784) and X.dtype == np.uint8
    assert np.bincount(y).tolist() == [6000] * 10
    assert np.bincount(yt).tolist() == [1000] * 10
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    X2, _ = fetch_fashion_mnist(subset="train", data_home=shared_data, return_X_y=True)
    np.testing.assert_array_equal(X, X2)


def test_shared_copy_not_written(shared_data):
    assert not any(
        p.name.startswith(".") or p.suffix == ".npz" for p in shared_data.iterdir()
    )


def test_copy_of_shared_sample(tmp_path, shared_data):
    shutil.copy(shared_data / "fashion-mnist_test.csv.gz", tmp_path)
    b = fetch_fashion_mnist(
        subset="test", data_home=tmp_path, download_if_missing=False
    )
    assert b.data.shape == (10000, 784)
