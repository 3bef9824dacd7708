"""Weights-only model files: exact round trip, never unpickle, refuse mismatches."""

import pickle

import numpy as np
import pytest
import torch

from fashionclf import FashionCNNClassifier, ModelFileError, load_model, save_model
from fashionclf.serialization import read_payload, write_payload

from .helpers import tiny_cnn


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
    assert not list(tmp_path.glob(".*.fashionclf-tmp"))


def test_file_is_safetensors_that_other_tools_read(fitted, tmp_path):
    from safetensors import safe_open

    save_model(fitted, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").read_bytes().startswith(b"PK")  # no zip, no pickle
    with safe_open(tmp_path / "m.pt", framework="pt") as fh:
        metadata, names = fh.metadata(), set(fh.keys())
        weight = fh.get_tensor("state_dict/net.features.0.weight")
    assert metadata["format"] == "fashionclf.FashionCNNClassifier"
    assert metadata["format_version"] == "2"
    state = fitted.net_.module_.state_dict()
    assert {f"state_dict/{k}" for k in state} <= names
    assert torch.equal(weight, state["net.features.0.weight"])
    payload = read_payload(tmp_path / "m.pt")
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


def test_a_torch_zip_archive_is_not_a_model_file(fitted, tmp_path):
    """Model files are safetensors only: a torch.save archive of the same payload
    (the format of unreleased development versions) is refused, never unpickled."""
    save_model(fitted, tmp_path / "m.pt")
    torch.save(read_payload(tmp_path / "m.pt"), tmp_path / "zip.pt")
    with pytest.raises(ModelFileError, match=r"zip.pt: not a fashionclf weights-only"):
        load_model(tmp_path / "zip.pt")


def test_a_safetensors_file_must_say_version_2(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.pt")
    payload = read_payload(tmp_path / "m.pt")
    payload["format_version"] = 1
    write_payload(payload, tmp_path / "st1.pt")
    with pytest.raises(
        ModelFileError, match=r"format version 1; this fashionclf reads version 2"
    ):
        load_model(tmp_path / "st1.pt")


def test_the_precision_a_file_says_its_network_trained_in_is_checked(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.safetensors")
    payload = read_payload(tmp_path / "m.safetensors")
    assert payload["precision"] == fitted.precision_
    del payload["precision"]  # a file from before it was recorded: the parameter's
    write_payload(payload, tmp_path / "old.safetensors")
    assert load_model(tmp_path / "old.safetensors").precision_ == "float32"
    payload["precision"] = "float64"
    write_payload(payload, tmp_path / "bad.safetensors")
    with pytest.raises(ModelFileError, match=r"precision='float64'; expected one of"):
        load_model(tmp_path / "bad.safetensors")


def test_a_header_size_that_begins_with_pk_loads(fitted, small, tmp_path):
    """A header of 0x4B50 bytes: the file's first two bytes are then b'PK'.

    (One saved file in 8,192 had them when a zip reader took those bytes for
    an archive.) A class label is padded until the header is exactly that size.
    """
    import copy
    import struct

    model = copy.deepcopy(fitted)

    def header_size(pad):
        model.classes_ = np.array(["a" * pad, "b", "c"], dtype=object)
        model.save(tmp_path / "m.pt")
        return struct.unpack("<Q", (tmp_path / "m.pt").read_bytes()[:8])[0]

    start = 0x4B50 - header_size(1)
    pad = next(p for p in range(start - 8, start + 9) if header_size(p) == 0x4B50)
    header_size(pad)
    assert (tmp_path / "m.pt").read_bytes()[:2] == b"PK"
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.classes_.tolist() == ["a" * pad, "b", "c"]
    Xt = small[2][:5]
    np.testing.assert_array_equal(loaded.predict_proba(Xt), fitted.predict_proba(Xt))


def test_hostile_safetensors_containers_are_refused_cheaply(fitted, tmp_path):
    import struct

    from safetensors.torch import save_file

    (tmp_path / "header.pt").write_bytes(struct.pack("<Q", 2**33) + b"{" * 64)
    with pytest.raises(ModelFileError, match=r"header.pt: not a fashionclf .*header"):
        load_model(tmp_path / "header.pt")
    save_model(fitted, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"cut.pt: not a fashionclf"):
        load_model(tmp_path / "cut.pt")
    save_file({"x": torch.zeros(1)}, tmp_path / "foreign.pt", metadata={"a": "b"})
    with pytest.raises(ModelFileError, match=r"foreign.pt: not a fashionclf.*'tree'"):
        load_model(tmp_path / "foreign.pt")
    payload = read_payload(tmp_path / "m.pt")
    payload["extra"] = {str(i): torch.zeros(1) for i in range(4097)}
    write_payload(payload, tmp_path / "many.pt")
    with pytest.raises(ModelFileError, match=r"many.pt: .*tensors; at most 4096"):
        load_model(tmp_path / "many.pt")


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
        match=r"evil.pt: not a fashionclf weights-only model file.*can execute code",
    ) as info:
        load_model(path)
    assert not (tmp_path / "PWNED").exists()
    assert "joblib" not in str(info.value)  # never invite opening it another way


def test_mismatched_tensors_are_refused(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.pt")
    payload = read_payload(tmp_path / "m.pt")
    payload["params"] = payload["params"].replace('"width": 4', '"width": 8')
    write_payload(payload, tmp_path / "bad.pt")
    with pytest.raises(
        ModelFileError, match=r"bad.pt: its tensors do not match the architecture"
    ):
        load_model(tmp_path / "bad.pt")


def test_not_a_model(tmp_path):
    write_payload({"hello": 1}, tmp_path / "other.pt")
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


def test_compact_network_round_trip(small, tmp_path):
    X, y, Xt, _ = small
    model = FashionCNNClassifier(max_epochs=1, width=8, random_state=0).fit(X, y)
    assert model.architecture == "compact"
    model.save(tmp_path / "c.pt")
    loaded = FashionCNNClassifier.load(tmp_path / "c.pt")
    assert loaded.get_params() == {**model.get_params(), "device": "cpu"}
    np.testing.assert_array_equal(loaded.predict_proba(Xt), model.predict_proba(Xt))


# ----------------------------------------------------- hostile model files
def _crafted(fitted, tmp_path, name="crafted.pt", **changes):
    """A model file of ``fitted`` with payload entries or params replaced."""
    import json

    save_model(fitted, tmp_path / "base.pt")
    payload = read_payload(tmp_path / "base.pt")
    params = json.loads(payload["params"])
    for key, value in changes.items():
        if key in params:
            params[key] = value
        if key not in params or key == "image_shape":  # the fitted image_shape_ too
            payload[key] = value
    payload["params"] = json.dumps(params)
    write_payload(payload, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"dense_units": 2**31}, r"declares dense_units=2147483648; .* at most 65536"),
        ({"convs_per_block": [20000]}, r"declares convs_per_block=20000"),
        ({"n_blocks": 10**6}, r"declares n_blocks=1000000"),
        ({"width": [4, -1]}, r"declares width=-1"),
        ({"image_shape": [1, 5000, 5000]}, r"declares side=5000"),
        (
            {"image_shape": [1, 900, 900]},
            r"\(1, 900, 900\) does not fit n_features_in=784",
        ),
        (
            {"image_shape": [1, 900, 900], "n_features_in": 810000},
            r"tensors do not match .*first difference: 'net.head.1.weight'",
        ),
        ({"image_shape": "1x28x28"}, r"malformed model file"),
        (
            {"n_features_in": 10},
            r"image_shape \(1, 28, 28\) does not fit n_features_in",
        ),
        (
            {"state_dict": {"w": "not a tensor"}},
            r"'state_dict' is not a dict of tensors",
        ),
        ({"quantized_state": [1, 2]}, r"'quantized_state' is not a dict of named int8"),
        (
            {"pixel_range": [0, float("inf")]},
            r"pixel_range=\(0, inf\); expected .* finite",
        ),
        (
            {"feature_names_in": '"pixel"'},
            r"'feature_names_in' is 'pixel'; expected null or",
        ),
        (
            {"feature_names_in": '["a", "b"]'},
            r"a list of n_features_in=784 column names",
        ),
        (
            {"feature_names_in": "[" + "1, " * 783 + "1]"},
            r"'feature_names_in' is \[1, 1",
        ),
        ({"classes": "[" * 100_000}, r"'classes' is not a JSON string of at most"),
        (
            {"classes": "[" * 5000 + "]" * 5000},
            r"malformed model file \(RecursionError",
        ),
    ],
    ids=lambda v: str(v)[:40],
)
def test_crafted_architecture_is_refused_without_building_it(
    fitted, tmp_path, changes, match
):
    with pytest.raises(ModelFileError, match=match):
        load_model(_crafted(fitted, tmp_path, **changes))


