"""The download path, for real, against a local HTTP server on 127.0.0.1."""

import hashlib

import numpy as np
import pytest

from fashionclf import (
    ChecksumError,
    DownloadError,
    download_fashion_mnist,
    fetch_fashion_mnist,
)
from fashionclf.datasets import OFFICIAL_MD5
from fashionclf.datasets.formats import write_idx

from .http_server import FileServer, unreachable_url

NAMES = list(OFFICIAL_MD5)


@pytest.fixture(scope="module")
def idx_files(tmp_path_factory, sample):
    """IDX gzip files built from the bundled sample, named like the official ones."""
    X, y, Xt, yt = sample
    folder = tmp_path_factory.mktemp("idx")
    arrays = dict(zip(NAMES, [X, y, Xt, yt], strict=False))
    files = {}
    for name, arr in arrays.items():
        write_idx(folder / name, arr)
        files[name] = (folder / name).read_bytes()
    md5 = {name: hashlib.md5(data).hexdigest() for name, data in files.items()}
    return files, md5


def _leftovers(folder):
    return (
        sorted(p.name for p in folder.iterdir() if "fashionclf-tmp" in p.name)
        if folder.exists()
        else []
    )


def test_download_success_then_load(tmp_path, idx_files, sample):
    files, md5 = idx_files
    with FileServer(files) as srv:
        bunch = fetch_fashion_mnist(
            subset="test", data_home=tmp_path / "d", mirrors=[srv.url], checksums=md5
        )
        assert len(srv.requests) == 2  # the test files only
    np.testing.assert_array_equal(bunch.data, sample[2])
    np.testing.assert_array_equal(bunch.target, sample[3])
    assert bunch.source.startswith("idx:")
    # nothing but the two verified files: no lock file, no partial download
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(NAMES[2:])


def test_an_offline_test_only_fetch_names_the_test_files_and_leaves_nothing(
    tmp_path,
):
    home = tmp_path / "d" / "fashionclf_data"
    with pytest.raises(DownloadError) as info:
        fetch_fashion_mnist(
            subset="test", data_home=home, mirrors=[unreachable_url()], n_retries=0
        )
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    assert "train-" not in str(info.value)
    assert not (tmp_path / "d").exists()  # the folders it made, removed again
    (tmp_path / "kept").mkdir()  # a folder that was there stays, empty or not
    with pytest.raises(DownloadError):
        fetch_fashion_mnist(
            data_home=tmp_path / "kept", mirrors=[unreachable_url()], n_retries=0
        )
    assert list((tmp_path / "kept").iterdir()) == []


def test_download_skips_verified_files(tmp_path, idx_files):
    files, md5 = idx_files
    with FileServer(files) as srv:
        download_fashion_mnist(tmp_path, mirrors=[srv.url], checksums=md5)
        download_fashion_mnist(tmp_path, mirrors=[srv.url], checksums=md5)
        assert len(srv.requests) == 4


def test_checksum_mismatch_leaves_nothing(tmp_path, idx_files):
    files, md5 = idx_files
    bad = dict(md5, **{NAMES[0]: "0" * 32})
    with (
        FileServer(files) as srv,
        pytest.raises(DownloadError, match=r"MD5 is [0-9a-f]{32}, expected 0{32}"),
    ):
        download_fashion_mnist(tmp_path, mirrors=[srv.url], checksums=bad, n_retries=1)
    assert not (tmp_path / NAMES[0]).exists()
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_leaves_nothing(tmp_path, idx_files):
    files, md5 = idx_files
    with (
        FileServer(files, modes={NAMES[0]: "truncate"}) as srv,
        pytest.raises(DownloadError, match=NAMES[0]),
    ):
        download_fashion_mnist(tmp_path, mirrors=[srv.url], checksums=md5, n_retries=1)
    assert not (tmp_path / NAMES[0]).exists()
    assert _leftovers(tmp_path) == []


def test_server_unreachable(tmp_path, idx_files):
    _, md5 = idx_files
    with pytest.raises(
        DownloadError, match=r"could not download .* from any of 1 mirror"
    ):
        download_fashion_mnist(
            tmp_path, mirrors=[unreachable_url()], checksums=md5, n_retries=1, timeout=2
        )
    assert _leftovers(tmp_path) == []
    assert not any((tmp_path / n).exists() for n in NAMES)


def test_n_retries_and_delay_as_in_sklearn_datasets(tmp_path, idx_files, monkeypatch):
    _, md5 = idx_files
    waits = []
    monkeypatch.setattr("fashionclf.datasets.download.time.sleep", waits.append)
    with FileServer({}) as empty, pytest.raises(DownloadError, match=r"3 attempts"):
        fetch_fashion_mnist(
            data_home=tmp_path,
            mirrors=[empty.url],
            checksums=md5,
            n_retries=2,
            delay=0.25,
        )
    assert waits == [0.25, 0.5]  # before each retry, doubled


def test_mirror_fallback(tmp_path, idx_files):
    files, md5 = idx_files
    with (
        FileServer(files, modes={NAMES[0]: "truncate"}) as broken,
        FileServer(files) as good,
    ):
        download_fashion_mnist(
            tmp_path,
            mirrors=[unreachable_url(), broken.url, good.url],
            checksums=md5,
            n_retries=0,
        )
    assert all((tmp_path / n).is_file() for n in NAMES)


def test_existing_corrupt_file_is_reported(tmp_path, idx_files):
    _files, md5 = idx_files
    (tmp_path / NAMES[0]).write_bytes(b"not the file")
    with pytest.raises(ChecksumError, match=rf"{NAMES[0]}: exists but its MD5 is"):
        download_fashion_mnist(tmp_path, mirrors=[unreachable_url()], checksums=md5)


