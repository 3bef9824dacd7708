"""A stranger's first run: where `make run` reads data, offline errors, full plots."""

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from fashionclf.cli import main
from fashionclf.datasets import OFFICIAL_MD5
from fashionclf.datasets.formats import write_idx

from .http_server import FileServer, unreachable_url

ROOT = Path(__file__).resolve().parents[1]
NAMES = list(OFFICIAL_MD5)


def _make_run(tmp_path, *, sibling: bool, env_data: str | None) -> str:
    """Run the Makefile's `run` recipe in a bare checkout, with a stand-in CLI."""
    checkout = tmp_path / "work" / "checkout"
    bindir = checkout / ".venv" / "bin"
    bindir.mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", checkout / "Makefile")
    (checkout / "pyproject.toml").write_text("")
    (checkout / ".venv" / ".installed").write_text("")  # newer: no install step
    fake = bindir / "fashionclf"
    fake.write_text(
        '#!/bin/sh\necho "cli FASHIONCLF_DATA=${FASHIONCLF_DATA-unset} $*"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    if sibling:
        (tmp_path / "work" / "shared" / "data" / "fashion-mnist").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASHIONCLF_")}
    env["HOME"] = str(tmp_path / "home")
    if env_data is not None:
        env["FASHIONCLF_DATA"] = env_data
    out = subprocess.run(
        ["make", "-s", "run"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_uses_the_library_default_without_a_sibling_folder(tmp_path):
    out = _make_run(tmp_path, sibling=False, env_data=None)
    assert "data: ~/fashionclf_data" in out and "downloaded once" in out
    assert "cli FASHIONCLF_DATA=unset benchmark --suite quick" in out


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_uses_the_sibling_shared_copy_when_present(tmp_path):
    out = _make_run(tmp_path, sibling=True, env_data=None)
    assert "cli FASHIONCLF_DATA=../shared/data/fashion-mnist benchmark" in out


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_honours_fashionclf_data(tmp_path):
    out = _make_run(tmp_path, sibling=True, env_data="/my/data")
    assert "data: /my/data (from FASHIONCLF_DATA)" in out
    assert "cli FASHIONCLF_DATA=/my/data benchmark" in out


def test_offline_error_lists_each_mirror_reason_and_the_remedies(
    tmp_path, monkeypatch, capsys
):
    with FileServer({}) as empty:  # answers 404 to everything
        monkeypatch.setenv("FASHIONCLF_MIRRORS", f"{unreachable_url()} {empty.url}")
        assert main(["info", "--data-home", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == (
        f"fashionclf info: error: could not download {NAMES[0]} from any of 2 "
        "mirror(s):"
    )
    assert lines[1].strip().endswith(f"{NAMES[0]}: connection refused (3 attempts)")
    assert lines[2].strip().endswith(f"{NAMES[0]}: HTTP 404 Not Found (3 attempts)")
    assert "--data-home" in lines[3] and "FASHIONCLF_DATA" in lines[3]
    assert "Kaggle CSVs" in lines[3] and "--sample" in lines[3]


@pytest.fixture
def sample_mirror(sample, tmp_path_factory, monkeypatch):
    """A local mirror serving IDX files made from the bundled sample."""
    X, y, Xt, yt = sample
    folder = tmp_path_factory.mktemp("mirror")
    files = {}
    for name, arr in zip(NAMES, [X, y, Xt, yt], strict=True):
        write_idx(folder / name, arr)
        files[name] = (folder / name).read_bytes()
        # the stand-in files are not the official ones: accept their checksums
        monkeypatch.setitem(OFFICIAL_MD5, name, hashlib.md5(files[name]).hexdigest())
    with FileServer(files) as srv:
        yield srv


def test_first_run_downloads_into_the_data_home_and_plots_every_curve(
    tmp_path, monkeypatch, sample_mirror, capsys
):
    home, checkout = tmp_path / "home", tmp_path / "checkout"
    home.mkdir()
    checkout.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FASHIONCLF_DATA")
    monkeypatch.setenv("FASHIONCLF_CACHE", str(checkout / ".cache" / "fashionclf"))
    monkeypatch.setenv("MPLCONFIGDIR", str(checkout / ".cache" / "matplotlib"))
    monkeypatch.setenv("FASHIONCLF_MIRRORS", sample_mirror.url)
    monkeypatch.chdir(checkout)
    out = checkout / "results"
    assert main(["benchmark", "--suite", "smoke", "--out-dir", str(out)]) == 0
    assert len(sample_mirror.requests) == 4
    assert sorted(p.name for p in home.iterdir()) == ["fashionclf_data"]
    assert sorted(p.name for p in (home / "fashionclf_data").iterdir()) == sorted(
        NAMES
    )  # the download lock lives in the temp folder, not in the data home
    assert (out / "learning_curves_cnn-tiny.png").is_file()
    assert "cnn-tiny" in capsys.readouterr().out