def test_a_file_never_chooses_where_a_refit_writes(small, tmp_path):
    X, y, _, _ = small
    ckpt = tmp_path / "ckpt" / "fit.pt"
    model = tiny_cnn(checkpoint_path=ckpt, num_threads=1).fit(X[:200], y[:200])
    model.save(tmp_path / "m.pt")  # a pathlib.Path checkpoint_path saves
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.checkpoint_path is None and loaded.num_threads is None


def test_partial_fit_after_load_continues_as_the_saved_model(small, tmp_path):
    """Issue 12, bug 1: a loaded model used to restart its learning-rate schedule."""
    X, y, Xt, _ = small
    saved = tiny_cnn(max_epochs=3, random_state=0)
    for _ in range(2):
        saved.partial_fit(X[:300], y[:300], classes=np.arange(10))
    saved.save(tmp_path / "m.pt", training_state=True)
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    assert [row["epoch"] for row in loaded.history_] == [1, 2]
    saved.partial_fit(X[:300], y[:300])
    loaded.partial_fit(X[:300], y[:300])
    np.testing.assert_array_equal(loaded.predict_proba(Xt), saved.predict_proba(Xt))
    lr = [m.net_.optimizer_.param_groups[0]["lr"] for m in (saved, loaded)]
    assert lr[0] == lr[1] < 1e-4  # the one-cycle schedule has ended on both


