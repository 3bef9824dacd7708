"""fashionclf.serialization.checkpoints: per-epoch checkpoints, resumed exactly."""

import numpy as np
import pytest
import torch

from .helpers import interrupt_at, tiny_cnn


def test_checkpoints_hold_the_same_state(small, tmp_path):
    X, y, _, _ = small
    tiny_cnn(max_epochs=1, checkpoint_path=str(tmp_path / "c.ckpt")).fit(
        X[:200], y[:200]
    )
    payload = torch.load(tmp_path / "c.ckpt", weights_only=True)
    assert set(payload) == {
        "fingerprint",
        "module",
        "optimizer",
        "lr_total_steps",
        "lr_step",
        "history",
    }


def test_checkpoint_resume_equals_uninterrupted(small, monkeypatch, tmp_path):
    X, y, Xt, _ = small
    ckpt = tmp_path / "run.ckpt"
    params = dict(max_epochs=3, validation_fraction=0.2, random_state=3)
    reference = tiny_cnn(**params).fit(X, y).predict_proba(Xt)

    interrupt_at(monkeypatch, epoch=3, batch=2)
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

    from fashionclf.serialization.checkpoints import CHECKPOINT_MAX_AGE_S

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
