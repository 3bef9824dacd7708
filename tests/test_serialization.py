"""Weights-only model files: exact round trip, never unpickle, refuse mismatches."""

import pickle

import numpy as np
import pytest
import torch

from fashionclf import FashionCNNClassifier, ModelFileError, load_model, save_model

from .conftest import tiny_cnn


@pytest.fixture(scope="module")
def fitted(small):
    X, y, _, _ = small
    names = np.array(["a", "b", "c"])[y[:200] % 3]
    return tiny_cnn(width=4, tta=True).fit(X[:200], names)


def test_round_trip_identical(fitted, small, tmp_path):
    Xt = small[2][:30]
    fitted.save(tmp_path / "m.pt")
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    np.testing.assert_array_equal(loaded.predict_proba(Xt), fitted.predict_proba(Xt))
    assert loaded.get_params() == {**fitted.get_params(), "device": "cpu"}
    assert loaded.classes_.tolist() == ["a", "b", "c"]
    assert not list(tmp_path.glob("*.part-*"))


def test_file_holds_only_tensors_and_text(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format"] == "fashionclf.FashionCNNClassifier"
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


@pytest.mark.parametrize("dump", ["pickle", "torch"])
def test_code_in_file_is_refused_not_run(tmp_path, monkeypatch, dump):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(_Boom()))
    else:
        torch.save({"format": "fashionclf.FashionCNNClassifier", "x": _Boom()}, path)
    with pytest.raises(
        ModelFileError,
        match=r"evil.pt: not a fashionclf weights-only model file.*trusted sources",
    ):
        load_model(path)
    assert not (tmp_path / "PWNED").exists()


def test_mismatched_tensors_are_refused(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["params"] = payload["params"].replace('"width": 4', '"width": 8')
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(
        ModelFileError, match=r"bad.pt: its tensors do not match the architecture"
    ):
        load_model(tmp_path / "bad.pt")


def test_not_a_model(tmp_path):
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(
        ModelFileError, match=r"holds no 'fashionclf.FashionCNNClassifier' model"
    ):
        load_model(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage")
    with pytest.raises(
        ModelFileError, match="not a fashionclf weights-only model file"
    ):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt: no such model file"):
        load_model(tmp_path / "missing.pt")


def test_save_unfitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_model(FashionCNNClassifier(), "never.pt")


def test_round_trip_per_block_sizes(small, tmp_path):
    X, y, Xt, _ = small
    model = tiny_cnn(width=(4, 8), convs_per_block=(1, 2)).fit(X[:200], y[:200])
    model.save(tmp_path / "m.pt")
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    assert loaded.get_params() == {**model.get_params(), "device": "cpu"}
    np.testing.assert_array_equal(loaded.predict(Xt[:20]), model.predict(Xt[:20]))