def _rewrite(path, edit):
    payload = read_payload(path)
    edit(payload)
    write_payload(payload, path)


def test_files_without_training_state_load(fitted, small, tmp_path):
    fitted.save(tmp_path / "m.pt")  # the default: what prediction needs
    assert "training" not in read_payload(tmp_path / "m.pt")
    fitted.save(tmp_path / "full.pt", training_state=True)
    assert (tmp_path / "m.pt").stat().st_size < (tmp_path / "full.pt").stat().st_size
    loaded = FashionCNNClassifier.load(tmp_path / "m.pt")
    Xt = small[2][:20]
    np.testing.assert_array_equal(loaded.predict_proba(Xt), fitted.predict_proba(Xt))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda t: t.update(seed=-1), r"training seed=-1; expected an int"),
        (lambda t: t.update(lr_step="x"), r"training lr_step='x'"),
        (
            lambda t: t["optimizer"]["state"][0].update(exp_avg=torch.zeros(3)),
            "optimizer state does not match",
        ),
        (lambda t: t.update(optimizer=[]), "optimizer state does not match"),
    ],
)
def test_crafted_training_state_is_refused(fitted, tmp_path, edit, match):
    fitted.save(tmp_path / "m.pt", training_state=True)
    _rewrite(tmp_path / "m.pt", lambda p: edit(p["training"]))
    with pytest.raises(ModelFileError, match=match):
        FashionCNNClassifier.load(tmp_path / "m.pt")


# ------------------------------------------ trusted_modules: what a file may name
_TRUSTED_SOURCE = """
import os
import torch
from torch import nn
from os import path as os_path


class PlainNet(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.fc = nn.Linear(784, n_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class NotANetwork:
    pass


def _hidden(n_classes=10):
    return PlainNet(n_classes)


system = os.system  # a re-export: defined elsewhere
"""