_FETCH = (
    "import sys, json; from fashionclf import download_fashion_mnist; "
    "download_fashion_mnist(sys.argv[1], mirrors=[sys.argv[2]], checksums=json.loads(sys.argv[3]), n_retries=0)"
)


def test_two_processes_fetch_into_one_empty_cache(tmp_path, idx_files):
    """Both succeed; one complete verified copy; each file downloaded once (file lock)."""
    import json
    import subprocess
    import sys

    from fashionclf.datasets.download import file_md5

    files, md5 = idx_files
    with FileServer(files) as srv:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _FETCH, str(tmp_path), srv.url, json.dumps(md5)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errs = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errs
        assert sorted(r.rsplit("/", 1)[1] for r in srv.requests) == sorted(NAMES)
    assert all(file_md5(tmp_path / n) == md5[n] for n in NAMES)
    assert _leftovers(tmp_path) == []


def test_fetch_killed_mid_download_leaves_no_data(tmp_path, idx_files):
    import json
    import signal
    import subprocess
    import sys
    import time

    files, md5 = idx_files
    with FileServer(files, modes={NAMES[0]: "stall"}) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-c", _FETCH, str(tmp_path), srv.url, json.dumps(md5)]
        )
        deadline = time.time() + 60
        while time.time() < deadline and not _leftovers(tmp_path):
            time.sleep(0.1)
        assert _leftovers(tmp_path), "the download never started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / NAMES[0]).exists()  # only a .part file, never the data name
    with pytest.raises(FileNotFoundError, match="No Fashion-MNIST train files"):
        fetch_fashion_mnist(
            subset="train", data_home=tmp_path, download_if_missing=False
        )
    with FileServer(files) as srv:  # a later fetch completes and clears the leftover
        fetch_fashion_mnist(
            subset="train", data_home=tmp_path, mirrors=[srv.url], checksums=md5
        )
    assert _leftovers(tmp_path) == []


def test_each_failure_reason_is_named(tmp_path, idx_files):
    files, md5 = idx_files
    with (
        FileServer(files, modes={NAMES[0]: "stall"}) as stalled,
        FileServer({}) as empty,
        pytest.raises(DownloadError) as info,
    ):
        download_fashion_mnist(
            tmp_path,
            mirrors=[stalled.url, empty.url, unreachable_url()],
            checksums=md5,
            n_retries=0,
            timeout=1,
        )
    lines = str(info.value).splitlines()
    assert lines[1].strip() == f"{stalled.url}{NAMES[0]}: timed out after 1 s"
    assert lines[2].strip() == f"{empty.url}{NAMES[0]}: HTTP 404 Not Found"
    assert lines[3].strip().endswith(f"{NAMES[0]}: connection refused")
    assert "FASHIONCLF_DATA" in lines[4] and "load_sample()" in lines[4]
    assert _leftovers(tmp_path) == []


def test_mirrors_from_the_environment(tmp_path, idx_files, monkeypatch):
    from fashionclf.datasets import OFFICIAL_MIRRORS, get_mirrors

    files, md5 = idx_files
    assert get_mirrors() == OFFICIAL_MIRRORS
    with FileServer(files) as srv:
        dead = unreachable_url()
        monkeypatch.setenv("FASHIONCLF_MIRRORS", f"{dead}  {srv.url}")
        assert get_mirrors() == (dead, srv.url)
        download_fashion_mnist(tmp_path, checksums=md5, n_retries=0, timeout=2)
        assert len(srv.requests) == 4
    assert get_mirrors(["http://a/"]) == ("http://a/",)


@pytest.mark.parametrize("mode", ["not-http", "chunked-cut", "bad-length"])
def test_a_misbehaving_mirror_falls_back_to_the_next(tmp_path, idx_files, mode):
    files, md5 = idx_files
    with (
        FileServer(files, modes={n: mode for n in NAMES}) as bad,
        FileServer(files) as good,
    ):
        download_fashion_mnist(
            tmp_path, mirrors=[bad.url, good.url], checksums=md5, n_retries=0, timeout=5
        )
        assert len(good.requests) == 4
    assert sorted(
        p.name for p in tmp_path.iterdir() if not p.name.startswith(".")
    ) == sorted(NAMES)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("mode", "limit", "match"),
    [
        ("drip", {"deadline_s": 1}, r"not complete after 1 s"),
        ("endless", {"max_bytes": 2 * 2**20}, r"sent more than 2,097,152 bytes"),
    ],
)
def test_a_hostile_mirror_is_cut_off(tmp_path, idx_files, mode, limit, match):
    """A dripping mirror hits the deadline; an endless body, the size cap.

    The deadline holds inside each read: one byte every 0.05 s used to keep a
    read waiting for a whole 64 KiB block for 30 s (a hang bound, not a speed
    target: the bound is 10x what the cut-off takes).
    """
    import time

    from fashionclf.datasets.download import download

    files, md5 = idx_files
    started = time.monotonic()
    with (
        FileServer(files, modes={NAMES[0]: mode}) as srv,
        pytest.raises(DownloadError, match=match),
    ):
        download(
            NAMES[0],
            tmp_path,
            mirrors=[srv.url],
            md5=md5[NAMES[0]],
            n_retries=0,
            **limit,
        )
    assert time.monotonic() - started < 10
    assert _leftovers(tmp_path) == []
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) == 0


def test_downloaded_files_follow_the_umask(tmp_path, idx_files):
    import os

    files, md5 = idx_files
    old = os.umask(0o022)
    try:
        with FileServer(files) as srv:
            download_fashion_mnist(tmp_path, mirrors=[srv.url], checksums=md5)
    finally:
        os.umask(old)
    assert {(tmp_path / n).stat().st_mode & 0o777 for n in NAMES} == {0o644}
