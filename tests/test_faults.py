"""Training faults: non-finite loss, Ctrl-C, checkpoint/resume, cross-process reproducibility."""

import subprocess
import sys

import numpy as np
import pytest

from fashionclf._estimator.training import TensorBatches

from .helpers import tiny_cnn


def _interrupt_at(monkeypatch, epoch: int, batch: int):
    """Raise KeyboardInterrupt (as Ctrl-C would) at ``batch`` of training ``epoch``."""
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


def test_non_finite_loss_stops_with_epoch():
    huge = np.full((64, 784), 3e37, dtype=np.float32)
    with pytest.raises(
        FloatingPointError,
        match=r"Training loss became (nan|inf) in epoch 1; expected a finite loss",
    ):
        tiny_cnn(pixel_range=None, standardize=False).fit(huge, np.arange(64) % 2)


def test_ctrl_c_keeps_last_completed_epoch(small, monkeypatch):
    X, y, Xt, _ = small
    _interrupt_at(monkeypatch, epoch=2, batch=3)
    with pytest.warns(
        UserWarning,
        match=r"interrupted during epoch 2; the model keeps the weights of the last completed epoch \(1\)",
    ):
        mid = tiny_cnn(max_epochs=3).fit(X, y)
    assert len(mid.history_) == 1 and "train_loss" in mid.history_[-1]
    monkeypatch.undo()
    _interrupt_at(monkeypatch, epoch=2, batch=0)
    with pytest.warns(UserWarning, match="interrupted during epoch 2"):
        at_start = tiny_cnn(max_epochs=3).fit(X, y)
    # the three batches of epoch 2 that ran before Ctrl-C were rolled back
    np.testing.assert_array_equal(mid.predict_proba(Xt), at_start.predict_proba(Xt))


def test_checkpoint_resume_equals_uninterrupted(small, monkeypatch, tmp_path):
    X, y, Xt, _ = small
    ckpt = tmp_path / "run.ckpt"
    params = dict(max_epochs=3, validation_fraction=0.2, random_state=3)
    reference = tiny_cnn(**params).fit(X, y).predict_proba(Xt)

    _interrupt_at(monkeypatch, epoch=3, batch=2)
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        tiny_cnn(checkpoint_path=str(ckpt), **params).fit(X, y)
    monkeypatch.undo()
    assert ckpt.is_file() and not list(tmp_path.glob(".*.fashionclf-tmp"))

    resumed = tiny_cnn(checkpoint_path=str(ckpt), **params).fit(X, y)
    assert len(resumed.history_) == 3  # 2 epochs from the checkpoint + 1 trained now
    np.testing.assert_array_equal(resumed.predict_proba(Xt), reference)


def test_checkpoint_for_other_data_is_ignored(small, tmp_path):
    X, y, Xt, _ = small
    ckpt = tmp_path / "run.ckpt"
    first = tiny_cnn(checkpoint_path=str(ckpt), max_epochs=2).fit(X[:200], y[:200])
    other = tiny_cnn(checkpoint_path=str(ckpt), max_epochs=2).fit(
        X[200:400], y[200:400]
    )
    fresh = tiny_cnn(max_epochs=2).fit(X[200:400], y[200:400])
    # trained afresh on the other data, not resumed from the first fit's weights
    np.testing.assert_array_equal(other.predict_proba(Xt), fresh.predict_proba(Xt))
    assert not np.array_equal(other.predict_proba(Xt), first.predict_proba(Xt))


_PREDICT = """
import hashlib, torch
from fashionclf import FashionCNNClassifier, load_sample
torch.set_num_threads(1)
X, y = load_sample(return_X_y=True)
clf = FashionCNNClassifier(max_epochs=2, width=8, batch_size=64, random_state=11).fit(X[:600], y[:600])
print(hashlib.sha256(clf.predict_proba(X[600:900]).tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_bit_identical_across_processes():
    digests = [
        subprocess.run(
            [sys.executable, "-c", _PREDICT], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert len(digests[0]) == 64 and digests[0] == digests[1]


def test_a_checkpoint_folder_gives_every_fit_of_a_search_its_own_file(small, tmp_path):
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = small
    folder = tmp_path / "ckpts"
    folder.mkdir()
    search = GridSearchCV(
        tiny_cnn(checkpoint_path=folder, max_epochs=1),
        {"lr": [1e-3, 3e-3]},
        cv=2,
        n_jobs=2,
    )
    search.fit(X[:300], y[:300])
    # 2 candidates x 2 folds + the refit on all 300 images: 5 distinct fits
    assert len(list(folder.glob("fit-*.ckpt"))) == 5
    assert not list(folder.glob(".*.fashionclf-tmp"))


def test_a_rerun_search_resumes_each_fit_from_its_own_file(small, tmp_path):
    X, y, Xt, _ = small
    folder = tmp_path / "ckpts"
    folder.mkdir()
    first = tiny_cnn(checkpoint_path=folder, max_epochs=2).fit(X[:200], y[:200])
    other = tiny_cnn(checkpoint_path=folder, max_epochs=2).fit(X[200:400], y[200:400])
    assert len(list(folder.glob("fit-*.ckpt"))) == 2
    again = tiny_cnn(checkpoint_path=folder, max_epochs=2).fit(X[:200], y[:200])
    assert again.net_.history[-1]["epoch"] == 2  # restored, no epoch retrained
    np.testing.assert_array_equal(again.predict_proba(Xt), first.predict_proba(Xt))
    assert not np.array_equal(other.predict_proba(Xt), first.predict_proba(Xt))


def test_stale_checkpoints_in_a_folder_are_deleted(small, tmp_path):
    import os
    import time

    from fashionclf._estimator.state import CHECKPOINT_MAX_AGE_S

    X, y, _, _ = small
    folder = tmp_path / "ckpts"
    folder.mkdir()
    stale, fresh, foreign = (
        folder / "fit-old.ckpt",
        folder / "fit-new.ckpt",
        folder / "notes.txt",
    )
    for path in (stale, fresh, foreign):
        path.write_bytes(b"x")
    old = time.time() - CHECKPOINT_MAX_AGE_S - 60
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    tiny_cnn(checkpoint_path=folder).fit(X[:100], y[:100])
    assert not stale.exists() and fresh.exists() and foreign.exists()


@pytest.mark.parametrize("kind", ["model", "csv"])
def test_checkpoint_path_at_a_foreign_file_is_refused_and_left_alone(
    small, tmp_path, kind
):
    X, y, _, _ = small
    target = tmp_path / ("m.pt" if kind == "model" else "rows.csv")
    if kind == "model":
        tiny_cnn().fit(X[:100], y[:100]).save(target)
    else:
        target.write_text("label,pixel1\n1,2\n")
    before = target.read_bytes()
    with pytest.raises(ValueError, match=r"is not a fashionclf checkpoint") as info:
        tiny_cnn(checkpoint_path=str(target)).fit(X[:100], y[:100])
    assert str(target) in str(info.value)
    assert "weights_only" not in str(info.value)  # never invite unsafe loading
    assert target.read_bytes() == before
    if kind == "model":
        assert "model file written by save" in str(info.value)
