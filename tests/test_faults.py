"""Training faults: non-finite loss, Ctrl-C, cross-process reproducibility (checkpoints: test_checkpoints)."""

import subprocess
import sys

import numpy as np
import pytest

from .helpers import interrupt_at, tiny_cnn


def test_non_finite_loss_stops_with_epoch():
    huge = np.full((64, 784), 3e37, dtype=np.float32)
    with pytest.raises(
        FloatingPointError,
        match=r"Training loss became (nan|inf) in epoch 1; expected a finite loss",
    ):
        tiny_cnn(pixel_range=None, standardize=False).fit(huge, np.arange(64) % 2)


def test_ctrl_c_keeps_last_completed_epoch(small, monkeypatch):
    X, y, Xt, _ = small
    interrupt_at(monkeypatch, epoch=2, batch=3)
    with pytest.warns(
        UserWarning,
        match=r"interrupted during epoch 2; the model keeps the weights of the last completed epoch \(1\)",
    ):
        mid = tiny_cnn(max_epochs=3).fit(X, y)
    assert len(mid.history_) == 1 and "train_loss" in mid.history_[-1]
    monkeypatch.undo()
    interrupt_at(monkeypatch, epoch=2, batch=0)
    with pytest.warns(UserWarning, match="interrupted during epoch 2"):
        at_start = tiny_cnn(max_epochs=3).fit(X, y)
    # the three batches of epoch 2 that ran before Ctrl-C were rolled back
    np.testing.assert_array_equal(mid.predict_proba(Xt), at_start.predict_proba(Xt))


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
