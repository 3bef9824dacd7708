"""The model that ships with fashionclf: loads, scores, is described by its card."""

import hashlib
import json
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from fashionclf import FashionCNNClassifier, read_kaggle_csv
from fashionclf.cli import main

CARD = json.loads(files("fashionclf").joinpath("data/pretrained.json").read_text())


def test_the_shipped_model_scores_what_its_card_says(shared_data):
    model = FashionCNNClassifier.pretrained()
    X, y = read_kaggle_csv(shared_data / "fashion-mnist_test.csv.gz")
    accuracy = model.score(X, y)
    assert accuracy >= 0.935
    assert round(accuracy, 4) == CARD["test_accuracy"]


def test_the_shipped_file_is_small_weights_only_and_matches_its_card():
    path = files("fashionclf").joinpath("data/pretrained.safetensors")
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == CARD["weights_sha256"]
    assert len(data) == CARD["file_bytes"] < 2_000_000  # no optimizer state
    model = FashionCNNClassifier.pretrained()
    assert model.classes_.tolist() == list(range(10))
    assert model.get_params() == {
        **FashionCNNClassifier().get_params(),
        "random_state": 0,
        "device": "cpu",
        # trained before the default became 'auto'; a bf16 refit was not better
        "precision": "float32",
    }
    assert model.precision_ == "float32"
    assert CARD["random_state"] == 0
    for key in ("command", "data_sha256", "commit", "machine", "torch"):
        assert CARD[key]


def test_predict_with_the_shipped_model_says_so(tmp_path, capsys):
    from fashionclf import load_sample

    X, _ = load_sample(subset="test", return_X_y=True)
    rows = tmp_path / "rows.csv"
    pd.DataFrame(X[:5], columns=[f"pixel{i}" for i in range(1, 785)]).to_csv(
        rows, index=False
    )
    out = tmp_path / "p.csv"
    assert main(["predict", "--pretrained", str(rows), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "model: the pretrained model shipped with fashionclf" in err
    assert len(pd.read_csv(out)) == 5


def test_predict_without_an_input_says_what_it_expects(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "shot.png")]) == 2
    err = capsys.readouterr().err
    assert "no input; expected MODEL INPUT [INPUT ...], or --pretrained" in err


def test_tampered_shipped_weights_are_refused(tmp_path, monkeypatch, capsys):
    """Two rows of the head swapped: the file still parses, its sha256 differs."""
    import shutil

    import fashionclf.classifier
    from fashionclf import ModelFileError
    from fashionclf.serialization import read_payload, write_payload

    package = files("fashionclf")
    (tmp_path / "data").mkdir()
    shutil.copy(package / "data/pretrained.json", tmp_path / "data/pretrained.json")
    payload = read_payload(package / "data/pretrained.safetensors")
    head = sorted(k for k in payload["state_dict"] if k.endswith("weight"))[-1]
    weight = payload["state_dict"][head]
    weight[[0, 1]] = weight[[1, 0]].clone()
    write_payload(payload, tmp_path / "data/pretrained.safetensors")
    monkeypatch.setattr(fashionclf.classifier, "files", lambda package: tmp_path)
    with pytest.raises(
        ModelFileError, match=r"the model card .* says 7530c057.*altered"
    ):
        FashionCNNClassifier.pretrained()
    rows = tmp_path / "rows.csv"
    pd.DataFrame(np.zeros((2, 784), np.uint8)).to_csv(rows, index=False)
    assert (
        main(["predict", "--pretrained", str(rows), "--out", str(tmp_path / "p.csv")])
        != 0
    )
    err = capsys.readouterr().err
    assert "altered or damaged" in err and "94.40%" not in err
    assert not (tmp_path / "p.csv").exists()


def test_the_shipped_model_takes_the_loaders_frames_silently_and_refuses_0_1_floats(
    recwarn,
):
    from fashionclf import load_sample

    X, y = load_sample(subset="test", return_X_y=True, as_frame=True)
    model = FashionCNNClassifier.pretrained()
    assert list(X.columns[:2]) == ["pixel1", "pixel2"]
    assert model.score(X, y) >= 0.9
    assert not [w for w in recwarn if "feature names" in str(w.message)]
    with pytest.raises(ValueError, match=r"float pixels in \[0, 1\].*pixel_range"):
        model.score(X / 255.0, y)


def test_predict_on_a_csv_of_0_1_floats_exits_2_in_one_line(tmp_path, capsys):
    from fashionclf import load_sample

    X, _ = load_sample(subset="test", return_X_y=True)
    rows = tmp_path / "scaled.csv"
    pd.DataFrame(X[:3] / 255.0, columns=[f"pixel{i}" for i in range(1, 785)]).to_csv(
        rows, index=False
    )
    out = tmp_path / "p.csv"
    assert main(["predict", "--pretrained", str(rows), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "look scaled to 0-1" in err[0], err
    assert not out.exists()
