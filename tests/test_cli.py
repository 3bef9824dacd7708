"""CLI: every subcommand through main([...]), good and bad input, exit codes."""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashionclf import load_sample
from fashionclf.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.pt"
    assert (
        main(["train", "--sample", "--preset", "tiny", "--out", str(path), "--quiet"])
        == 0
    )
    return path


@pytest.fixture
def pixel_csv(tmp_path):
    X, y = load_sample(subset="test", return_X_y=True, as_frame=True)
    path = tmp_path / "rows.csv"
    pd.concat([y, X], axis=1).iloc[:7].to_csv(path, index=False)
    return path


@pytest.fixture
def png(tmp_path):
    X, _ = load_sample(subset="test", return_X_y=True)
    path = tmp_path / "shoe.png"
    Image.fromarray(X[0].reshape(28, 28)).resize((100, 100)).convert("RGB").save(path)
    return path


def _err(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def test_info(capsys):
    assert main(["info", "--sample"]) == 0
    out = capsys.readouterr().out
    assert "train: 2000 images x 784 pixels (uint8)" in out and "9 Ankle boot" in out


def test_info_missing_data(tmp_path, capsys):
    assert main(["info", "--data-home", str(tmp_path), "--no-download"]) == 2
    err = _err(capsys)
    assert (
        err.startswith("fashionclf info: error: No Fashion-MNIST train files in")
        and "\n" not in err
    )


def test_fetch_unreachable_mirror(tmp_path, capsys, monkeypatch):
    from .http_server import unreachable_url

    monkeypatch.setenv("FASHIONCLF_MIRRORS", unreachable_url())  # documented
    assert main(["fetch", "--data-home", str(tmp_path)]) == 2
    assert _err(capsys).startswith("fashionclf fetch: error: could not download")


def test_train_and_evaluate(model_file, tmp_path, capsys):
    assert model_file.is_file()
    args = ["evaluate", "--sample", str(model_file), "--out-dir", str(tmp_path)]
    assert main([*args, "--saliency", "3"]) == 0
    assert "Ankle boot" in capsys.readouterr().out
    for png in ("confusion_matrix", "per_class_metrics", "misclassified", "saliency"):
        assert (tmp_path / f"{png}.png").read_bytes()[:4] == b"\x89PNG", png


def test_evaluate_saliency_needs_an_out_dir(model_file, capsys):
    with pytest.raises(SystemExit, match="--saliency needs --out-dir"):
        main(["evaluate", "--sample", str(model_file), "--saliency", "2"])


def test_predict_csv_and_image(model_file, pixel_csv, png, tmp_path):
    out = tmp_path / "p.csv"
    assert (
        main(["predict", str(model_file), str(pixel_csv), str(png), "--out", str(out)])
        == 0
    )
    frame = pd.read_csv(out)
    assert len(frame) == 8 and {
        "source",
        "label",
        "class_name",
        "proba_T-shirt/top",
        "proba_Ankle boot",
    } <= set(frame.columns)
    np.testing.assert_allclose(frame.filter(like="proba_").sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "make_args, match",
    [
        (
            lambda m, t: ["predict", str(m), str(t / "missing.csv")],
            "missing.csv: no such CSV file",
        ),
        (
            lambda m, t: ["predict", str(m), str(t / "missing.png")],
            "missing.png: no such image file",
        ),
        (
            lambda m, t: ["predict", str(t / "nomodel.pt"), str(t / "x.png")],
            "nomodel.pt: no such model file",
        ),
        (
            lambda m, t: ["predict", str(m), str(_write(t / "bad.csv", "a,b\n1,2\n"))],
            "784 pixel columns missing",
        ),
        (
            lambda m, t: [
                "predict",
                str(m),
                str(_write(t / "bad.png", "not an image")),
            ],
            "bad.png: not a readable image",
        ),
        (
            lambda m, t: [
                "predict",
                str(_write(t / "model.pt", "garbage")),
                str(t / "x.png"),
            ],
            "not a fashionclf weights-only model file",
        ),
        (
            lambda m, t: ["evaluate", "--sample", str(t / "nomodel.pt")],
            "nomodel.pt: no such model file",
        ),
        (
            lambda m, t: ["benchmark", "--sample", "--models", "resnet"],
            "unknown model 'resnet'",
        ),
    ],
    ids=[
        "missing-csv",
        "missing-image",
        "missing-model",
        "wrong-columns",
        "unreadable-image",
        "corrupt-model",
        "evaluate-missing-model",
        "unknown-model",
    ],
)
def test_bad_input_one_line(make_args, match, model_file, tmp_path, capsys):
    assert main(make_args(model_file, tmp_path)) == 2
    err = _err(capsys)
    assert match in err and len(err.splitlines()) == 1


def _write(path, text):
    path.write_text(text)
    return path


def test_unknown_preset_and_subcommand(capsys):
    assert main(["train", "--sample", "--preset", "huge"]) == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    assert main(["fly"]) == 2
    assert main([]) == 2


def test_help_for_every_subcommand(capsys):
    for cmd in ("fetch", "info", "train", "evaluate", "predict", "benchmark", "show"):
        assert main([cmd, "--help"]) == 0
        assert "usage: fashionclf " + cmd in capsys.readouterr().out


def test_benchmark(tmp_path, capsys):
    assert (
        main(["benchmark", "--sample", "--suite", "smoke", "--out-dir", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert re.search(r"\| logreg +\|", out) and "McNemar p" in out
    assert (tmp_path / "results.json").is_file() and (
        tmp_path / "accuracy_vs_time.png"
    ).is_file()


def test_benchmark_sets_parameters_of_single_models(tmp_path, capsys):
    args = ["benchmark", "--sample", "--out-dir", str(tmp_path), "--progress", "never"]
    models = ["--models", "logreg", "knn"]
    sets = [
        "--set",
        "logreg.logisticregression__C=0.01",
        "--set",
        "knn.pca__n_components=5",
    ]
    assert main([*args, *models, *sets]) == 0
    runs = json.loads((tmp_path / "results.json").read_text())
    assert {r["model"] for r in runs["runs"]} == {"logreg", "knn"}
    assert main([*args, *models, "--set", "logreg.C"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main([*args, *models, "--set", "C=1"]) == 2
    assert "expected MODEL.NAME=VALUE" in capsys.readouterr().err
    assert main([*args, *models, "--set", "svm_rbf.C=1"]) == 2
    assert "model_params for 'svm_rbf'" in capsys.readouterr().err


def test_benchmark_train_sizes_and_progress(tmp_path, capsys):
    args = ["benchmark", "--sample", "--models", "dummy", "cnn-tiny"]
    args += ["--train-sizes", "200", "600", "--progress", "always"]
    assert main([*args, "--out-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "Test accuracy by training-set size" in captured.out
    assert re.search(r"\| cnn-tiny +\|", captured.out.split("training-set size")[1])
    assert "n_train=200 ... epoch 1/1" in captured.err
    assert (tmp_path / "sample_efficiency.png").is_file()


def test_show(tmp_path):
    assert (
        main(
            [
                "show",
                "--sample",
                "--rows",
                "3",
                "--cols",
                "4",
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "fashionclf", "--version"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and r.stdout.startswith("fashionclf ")


def test_predict_refuses_to_overwrite_an_input(model_file, pixel_csv, capsys):
    before = pixel_csv.read_bytes()
    args = ["predict", str(model_file), str(pixel_csv), "--out", str(pixel_csv)]
    assert main(args) == 2
    assert "is also an input" in _err(capsys)
    assert pixel_csv.read_bytes() == before


def test_predict_writes_atomically_with_the_umask_mode(model_file, pixel_csv, tmp_path):
    import os

    out = tmp_path / "p.csv"
    out.write_text("old")
    old = os.umask(0o022)
    args = ["predict", str(model_file), str(pixel_csv), "--out", str(out)]
    try:
        assert main(args) == 2  # an existing file is replaced only when told
        assert out.read_text() == "old"
        assert main([*args, "--force"]) == 0
    finally:
        os.umask(old)
    assert out.read_text().startswith("source,row,label")
    assert out.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "rows.csv"]


def test_predict_says_what_it_merged_and_names_a_missing_file_once(
    model_file, png, tmp_path, capsys
):
    missing = tmp_path / "imgs" / "nonexist.png"
    out = tmp_path / "p.csv"
    args = ["predict", str(model_file), str(png), str(png), str(png.parent)]
    assert main([*args, str(missing), "--out", str(out)]) == 1  # one skipped
    captured = capsys.readouterr()
    assert "1 predictions written" in captured.out
    assert "input(s) named more than once" in captured.err
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].count(str(missing)) == 1, skipped


def test_predict_corrupt_gzip_csv(model_file, pixel_csv, tmp_path, capsys):
    import gzip

    bad = tmp_path / "rows.csv.gz"
    bad.write_bytes(gzip.compress(pixel_csv.read_bytes())[:-40] + b"\x00" * 40)
    assert (
        main(["predict", str(model_file), str(bad), "--out", str(tmp_path / "o.csv")])
        == 2
    )
    assert "rows.csv.gz: the gzip stream is corrupt or truncated" in _err(capsys)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://alice:PASSWORD@127.0.0.1:1/db",  # no such dialect
        "nosuchdb://alice:PASSWORD@127.0.0.1/db",
    ],
)
def test_tune_never_prints_a_database_password(url, capsys):
    args = ["tune", "--sample", "--model", "dummy", "--n-trials", "1", "--storage", url]
    assert main(args) == 2
    err = _err(capsys)
    assert "PASSWORD" not in err and "alice:***@127.0.0.1" in err


def test_tune_says_where_its_default_study_file_is_and_raises_no_warning(
    tmp_path, monkeypatch, capsys
):
    import warnings

    monkeypatch.chdir(tmp_path)
    args = ["tune", "--sample", "--model", "dummy", "--n-trials", "1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna's ExperimentalWarning included
        assert main([*args, "--heartbeat", "60"]) == 0
        first = capsys.readouterr().err
        assert main(args) == 0
    second = capsys.readouterr().err
    db = tmp_path / "fashionclf-study.db"
    assert db.is_file()
    assert f"study storage: a new file, {db} (--storage to choose another)" in first
    assert f"study storage: resumed from {db}" in second
    assert "Warning" not in first + second


def test_redact_urls():
    from fashionclf._utils.messages import redact_urls

    assert (
        redact_urls("x postgresql://u:p%40ss@h:5/d y") == "x postgresql://u:***@h:5/d y"
    )
    assert redact_urls("sqlite:///a.db and postgresql://u@h/d") == (
        "sqlite:///a.db and postgresql://u@h/d"
    )


# ---------------------------------------------------- work lost or reported done
def _optuna_logs_to_this_capture(monkeypatch):
    """Point Optuna's log handler at this test's captured stderr, until teardown.

    The handler keeps the stream it saw when Optuna was imported; a test that
    imported it under its own capture leaves a closed stream behind. The
    original is restored after the test, so later tests are unaffected.
    """
    import logging
    import sys

    for handler in logging.getLogger("optuna").handlers:
        if type(handler) is logging.StreamHandler:  # not pytest's own handlers
            monkeypatch.setattr(handler, "stream", sys.stderr)
            if hasattr(handler.formatter, "stream"):  # colorlog's isatty check
                monkeypatch.setattr(handler.formatter, "stream", sys.stderr)


@pytest.mark.parametrize(
    "args, name",
    [
        (["train", "--sample", "--preset", "tiny", "--max-epochs", "3"], "train"),
        (
            ["benchmark", "--sample", "--models", "cnn-tiny", "--max-epochs", "3"],
            "benchmark",
        ),
        (
            [
                "tune",
                "--sample",
                "--model",
                "cnn-tiny",
                "--n-trials",
                "1",
                "--max-epochs",
                "3",
                "--storage",
                "",
            ],
            "tune",
        ),
    ],
)
def test_ctrl_c_during_training_exits_130_and_records_nothing(
    args, name, tmp_path, monkeypatch, capsys
):
    from .helpers import interrupt_at

    monkeypatch.chdir(tmp_path)
    out = ["--out", "m.pt"] if name == "train" else []
    out = ["--out-dir", "res"] if name == "benchmark" else out
    interrupt_at(monkeypatch, epoch=2, batch=0)
    _optuna_logs_to_this_capture(monkeypatch)
    with pytest.warns(UserWarning, match="interrupted during epoch 2"):
        assert main([*args, *out]) == 130
    assert f"fashionclf {name}: interrupted" in _err(capsys)
    assert not (tmp_path / "m.pt").exists()
    assert not list(tmp_path.rglob("results.json"))


def test_train_checks_the_output_folder_before_loading_data(tmp_path, capsys):
    out = tmp_path / "missing" / "model.pt"
    args = ["train", "--data-home", str(tmp_path / "no-data"), "--no-download"]
    assert main([*args, "--out", str(out)]) == 2
    err = _err(capsys)
    assert "--out" in err and "missing" in err and "no such folder" in err


def _labels_model(tmp_path, offset):
    from .helpers import tiny_cnn

    X, y = load_sample(return_X_y=True)
    path = tmp_path / f"m{offset}.pt"
    tiny_cnn().fit(X[:300], y[:300] + offset).save(path)
    return path


@pytest.mark.parametrize("offset", [1, -2])
def test_class_names_only_for_exactly_the_classes_0_to_9(offset, pixel_csv, tmp_path):
    model = _labels_model(tmp_path, offset)
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(pixel_csv), "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert "class_name" not in frame
    assert set(frame["label"]) <= set(range(offset, 10 + offset))


def test_class_names_for_fashion_mnist_labels(model_file, pixel_csv, tmp_path):
    out = tmp_path / "p.csv"
    assert main(["predict", str(model_file), str(pixel_csv), "--out", str(out)]) == 0
    assert "class_name" in pd.read_csv(out)


def test_predict_escapes_file_names_and_formula_like_labels(png, tmp_path):
    import os

    from .helpers import tiny_cnn

    X, y = load_sample(return_X_y=True)
    labels = np.array(["=HYPERLINK(1)", "+a", "@b", "-c", "plain"])[y[:300] % 5]
    model = tmp_path / "m.pt"
    tiny_cnn().fit(X[:300], labels).save(model)
    odd = os.path.join(os.fsencode(tmp_path), b"\xff-shoe.png")  # not UTF-8
    with open(odd, "wb") as fh:
        fh.write(png.read_bytes())
    out = tmp_path / "p.csv"
    args = ["predict", str(model), os.fsdecode(odd), str(png), "--out", str(out)]
    assert main(args) == 0
    frame = pd.read_csv(out, dtype=str)
    assert frame["source"].iloc[0].endswith("\\xff-shoe.png")
    assert not [c for c in frame["label"] if c[0] in "=+-@"]
    assert set(frame["label"]) <= {"'=HYPERLINK(1)", "'+a", "'@b", "'-c", "plain"}
    assert "proba_=HYPERLINK(1)" in frame.columns  # a header starting "proba_"


# --------------------------------------------------------- storages that hang
@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 that accepts connections and never answers."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def _closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["silent", "closed", "sqlite-folder"])
def test_tune_storage_that_cannot_be_reached_ends_in_one_line(
    where, silent_port, tmp_path, capsys, monkeypatch
):
    import time

    from fashionclf.tuning import studies

    monkeypatch.setattr(studies, "CONNECT_TIMEOUT_S", 2)
    port = silent_port if where == "silent" else _closed_port()
    url = f"postgresql://alice:PASSWORD@127.0.0.1:{port}/db"
    if where == "sqlite-folder":
        url = f"sqlite:///{tmp_path}/no/such/folder/study.db"
    args = ["tune", "--sample", "--model", "dummy", "--n-trials", "1"]
    started = time.monotonic()
    assert main([*args, "--storage", url]) == 2
    assert time.monotonic() - started < 15
    err = _err(capsys)
    assert "\n" not in err and "PASSWORD" not in err
    assert "cannot reach the study storage" in err


# ------------------------------------ train/tune/evaluate finish what they start
def test_train_takes_any_parameter_and_a_params_file(tmp_path, capsys):
    import json

    from fashionclf import FashionCNNClassifier

    (tmp_path / "best.json").write_text(
        json.dumps({"model": "cnn-tiny", "params": {"lr": 0.002, "width": [4, 8]}})
    )
    out = tmp_path / "m.pt"
    args = ["train", "--sample", "--quiet", "--out", str(out), "--max-epochs", "1"]
    extra = ["--params", str(tmp_path / "best.json"), "--set", "dense_units=12"]
    extra += ["--set", "precision=float32", "--device", "cpu", "--num-threads", "1"]
    assert main([*args, *extra]) == 0
    assert "trained 'tiny'" in capsys.readouterr().out  # the file's model
    model = FashionCNNClassifier.load(out)
    assert model.lr == 0.002 and model.width == (4, 8) and model.dense_units == 12
    assert model.architecture == "cnn" and model.max_epochs == 1


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--set", "widht=48"], r"parameter 'widht'.*expected one of"),
        (["--set", "width"], r"--set 'width': expected NAME=VALUE"),
        (["--set", "lr=-1"], r"'lr' parameter"),
        (["--params", "missing.json"], r"--params missing.json"),
    ],
)
def test_train_refuses_bad_parameters_before_reading_data(
    extra, match, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    args = ["train", "--data-home", str(tmp_path / "none"), "--no-download"]
    assert main([*args, *extra]) == 2
    import re

    assert re.search(match, _err(capsys))


@pytest.fixture
def image_folder(tmp_path):
    """A shop's own folders of pictures: two classes, text labels."""
    X, y = load_sample(subset="test", return_X_y=True)
    root = tmp_path / "shop"
    for name, code in (("boots", 9), ("trousers", 1)):
        (root / name).mkdir(parents=True)
        for i, row in enumerate(X[y == code][:30]):
            picture = Image.fromarray(255 - row.reshape(28, 28)).resize((84, 84))
            picture.convert("RGB").save(root / name / f"{i}.png")
    (root / "boots" / "notes.txt").write_text("ignored")
    return root


def test_train_and_evaluate_on_a_folder_of_class_subfolders(
    image_folder, tmp_path, capsys
):
    out = tmp_path / "shop.pt"
    args = ["train", "--data", str(image_folder), "--preset", "tiny", "--quiet"]
    assert main([*args, "--max-epochs", "3", "--out", str(out)]) == 0
    assert "on 60 images" in capsys.readouterr().out
    assert main(["evaluate", "--data", str(image_folder), str(out)]) == 0
    report = capsys.readouterr().out
    assert "boots" in report and "trousers" in report and "accuracy" in report


def test_evaluate_on_a_labelled_csv_and_refuses_unknown_labels(
    model_file, tmp_path, capsys
):
    X, y = load_sample(subset="test", return_X_y=True, as_frame=True)
    path = tmp_path / "mine.csv"
    pd.concat([y, X], axis=1).iloc[:50].to_csv(path, index=False)
    assert main(["evaluate", "--data", str(path), str(model_file)]) == 0
    assert "Ankle boot" in capsys.readouterr().out
    frame = pd.concat([y.map(lambda k: f"c{k}"), X], axis=1).iloc[:50]
    frame.to_csv(path, index=False)
    assert main(["evaluate", "--data", str(path), str(model_file)]) == 2
    assert "never saw in training" in _err(capsys)
    pd.concat([X], axis=1).iloc[:5].to_csv(path, index=False)
    assert main(["evaluate", "--data", str(path), str(model_file)]) == 2
    assert "has no 'label' column" in _err(capsys)


def test_a_folder_without_class_subfolders_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "flat").mkdir()
    args = ["train", "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "m.pt")]
    assert main(args) == 2
    assert "holds no subfolders" in _err(capsys)


def test_predict_and_evaluate_take_trusted_modules(
    tmp_path, pixel_csv, capsys, monkeypatch
):
    import sys

    from fashionclf import FashionCNNClassifier

    (tmp_path / "fcl_cli_nets.py").write_text(
        "from torch import nn\n\n\n"
        "class Flat(nn.Module):\n"
        "    def __init__(self, n_classes=10):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(784, n_classes)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import fcl_cli_nets

    try:
        X, y = load_sample(return_X_y=True)
        model = FashionCNNClassifier(module=fcl_cli_nets.Flat, max_epochs=1)
        model.fit(X[:300], y[:300]).save(tmp_path / "user.pt")
        out = tmp_path / "p.csv"
        args = ["predict", str(tmp_path / "user.pt"), str(pixel_csv), "--out", str(out)]
        assert main(args) == 2
        assert "not trusted" in _err(capsys)
        assert main([*args, "--trusted-module", "fcl_cli_nets"]) == 0
        assert len(pd.read_csv(out)) == 7
        evaluate = ["evaluate", "--sample", str(tmp_path / "user.pt")]
        assert main([*evaluate, "--trusted-module", "fcl_cli_nets:Flat"]) == 0
    finally:
        sys.modules.pop("fcl_cli_nets", None)


def test_tune_writes_the_best_parameters_and_refits_them(tmp_path, capsys, monkeypatch):
    import json

    from fashionclf import FashionCNNClassifier

    monkeypatch.chdir(tmp_path)
    _optuna_logs_to_this_capture(monkeypatch)
    args = "tune --sample --model cnn-tiny --n-trials 1 --max-epochs 1".split()
    args += ["--storage", "", "--train-size", "400", "--progress", "never"]
    assert main([*args, "--best-out", "best.json", "--refit-out", "best.pt"]) == 0
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["model"] == "cnn-tiny" and record["params"]["max_epochs"] == 1
    model = FashionCNNClassifier.load(tmp_path / "best.pt")
    assert model.lr == pytest.approx(record["params"]["lr"])
    assert len(model.history_) == 1
    assert "refitted the best parameters on 2000 images" in capsys.readouterr().out
    # the file trains again
    assert main(["train", "--sample", "--quiet", "--params", "best.json"]) == 0
    capsys.readouterr()
    bad = ["tune", "--sample", "--model", "logreg", "--refit-out", "m.pt"]
    assert main(bad) == 2
    assert "expected a CNN model" in _err(capsys)


def test_tune_without_a_completed_trial_writes_nothing(tmp_path, capsys, monkeypatch):
    import optuna

    import fashionclf.tuning.search as search

    monkeypatch.chdir(tmp_path)
    _optuna_logs_to_this_capture(monkeypatch)
    monkeypatch.setattr(search, "run_study", lambda *a, **k: optuna.create_study())
    args = ["tune", "--sample", "--model", "dummy", "--storage", ""]
    assert main([*args, "--best-out", "best.json"]) == 2
    assert "no completed trial" in _err(capsys)
    assert not (tmp_path / "best.json").exists()


def _labelled_csv(path, n=80):
    X, y = load_sample(subset="test", return_X_y=True, as_frame=True)
    pd.concat([y, X], axis=1).iloc[:n].to_csv(path, index=False)
    return path


@pytest.mark.parametrize("flag", ["--data", "--params"])
def test_train_refuses_an_out_that_is_one_of_its_inputs(flag, tmp_path, capsys):
    data = _labelled_csv(tmp_path / "mydata.csv")
    params = tmp_path / "p.json"
    params.write_text('{"max_epochs": 1}')
    before = {p: p.read_bytes() for p in (data, params)}
    target = data if flag == "--data" else params
    args = ["train", "--data", str(data), "--params", str(params), "--quiet"]
    assert main([*args, "--out", str(target)]) == 2
    assert re.search(rf"--out .* is also {flag} ", _err(capsys))
    assert {p: p.read_bytes() for p in (data, params)} == before


def test_train_refuses_an_out_folder_before_training(tmp_path, capsys, monkeypatch):
    from fashionclf import FashionCNNClassifier

    fits = []
    monkeypatch.setattr(FashionCNNClassifier, "fit", lambda self, *a: fits.append(1))
    (tmp_path / "models").mkdir()
    args = ["train", "--sample", "--preset", "tiny", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "models")]) == 2
    assert "is a folder; expected a model file name" in _err(capsys)
    assert fits == []


def test_a_save_that_fails_after_training_keeps_the_model(
    tmp_path, capsys, monkeypatch
):
    """A full disk while saving: one line, exit 1, the model written elsewhere."""
    from fashionclf import FashionCNNClassifier

    real_save = FashionCNNClassifier.save
    out = tmp_path / "m.pt"

    def save(self, path, **kw):
        if str(path) == str(out):
            raise OSError(28, "No space left on device")
        return real_save(self, path, **kw)

    monkeypatch.setattr(FashionCNNClassifier, "save", save)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    args = ["train", "--sample", "--preset", "tiny", "--quiet", "--max-epochs", "1"]
    assert main([*args, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "could not save to" in captured.err and "No space left" in captured.err
    rescued = list((tmp_path / "tmp").glob("fashionclf-unsaved-*.safetensors"))
    assert len(rescued) == 1 and str(rescued[0]) in captured.err
    assert FashionCNNClassifier.load(rescued[0]).classes_.tolist() == list(range(10))
    assert not out.exists()


def test_a_full_disk_with_nowhere_to_rescue_ends_in_one_line(tmp_path):
    """ulimit -f: neither --out nor the temp folder takes the model."""
    import resource
    import subprocess
    import sys

    out = tmp_path / "old.safetensors"
    out.write_bytes(b"the old model")
    (tmp_path / "tmp").mkdir()

    def small_files():  # 20 KiB per file, as `ulimit -f 20` sets it
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024, 20 * 1024))

    args = ["train", "--sample", "--preset", "tiny", "--quiet", "--max-epochs", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "fashionclf", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("fashionclf train: error: could not save the trained")
    assert "File too large" in lines[0] and lines[0].endswith("it is lost.")
    assert out.read_bytes() == b"the old model"  # untouched
    assert list((tmp_path / "tmp").iterdir()) == []  # no half-written rescue


def _deep(n):
    return "[" * n + "]" * n


@pytest.mark.parametrize(
    ("extra", "code", "match"),
    [
        (["--set", "lr=1e10"], 1, r"loss became nan in epoch 1|training diverged"),
        (["--set", 'callbacks=["x"]'], 2, r"callbacks takes Python objects"),
        (["--set", f"width={_deep(5000)}"], 2, r"--set width: nested too deeply"),
        (["--set", f"width={_deep(40)}"], 2, r"width nested more than 16 levels"),
        (["--params", "deep.json"], 2, r"--params deep.json: .*expected a JSON file"),
    ],
    ids=[
        "lr-1e10",
        "callbacks-text",
        "width-5000-deep",
        "width-40-deep",
        "params-deep",
    ],
)
def test_train_parameter_mistakes_end_in_one_line(
    extra, code, match, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deep.json").write_text(_deep(100_000))
    args = ["train", "--sample", "--preset", "tiny", "--quiet", "--max-epochs", "1"]
    assert main([*args, *extra, "--out", str(tmp_path / "m.pt")]) == code
    err = _err(capsys)
    assert re.search(match, err) and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_class_folder_with_a_non_utf8_name_gives_escaped_labels(tmp_path, capsys):
    import os

    X, y = load_sample(subset="test", return_X_y=True)
    root = tmp_path / "shop"
    for name, code in ((b"chaussure_\xe9", 9), (b"bottes", 1)):
        folder = os.path.join(os.fsencode(root), name)
        os.makedirs(folder)
        for i, row in enumerate(X[y == code][:20]):
            picture = Image.fromarray(255 - row.reshape(28, 28)).resize((56, 56))
            picture.convert("RGB").save(os.path.join(folder, b"%d.png" % i))
    model = tmp_path / "shop.pt"
    args = ["train", "--data", str(root), "--preset", "tiny", "--quiet"]
    assert main([*args, "--max-epochs", "2", "--out", str(model)]) == 0
    shot = tmp_path / "shot.png"
    Image.fromarray(255 - X[y == 9][0].reshape(28, 28)).convert("RGB").save(shot)
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(shot), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert set(table.columns) >= {"proba_chaussure_\\xe9", "proba_bottes"}
    assert table["label"][0] in ("chaussure_\\xe9", "bottes")


def test_predict_skips_a_picture_with_a_truncated_exif_chunk(
    model_file, png, tmp_path, capsys
):
    import struct
    import zlib

    data = png.read_bytes()
    body = b"eXIf" + b"MM\x00*"
    chunk = struct.pack(">I", 4) + body + struct.pack(">I", zlib.crc32(body))
    (tmp_path / "bad.png").write_bytes(data[:33] + chunk + data[33:])
    out = tmp_path / "p.csv"
    code = main(
        [
            "predict",
            str(model_file),
            str(tmp_path / "bad.png"),
            str(png),
            "--out",
            str(out),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "skipped" in err and "bad.png: its EXIF block is unreadable" in err
    assert pd.read_csv(out)["source"].tolist() == [str(png)]
