"""The bad-input matrix: every public entry point against many kinds of bad input.

Each row names the call, the exception type (CLI: exit code 2 and one line,
no traceback) and part of the message; after each row nothing half-written
(``.*.fashionclf-tmp``) may be left in the row's folder.
"""

import gzip
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from fashionclf import (
    DataFormatError,
    FashionCNNClassifier,
    ImageFlattener,
    ImageReshaper,
    ModelFileError,
    PixelScaler,
    fetch_fashion_mnist,
    load_model,
    read_idx,
    read_kaggle_csv,
)
from fashionclf.cli import main
from fashionclf.datasets.formats import KAGGLE_COLUMNS, write_idx
from fashionclf.serialization import read_payload, write_payload
from fashionclf.tuning import open_study, run_study, search_space

from .helpers import tiny_cnn

HEADER = ",".join(KAGGLE_COLUMNS)
ROW = "1," + ",".join(["0"] * 784)
COLS = [f"pixel{i}" for i in range(1, 785)]
Z = np.zeros((4, 784), dtype=np.uint8)
Y = np.array([0, 1, 0, 1])


@pytest.fixture(scope="module")
def model(small):
    X, y, _, _ = small
    return tiny_cnn(width=4).fit(pd.DataFrame(X[:100], columns=COLS), y[:100])


def _csv(t, text, name="f.csv"):
    (t / name).write_text(text)
    return t / name


def _gz(t, data, name):
    (t / name).write_bytes(data)
    return t / name


def _model_file(t, m):
    m.save(t / "m.pt")
    return t / "m.pt"


def _mismatched(t, m):
    p = _model_file(t, m)
    payload = read_payload(p)
    payload["params"] = payload["params"].replace('"width": 4', '"width": 6')
    write_payload(payload, p)
    return p


def _edited(t, m, edit):
    p = _model_file(t, m)
    payload = read_payload(p)
    edit(payload)
    write_payload(payload, p)
    return p


def _nan_weight(payload):
    key = next(k for k in payload["state_dict"] if k.endswith(".weight"))
    payload["state_dict"][key].view(-1)[0] = float("nan")


def _dotted_module(payload):
    import json

    params = json.loads(payload["params"])
    params["module"] = "tests.helpers:np.os.system"
    payload["params"] = json.dumps(params)


def clone_fitted(m):
    return pickle.loads(pickle.dumps(m))


def _pickle(t):
    (t / "p.pt").write_bytes(pickle.dumps({"a": np.arange(3)}))
    return t / "p.pt"


def _payload_file(t, m, **changes):
    """A model file of ``m`` with some params or payload entries replaced."""
    import json

    m.save(t / "base.pt")
    payload = read_payload(t / "base.pt")
    params = json.loads(payload["params"])
    params.update({k: v for k, v in changes.items() if k in params})
    payload["params"] = json.dumps(params)
    payload.update({k: v for k, v in changes.items() if k not in params})
    write_payload(payload, t / "crafted.pt")
    return t / "crafted.pt"


def _image(t, name, make):
    from PIL import Image

    path = t / name
    make(Image, path)
    return path


def _read_images(paths):
    from fashionclf.datasets.images import read_images

    return read_images(paths)


def _cli(args):
    def run(t, m):
        code = main([a.format(t=t) for a in args])
        assert code == 2, code
        raise SystemExit(code)

    return run