@pytest.fixture
def trusted_package(tmp_path, monkeypatch):
    """An importable module ``fcl_trusted_nets`` the tests trust."""
    import sys

    (tmp_path / "fcl_trusted_nets.py").write_text(_TRUSTED_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fcl_trusted_nets"
    sys.modules.pop("fcl_trusted_nets", None)


def _naming(path, network, module_params=None):
    """Rewrite a saved user-network model file to name another object."""
    import json

    def edit(payload):
        params = json.loads(payload["params"])
        params["module"] = network
        if module_params is not None:
            params["module_params"] = module_params
        payload["params"] = json.dumps(params)

    _rewrite(path, edit)
    return path


@pytest.fixture
def user_network_file(small, tmp_path, trusted_package):
    import importlib

    nets = importlib.import_module(trusted_package)
    X, y, _, _ = small
    clf = FashionCNNClassifier(module=nets.PlainNet, max_epochs=1, random_state=0)
    clf.fit(X[:100], y[:100]).save(tmp_path / "user.pt")
    return tmp_path / "user.pt"


@pytest.mark.parametrize(
    "network, match",
    [
        # attribute by attribute into other modules: ran a shell command before
        ("fcl_trusted_nets:torch.os.system", r"is not 'package.module:Name'"),
        ("fcl_trusted_nets:os.system", r"is not 'package.module:Name'"),
        ("fcl_trusted_nets:os_path.join", r"is not 'package.module:Name'"),
        # a name bound in the module but defined elsewhere
        ("fcl_trusted_nets:system", r"defines no torch.nn.Module subclass"),
        ("fcl_trusted_nets:nn", r"defines no torch.nn.Module subclass"),
        ("fcl_trusted_nets:NotANetwork", r"defines no torch.nn.Module subclass"),
        ("fcl_trusted_nets:_hidden", r"is not 'package.module:Name'"),
        ("fcl_trusted_nets:__builtins__", r"is not 'package.module:Name'"),
        ("fcl_trusted_nets:Missing", r"defines no torch.nn.Module subclass"),
        ("fcl_trusted_nets:", r"is not 'package.module:Name'"),
        ("fcl_trusted_nets:PlainNet:x", r"is not 'package.module:Name'"),
    ],
)
def test_a_trusted_module_lends_no_other_code_to_a_file(
    user_network_file, tmp_path, monkeypatch, network, match
):
    monkeypatch.chdir(tmp_path)
    command = "touch PWNED"
    _naming(user_network_file, network, module_params={"command": command})
    calls = []
    monkeypatch.setattr("os.system", lambda *a, **k: calls.append(a) or 0)
    with pytest.raises(ModelFileError, match=match):
        load_model(user_network_file, trusted_modules=["fcl_trusted_nets"])
    assert calls == []
    assert not (tmp_path / "PWNED").exists()


def test_a_network_defined_in_the_trusted_module_loads(user_network_file, small):
    loaded = load_model(user_network_file, trusted_modules=["fcl_trusted_nets"])
    assert type(loaded.net_.module_.net).__name__ == "PlainNet"
    assert loaded.predict(small[2][:5]).shape == (5,)
    exact = load_model(user_network_file, trusted_modules=["fcl_trusted_nets:PlainNet"])
    assert exact.classes_.tolist() == loaded.classes_.tolist()


@pytest.mark.parametrize("trusted", ["posenet:PoseNet", b"posenet", [3]])
def test_trusted_modules_must_be_a_list_of_strings(
    user_network_file, trusted, monkeypatch
):
    # a bare string made the membership checks substring tests: 'os' in 'posenet'
    _naming(user_network_file, "os:system")
    with pytest.raises(TypeError, match=r"trusted_modules must be a list of"):
        load_model(user_network_file, trusted_modules=trusted)


def test_substring_of_a_trusted_name_is_not_trusted(user_network_file):
    _naming(user_network_file, "os:system")
    with pytest.raises(ModelFileError, match=r"'os:system', which is not trusted"):
        load_model(user_network_file, trusted_modules=["posenet:PoseNet", "posenet"])


def test_save_refuses_a_network_that_load_would_refuse(
    small, tmp_path, trusted_package
):
    import importlib

    nets = importlib.import_module(trusted_package)
    X, y, _, _ = small
    clf = FashionCNNClassifier(module=nets._hidden, max_epochs=1, random_state=0)
    with pytest.raises(TypeError, match=r"_private name"):
        clf.fit(X[:100], y[:100]).save(tmp_path / "x.pt")


# ------------------------------------------------ silently wrong model files
def _first_weight(payload):
    return next(k for k in payload["state_dict"] if k.endswith(".weight"))


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda p: p["state_dict"][_first_weight(p)].view(-1)[0].fill_(float("nan")),
            r"non-finite values in 'net\.",
        ),
        (
            lambda p: p["state_dict"][_first_weight(p)].view(-1)[3].fill_(float("inf")),
            r"non-finite values in 'net\.",
        ),
        (lambda p: p["state_dict"]["std"].fill_(0.0), r"std=0\.0.*positive"),
        (lambda p: p["state_dict"]["std"].fill_(-1.0), r"std=-1\.0.*positive"),
    ],
)
def test_non_finite_weights_or_a_zero_std_are_refused(fitted, tmp_path, edit, match):
    save_model(fitted, tmp_path / "m.pt")
    _rewrite(tmp_path / "m.pt", edit)
    with pytest.raises(ModelFileError, match=match):
        load_model(tmp_path / "m.pt")


