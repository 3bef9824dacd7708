"""Helpers the tests import (fixtures and hooks stay in conftest.py)."""

from pathlib import Path

import numpy as np

#: The shared Fashion-MNIST copy beside the checkout, if there is one.
SHARED = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
)

#: The parameters of :func:`tiny_cnn`.
TINY = dict(
    # float32 whatever the CPU: the tests' numbers do not depend on the machine
    # (the default, precision='auto', is tested on its own)
    precision="float32",
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


def interrupt_at(monkeypatch, epoch: int, batch: int):
    """Raise KeyboardInterrupt (as Ctrl-C would) at ``batch`` of training ``epoch``."""
    from fashionclf._estimator.training import TensorBatches

    original = TensorBatches.__iter__
    seen = {"epochs": 0}

    def patched(self):
        if not self.shuffle:  # evaluation iterators run untouched
            yield from original(self)
            return
        seen["epochs"] += 1
        for i, b in enumerate(original(self)):
            if seen["epochs"] == epoch and i == batch:
                raise KeyboardInterrupt
            yield b

    monkeypatch.setattr(TensorBatches, "__iter__", patched)
