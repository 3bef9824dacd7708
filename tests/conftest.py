import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionclf import load_sample

SHARED = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
)


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_test_process():
    # Tests are tiny; one torch thread keeps timings steady and leaves a core free.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never read or write the user's real data/cache folders from tests."""
    monkeypatch.setenv("FASHIONCLF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FASHIONCLF_DATA", str(tmp_path / "no-data-here"))


@pytest.fixture(scope="session")
def sample():
    X, y = load_sample(return_X_y=True)
    Xt, yt = load_sample(subset="test", return_X_y=True)
    return X, y, Xt, yt


@pytest.fixture(scope="session")
def small(sample):
    """600 training and 200 test images: enough to learn something in 1-2 epochs."""
    X, y, Xt, yt = sample
    return X[:600], y[:600], Xt[:200], yt[:200]


@pytest.fixture
def shared_data():
    if not (SHARED / "fashion-mnist_test.csv.gz").is_file():
        pytest.skip(f"shared Fashion-MNIST copy not found at {SHARED}")
    return SHARED


#: The parameters of :func:`tiny_cnn`.
TINY = dict(
    architecture="cnn",
    n_blocks=2,
    dropout=0.25,
    max_epochs=1,
    width=8,
    dense_units=16,
    batch_size=64,
    random_state=0,
)


def tiny_cnn(**kw):
    """A classifier cheap enough for unit tests (a few seconds per fit).

    The 'cnn' network: it learns from 600 images in one or two epochs, where
    the default 'compact' one needs a few more (its batch-norm statistics
    settle later); tests that are about the compact network say so.
    """
    from fashionclf import FashionCNNClassifier

    return FashionCNNClassifier(**{**TINY, **kw})


def checks_cnn(**kw):
    """A configuration for arbitrary tabular data: 1x1 'images', no scaling."""
    params = dict(
        image_shape=(-1, 1, 1),
        pixel_range=None,
        augment=False,
        max_epochs=15,
        batch_size=32,
        n_blocks=1,
        convs_per_block=1,
        dropout=0.0,
        lr=1e-2,
    )
    params.update(kw)
    return tiny_cnn(**params)


__all__ = ["SHARED", "checks_cnn", "np", "os", "tiny_cnn"]


_DESELECTED: list[str] = []


def pytest_collection_modifyitems(config, items):
    """Drop sklearn's array-API check: no fashionclf estimator claims array-API
    support (they convert input to numpy/torch), and the check only skips
    without SCIPY_ARRAY_API; deselected, counted and named in the summary."""
    keep = []
    for item in items:
        if "check_array_api_input" in item.nodeid:
            _DESELECTED.append(item.nodeid)
        else:
            keep.append(item)
    if _DESELECTED:
        config.hook.pytest_deselected(
            items=[i for i in items if i.nodeid in _DESELECTED]
        )
        items[:] = keep


def pytest_terminal_summary(terminalreporter):
    xfailed = terminalreporter.stats.get("xfailed", [])
    for report in xfailed:
        if "check_sample_weight_equivalence" in report.nodeid:
            terminalreporter.write_line(
                "xfailed sklearn check_sample_weight_equivalence_on_dense_data "
                "(expected): mini-batch SGD on shuffled batches, so a weight of 2 is "
                "not the same as a repeated row."
            )
            break
    if _DESELECTED:
        terminalreporter.write_line(
            f"deselected {len(_DESELECTED)} sklearn check_array_api_input checks: "
            "fashionclf estimators do not claim array-API support."
        )


def trial_states(study):
    """``{TrialState: count}`` of a study's trials."""
    out = {}
    for t in study.trials:
        out[t.state] = out.get(t.state, 0) + 1
    return out


def kaggle_folder(folder, sample):
    """Write the sample as Kaggle CSVs into ``folder``; return the folder."""
    import gzip

    import pandas as pd

    from fashionclf.datasets.formats import KAGGLE_COLUMNS

    X, y, Xt, yt = sample
    folder.mkdir(parents=True, exist_ok=True)
    for name, (A, b) in {"train": (X, y), "test": (Xt, yt)}.items():
        frame = pd.DataFrame(np.column_stack([b, A]), columns=KAGGLE_COLUMNS)
        with gzip.open(folder / f"fashion-mnist_{name}.csv.gz", "wt") as fh:
            frame.to_csv(fh, index=False)
    return folder