@pytest.mark.parametrize(
    "classes",
    [
        '"abc"',
        "7",
        "[]",
        '["a"]',
        '["a", "a", "b"]',
        '[["a"], ["b"], ["c"]]',
        '[{"a": 1}, 2, 3]',
        "[null, 1, 2]",
    ],
)
def test_classes_must_be_a_flat_list_of_distinct_scalars(fitted, tmp_path, classes):
    save_model(fitted, tmp_path / "m.pt")
    _rewrite(tmp_path / "m.pt", lambda p: p.update(classes=classes))
    with pytest.raises(ModelFileError, match=r"'classes'.*flat list of at least 2"):
        load_model(tmp_path / "m.pt")


def test_a_file_claiming_millions_of_epochs_is_refused_cheaply(fitted, tmp_path):
    save_model(fitted, tmp_path / "m.pt")
    _rewrite(tmp_path / "m.pt", lambda p: p.update(n_epochs=2_000_000))
    with pytest.raises(ModelFileError, match=r"n_epochs=2000000.*at most 100000"):
        load_model(tmp_path / "m.pt")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            dict(convs_per_block=17, width=2, n_blocks=1),
            r"convs_per_block 17; expected at most 16",
        ),
        (dict(n_blocks=9, width=2), r"n_blocks 9; expected at most 8"),
        (
            dict(architecture="cnn", dense_units=70_000),
            r"dense_units 70000; expected at most 65536",
        ),
        (
            dict(n_blocks=8, width=32),
            r"a network whose model file would hold [\d,]+ bytes; expected at most 536,870,912",
        ),
    ],
    ids=["convs_per_block", "n_blocks", "dense_units", "file_bytes"],
)
def test_fit_refuses_before_training_what_no_model_file_holds(small, params, match):
    """One set of limits: what save writes, load reads (FILE_BOUNDS)."""
    X, y, _, _ = small
    model = FashionCNNClassifier(max_epochs=1, **params)
    with pytest.raises(ValueError, match=match):
        model.fit(X[:50], y[:50])
    assert not hasattr(model, "history_")  # refused before any epoch


def test_the_largest_sizes_fit_saves_also_load(small, tmp_path):
    X, y, Xt, _ = small
    model = FashionCNNClassifier(
        convs_per_block=16, n_blocks=1, width=2, max_epochs=1, batch_size=64
    ).fit(X[:64], y[:64])
    model.save(tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    np.testing.assert_array_equal(
        loaded.predict_proba(Xt[:3]), model.predict_proba(Xt[:3])
    )


def test_a_non_finite_pixel_range_is_refused_in_fit(small):
    X, y, _, _ = small
    with pytest.raises(
        ValueError,
        match=r"pixel_range=\(0, inf\); expected None or a \(low, high\) pair of finite",
    ):
        tiny_cnn(pixel_range=(0, float("inf"))).fit(X[:50], y[:50])