ROWS = [
    # ---------------------------------------------------------------- data loaders
    (
        "fetch-bad-subset",
        lambda t, m: fetch_fashion_mnist(subset="val"),
        ValueError,
        "subset='val' is not valid",
    ),
    (
        "fetch-missing-folder",
        lambda t, m: fetch_fashion_mnist(
            data_home=t / "nope", download_if_missing=False
        ),
        FileNotFoundError,
        "No Fashion-MNIST train files",
    ),
    (
        "csv-wrong-header",
        lambda t, m: read_kaggle_csv(_csv(t, "a,b\n1,2\n")),
        DataFormatError,
        "header has 2 columns",
    ),
    (
        "csv-extra-column",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n{ROW}\n{ROW},5\n")),
        DataFormatError,
        "does not have 785 columns",
    ),
    (
        "csv-short-row",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n{ROW[:-2]}\n")),
        DataFormatError,
        "fewer than 785 values",
    ),
    (
        "csv-pixel-256",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n{ROW[:-1]}256\n")),
        DataFormatError,
        "outside 0-255",
    ),
    (
        "csv-negative-pixel",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n{ROW[:-1]}-1\n")),
        DataFormatError,
        "outside 0-255",
    ),
    (
        "csv-label-10",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n1{ROW}\n")),
        DataFormatError,
        "found label 11",
    ),
    (
        "csv-strings",
        lambda t, m: read_kaggle_csv(_csv(t, f"{HEADER}\n{ROW[:-1]}x\n")),
        DataFormatError,
        "non-integer",
    ),
    (
        "csv-empty-file",
        lambda t, m: read_kaggle_csv(_csv(t, "")),
        DataFormatError,
        "cannot parse",
    ),
    (
        "csv-truncated-gzip",
        lambda t, m: read_kaggle_csv(
            _gz(
                t,
                gzip.compress(((HEADER + "\n" + ROW + "\n") * 50).encode())[:300],
                "f.csv.gz",
            )
        ),
        DataFormatError,
        "corrupt or truncated",
    ),
    (
        "csv-missing",
        lambda t, m: read_kaggle_csv(t / "none.csv"),
        FileNotFoundError,
        "no such CSV file",
    ),
    (
        "idx-wrong-magic",
        lambda t, m: read_idx(_gz(t, b"\x00\x00\x09\x03" + b"\x00" * 16, "x.idx")),
        DataFormatError,
        "magic number is 0x00000903",
    ),
    (
        "idx-truncated",
        lambda t, m: read_idx(
            _gz(t, b"\x00\x00\x08\x01\x00\x00\x00\x09\x01\x02", "l.idx")
        ),
        DataFormatError,
        "truncated or corrupt",
    ),
    (
        "idx-is-a-csv",
        lambda t, m: read_idx(_csv(t, f"{HEADER}\n{ROW}\n")),
        DataFormatError,
        "IDX magic number",
    ),
    (
        "idx-one-byte",
        lambda t, m: read_idx(_gz(t, b"\x00", "b.idx")),
        DataFormatError,
        "too short for an IDX header",
    ),
    (
        "fetch-corrupt-idx-folder",
        lambda t, m: (
            write_idx(t / "t10k-labels-idx1-ubyte", np.array([1, 2])),
            _gz(t, b"\x00\x00\x08\x03junk", "t10k-images-idx3-ubyte"),
            fetch_fashion_mnist(subset="test", data_home=t),
        ),
        DataFormatError,
        "t10k-images-idx3-ubyte: IDX header is truncated",
    ),
    # ----------------------------------------------------------------- transformers
    (
        "scaler-nan",
        lambda t, m: PixelScaler().fit([[np.nan, 1.0]]),
        ValueError,
        "Input X contains NaN",
    ),
    (
        "scaler-strings",
        lambda t, m: PixelScaler().fit([["a", "b"]]),
        ValueError,
        "could not convert|dtype",
    ),
    (
        "scaler-over-255",
        lambda t, m: PixelScaler().fit([[300, 1]]),
        ValueError,
        r"pixel values in \[1, 300\]",
    ),
    (
        "scaler-wrong-features",
        lambda t, m: PixelScaler().fit(Z).transform(np.zeros((2, 5))),
        ValueError,
        "X has 5 features, but PixelScaler is expecting 784",
    ),
    (
        "reshaper-100-pixels",
        lambda t, m: ImageReshaper().fit(np.zeros((2, 100))),
        ValueError,
        "expected 784 pixels",
    ),
    (
        "reshaper-empty",
        lambda t, m: ImageReshaper().fit(np.zeros((0, 784))),
        ValueError,
        "0 sample",
    ),
    (
        "reshaper-1d",
        lambda t, m: ImageReshaper().fit(np.zeros(784)),
        ValueError,
        "Expected 2D array",
    ),
    (
        "flattener-shape-change",
        lambda t, m: (
            ImageFlattener().fit(np.zeros((2, 28, 28))).transform(np.zeros((2, 14, 56)))
        ),
        ValueError,
        r"samples of shape \(14, 56\)",
    ),
    # ------------------------------------------------------------------- classifier
    (
        "fit-colour",
        lambda t, m: tiny_cnn().fit(np.zeros((4, 28, 28, 3)), Y),
        ValueError,
        "Colour images",
    ),
    (
        "fit-inf",
        lambda t, m: tiny_cnn().fit(np.full((4, 784), np.inf), Y),
        ValueError,
        "infinity",
    ),
    (
        "fit-negative",
        lambda t, m: tiny_cnn().fit(np.full((4, 784), -3.0), Y),
        ValueError,
        "Negative values in data",
    ),
    ("fit-one-row", lambda t, m: tiny_cnn().fit(Z[:1], Y[:1]), ValueError, "1 sample"),
    (
        "fit-mismatched-lengths",
        lambda t, m: tiny_cnn().fit(Z, Y[:3]),
        ValueError,
        "inconsistent numbers of samples",
    ),
    (
        "fit-single-class",
        lambda t, m: tiny_cnn().fit(Z, [2, 2, 2, 2]),
        ValueError,
        "single class 2",
    ),
    (
        "fit-continuous-y",
        lambda t, m: tiny_cnn().fit(Z, [0.1, 0.2, 0.3, 0.4]),
        ValueError,
        "Unknown label type",
    ),
    (
        "fit-strings-as-pixels",
        lambda t, m: tiny_cnn().fit(np.full((4, 784), "7"), Y),
        ValueError,
        "could not convert|dtype",
    ),
    (
        "fit-bad-device",
        lambda t, m: tiny_cnn(device="quantum").fit(Z, Y),
        ValueError,
        "device='quantum'",
    ),
    (
        "fit-width-per-block-mismatch",
        lambda t, m: tiny_cnn(width=(4, 8, 16)).fit(Z, Y),
        ValueError,
        r"width=\(4, 8, 16\) does not fit n_blocks=2",
    ),
    (
        "fit-bad-param",
        lambda t, m: tiny_cnn(max_epochs=0).fit(Z, Y),
        ValueError,
        "'max_epochs' parameter",
    ),
    (
        "predict-unfitted",
        lambda t, m: FashionCNNClassifier().predict(Z),
        NotFittedError,
        "not fitted yet",
    ),
    (
        "predict-wrong-names",
        lambda t, m: m.predict(pd.DataFrame(Z, columns=[f"p{i}" for i in range(784)])),
        ValueError,
        "feature names",
    ),
    (
        "predict-wrong-pixels",
        lambda t, m: m.predict(np.zeros((2, 28, 27))),
        ValueError,
        "expected",
    ),
    (
        "predict-empty",
        # the model was fitted on named columns: pass them (no names warning)
        lambda t, m: m.predict(pd.DataFrame(np.zeros((0, 784)), columns=COLS)),
        ValueError,
        "0 sample",
    ),
    (
        "score-unknown-label",
        lambda t, m: m.score(pd.DataFrame(Z, columns=COLS), ["shoe"] * 4),
        ValueError,
        "label 'shoe' in y; expected one of the classes seen in fit",
    ),
    (
        "partial-fit-unknown-label",
        lambda t, m: tiny_cnn().partial_fit(Z, Y).partial_fit(Z, [7, 7, 7, 7]),
        ValueError,
        "label 7",
    ),
    (
        "partial-fit-wrong-pixels",
        lambda t, m: tiny_cnn().partial_fit(Z, Y).partial_fit(np.zeros((4, 783)), Y),
        ValueError,
        "X has 783 features",
    ),
    # ------------------------------------------------------------------- save/load
    (
        "save-unfitted",
        lambda t, m: FashionCNNClassifier().save(t / "u.pt"),
        NotFittedError,
        "not fitted",
    ),
    (
        "save-missing-dir",
        lambda t, m: m.save(t / "no" / "dir" / "m.pt"),
        FileNotFoundError,
        "No such file or directory",
    ),
    (
        "load-pickle",
        lambda t, m: load_model(_pickle(t)),
        ModelFileError,
        "not a fashionclf weights-only model file",
    ),
    (
        "load-truncated",
        lambda t, m: load_model(_gz(t, _model_file(t, m).read_bytes()[:500], "cut.pt")),
        ModelFileError,
        "not a fashionclf weights-only model file",
    ),
    (
        "load-nan-weight",
        lambda t, m: load_model(_edited(t, m, _nan_weight)),
        ModelFileError,
        "non-finite values",
    ),
    (
        "load-classes-a-string",
        lambda t, m: load_model(_edited(t, m, lambda p: p.update(classes='"ab"'))),
        ModelFileError,
        "'classes' is 'ab'; expected a flat list",
    ),
    (
        "load-module-through-another-module",
        lambda t, m: load_model(
            _edited(t, m, _dotted_module), trusted_modules=["tests.helpers"]
        ),
        ModelFileError,
        "is not 'package.module:Name'",
    ),
    (
        "load-trusted-modules-a-string",
        lambda t, m: load_model(_model_file(t, m), trusted_modules="posenet"),
        TypeError,
        "trusted_modules must be a list",
    ),
    (
        "load-million-epochs",
        lambda t, m: load_model(_edited(t, m, lambda p: p.update(n_epochs=10**6))),
        ModelFileError,
        "n_epochs=1000000",
    ),
    (
        "csv-repeated-header-name",
        lambda t, m: read_kaggle_csv(_csv(t, ",".join(["a"] * 3000) + "\n1\n")),
        DataFormatError,
        "header repeats 'a'",
    ),
    (
        "csv-endless-header",
        lambda t, m: read_kaggle_csv(_csv(t, "label" * 20_000)),
        DataFormatError,
        "no header line within",
    ),
    (
        "checkpoint-at-a-model-file",
        lambda t, m: tiny_cnn(checkpoint_path=str(_model_file(t, m))).fit(Z, Y),
        ValueError,
        "not a fashionclf checkpoint",
    ),
    (
        "predict-after-bad-set-params",
        lambda t, m: clone_fitted(m).set_params(precision="float64").predict(Z),
        ValueError,
        "'precision' parameter of FashionCNNClassifier",
    ),
    (
        "load-mismatched-tensors",
        lambda t, m: load_model(_mismatched(t, m)),
        ModelFileError,
        "do not match the architecture",
    ),
    (
        "load-missing",
        lambda t, m: load_model(t / "none.pt"),
        FileNotFoundError,
        "no such model file",
    ),
    (
        "load-huge-dense-layer",
        lambda t, m: load_model(_payload_file(t, m, dense_units=2**31)),
        ModelFileError,
        "declares dense_units=2147483648",
    ),
    (
        "load-thousands-of-convs",
        lambda t, m: load_model(_payload_file(t, m, convs_per_block=[20000])),
        ModelFileError,
        "declares convs_per_block=20000",
    ),
    (
        "load-deep-json",
        lambda t, m: load_model(_payload_file(t, m, classes="[" * 3000 + "]" * 3000)),
        ModelFileError,
        "RecursionError",
    ),
    (
        "load-params-not-an-object",
        lambda t, m: load_model(_payload_file(t, m, params="[1, 2]")),
        ModelFileError,
        "'params' is not a JSON object",
    ),
    # ---------------------------------------------------------------------- images
    (
        "image-postscript-named-png",
        lambda t, m: _read_images([_csv(t, "%!PS-Adobe-3.0\nshowpage\n", "p.png")]),
        DataFormatError,
        "expected a PNG, JPEG",
    ),
    (
        "image-gif",
        lambda t, m: _read_images(
            [_image(t, "a.gif", lambda Image, p: Image.new("L", (8, 8)).save(p))]
        ),
        DataFormatError,
        "expected a PNG, JPEG",
    ),
    (
        "image-too-large",
        lambda t, m: _read_images(
            [
                _image(
                    t, "big.png", lambda Image, p: Image.new("1", (5000, 4000)).save(p)
                )
            ]
        ),
        DataFormatError,
        "image is 5000x4000 pixels; expected at most 16,777,216",
    ),
    (
        "image-empty-file",
        lambda t, m: _read_images([_csv(t, "", "e.jpg")]),
        DataFormatError,
        "not a readable image",
    ),
    # ---------------------------------------------------------------------- tuning
    (
        "study-unknown-model",
        lambda t, m: run_study("resnet", Z, Y),
        ValueError,
        "model='resnet'",
    ),
    (
        "study-zero-workers",
        lambda t, m: run_study("dummy", Z, Y, n_workers=0),
        ValueError,
        "n_workers=0",
    ),
    (
        "study-bad-pruner",
        lambda t, m: open_study("s", pruner="sometimes"),
        ValueError,
        "pruner='sometimes'",
    ),
    (
        "space-unknown",
        lambda t, m: search_space("resnet"),
        ValueError,
        "model='resnet'",
    ),
    # ------------------------------------------------------------------------- CLI
    (
        "cli-info-missing",
        _cli(["info", "--data-home", "{t}/none", "--no-download"]),
        SystemExit,
        "2",
    ),
    (
        "cli-train-bad-preset",
        _cli(["train", "--sample", "--preset", "huge"]),
        SystemExit,
        "2",
    ),
    (
        "cli-train-zero-epochs",
        _cli(
            [
                "train",
                "--sample",
                "--preset",
                "tiny",
                "--max-epochs",
                "0",
                "--out",
                "{t}/m.pt",
            ]
        ),
        SystemExit,
        "2",
    ),
    (
        "cli-evaluate-missing",
        _cli(["evaluate", "--sample", "{t}/none.pt"]),
        SystemExit,
        "2",
    ),
    (
        "cli-predict-bad-csv",
        _cli(["predict", "{t}/none.pt", "{t}/x.csv"]),
        SystemExit,
        "2",
    ),
    (
        "cli-benchmark-unknown",
        _cli(["benchmark", "--sample", "--models", "resnet"]),
        SystemExit,
        "2",
    ),
    (
        "cli-show-missing",
        _cli(
            ["show", "--data-home", "{t}/none", "--no-download", "--out", "{t}/s.png"]
        ),
        SystemExit,
        "2",
    ),
    (
        "cli-tune-bad-model",
        _cli(["tune", "--sample", "--model", "resnet"]),
        SystemExit,
        "2",
    ),
    (
        "cli-tune-bad-storage",
        _cli(["tune", "--sample", "--model", "dummy", "--storage", "nosuchdb://x"]),
        SystemExit,
        "2",
    ),
    (
        "cli-fetch-bad-folder",
        _cli(["fetch", "--data-home", "/proc/forbidden/x"]),
        SystemExit,
        "2",
    ),
]


def test_matrix_is_large_enough():
    assert len(ROWS) >= 30 and len({r[0] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row_id, call, exc, match", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input(row_id, call, exc, match, model, tmp_path, capsys):
    with pytest.raises(exc, match=match):
        call(tmp_path, model)
    if row_id.startswith("cli-"):
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and err
        assert len(err.splitlines()) == 1 or "usage:" in err
    leftovers = [
        p.name for p in tmp_path.rglob("*") if p.name.endswith(".fashionclf-tmp")
    ]
    assert leftovers == []
