"""The model that ships with fashionclf: loads, scores, is described by its card."""

import hashlib
import json
from importlib.resources import files

import pandas as pd

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
    }
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
