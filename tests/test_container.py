"""The safetensors container of model files: exact round trips, refusals."""

import json
import struct
from collections import OrderedDict

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from fashionclf.serialization.container import (
    TREE_KEY,
    read_metadata,
    read_tree,
    tree_from_plain,
    tree_to_plain,
    write_tree,
)

BOUNDS = {"max_header_bytes": 2**20, "max_tensors": 64}

# the trees craft quantized tensors on purpose; torch 2.13 calls them deprecated
pytestmark = pytest.mark.filterwarnings(
    "ignore:torch.quantize_per_tensor, torch.quantize_per_channel:UserWarning"
)


def _tree():
    weights = torch.randn(4, 3)
    state = OrderedDict(w=torch.arange(6.0).reshape(2, 3), n=torch.tensor(3))
    state._metadata = OrderedDict({"": {"version": 2}, "bn": {"version": 2}})
    return {
        "text": "x",
        "numbers": [1, 2.5, None, True, float("inf")],
        "pair": (torch.ones(2), None),
        "by_index": {0: {"exp_avg": torch.zeros(3)}, 7: {"step": torch.tensor(4.0)}},
        "state": state,
        "dtype": torch.qint8,
        "per_tensor": torch.quantize_per_tensor(weights, 0.05, 3, torch.quint8),
        "per_channel": torch.quantize_per_channel(
            weights,
            torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64),
            torch.tensor([0, 1, -1, 2]),
            0,
            torch.qint8,
        ),
    }


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        if a.is_quantized:
            return (
                b.is_quantized
                and a.qscheme() == b.qscheme()
                and a.dtype == b.dtype
                and torch.equal(a.int_repr(), b.int_repr())
                and torch.equal(a.dequantize(), b.dequantize())
            )
        return a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return (
            type(a) is type(b)
            and list(a) == list(b)
            and all(_equal(a[k], b[k]) for k in a)
            and getattr(a, "_metadata", None) == getattr(b, "_metadata", None)
        )
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b


def test_round_trip_is_exact_and_keeps_every_kind(tmp_path):
    tree = _tree()
    write_tree(tree, tmp_path / "t.safetensors", {"format": "demo"})
    back, metadata = read_tree(tmp_path / "t.safetensors", **BOUNDS)
    assert _equal(tree, back)
    assert metadata["format"] == "demo"
    assert isinstance(back["by_index"], dict) and list(back["by_index"]) == [0, 7]


def test_plain_data_round_trip_is_exact_and_holds_no_torch_object():
    import numpy as np

    tree = {**_tree(), "bf16": torch.randn(3).to(torch.bfloat16)}
    plain = tree_to_plain(tree)
    assert isinstance(plain["tree"], str) and plain["bfloat16"] == ["bf16"]
    assert all(isinstance(a, np.ndarray) for a in plain["arrays"].values())
    assert _equal(tree, tree_from_plain(plain))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda p: p.pop("arrays"), "not a tree_to_plain result"),
        (lambda p: p["arrays"].update(w=[1.0]), "is not a numpy array"),
        (lambda p: p.update(tree='["tensor", "nowhere"]'), "the file lacks"),
        (lambda p: p.update(tree='["exec", "print(1)"]'), "malformed tree node"),
    ],
)
def test_crafted_plain_data_is_refused(edit, match):
    plain = tree_to_plain({"w": torch.ones(2)})
    edit(plain)
    with pytest.raises(ValueError, match=match):
        tree_from_plain(plain)


def test_tensors_are_named_by_their_place_for_other_tools(tmp_path):
    write_tree(_tree(), tmp_path / "t.safetensors")
    with safe_open(tmp_path / "t.safetensors", framework="pt") as fh:
        names = set(fh.keys())
    assert {"state/w", "by_index/0/exp_avg", "pair/0", "per_channel#scales"} <= names


def test_values_the_format_does_not_hold_are_refused(tmp_path):
    with pytest.raises(TypeError, match="a object cannot be stored"):
        write_tree({"x": object()}, tmp_path / "t.safetensors")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        write_tree({(1, 2): 3}, tmp_path / "t.safetensors")


def _file(tmp_path, tree_json, tensors=None):
    path = tmp_path / "crafted.safetensors"
    save_file(tensors or {}, path, metadata={TREE_KEY: json.dumps(tree_json)})
    return path


Q = torch.zeros(2, 3, dtype=torch.int8)


@pytest.mark.parametrize(
    ("tree", "tensors", "message"),
    [
        (["tensor", "missing"], {}, "names a tensor 'missing' the file lacks"),
        (["eval", "1+1"], {}, "malformed tree node"),
        (["dict", [["k"]]], {}, "malformed dict entry"),
        (["dict", [[1.5, ["json", 1]]]], {}, "malformed dict entry"),
        (["json", {"a": 1}], {}, "malformed tree node"),
        (["dtype", "float"], {}, "malformed tree node"),
        (["state_dict", [], {"": {"version": "2"}}], {}, "malformed tree node"),
        ([], {}, "malformed tree node"),
        (["qtensor", "q", "qint8", 0.0, 0], {"q": Q}, "scale 0.0"),
        (["qtensor", "q", "quint8", 0.1, 0], {"q": Q}, "quantized dtype 'quint8'"),
        (["qtensor", "q", "float32", 0.1, 0], {"q": Q}, "quantized dtype"),
        (
            ["qtensor", "q", "qint8", 1],
            {
                "q": Q,
                "q#scales": torch.ones(2, dtype=torch.float64),  # axis 1 has 3
                "q#zero_points": torch.zeros(2, dtype=torch.int64),
            },
            "per-channel scales, zero points or axis do not fit",
        ),
        (
            ["qtensor", "q", "qint8", 0],
            {
                "q": Q,
                "q#scales": -torch.ones(2, dtype=torch.float64),
                "q#zero_points": torch.zeros(2, dtype=torch.int64),
            },
            "per-channel",
        ),
    ],
)
def test_crafted_trees_are_refused(tmp_path, tree, tensors, message):
    with pytest.raises(ValueError, match=message):
        read_tree(_file(tmp_path, tree, tensors), **BOUNDS)


def test_deep_nesting_fails_as_an_error_not_a_crash(tmp_path):
    path = tmp_path / "deep.safetensors"
    text = "[" * 200_000 + "]" * 200_000
    save_file({}, path, metadata={TREE_KEY: text})
    with pytest.raises(RecursionError):
        read_tree(path, max_header_bytes=2**21, max_tensors=1)


def test_container_limits_are_checked_before_parsing(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{" + b" " * 16)
    with pytest.raises(ValueError, match=r"header declares 1,099,511,627,776 bytes"):
        read_tree(path, **BOUNDS)
    (tmp_path / "no.safetensors").write_bytes(b"\x80\x04junk")
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_tree(tmp_path / "no.safetensors", **BOUNDS)
    many = {f"t{i}": torch.zeros(1) for i in range(65)}
    save_file(many, tmp_path / "many.safetensors", metadata={TREE_KEY: '["json", 1]'})
    with pytest.raises(ValueError, match="65 tensors; at most 64"):
        read_tree(tmp_path / "many.safetensors", **BOUNDS)
    save_file({}, tmp_path / "bare.safetensors")
    with pytest.raises(ValueError, match="no 'tree' entry"):
        read_tree(tmp_path / "bare.safetensors", **BOUNDS)


def test_metadata_is_read_without_the_tensors(tmp_path):
    write_tree(_tree(), tmp_path / "t.safetensors", {"format": "demo"})
    assert (
        read_metadata(tmp_path / "t.safetensors", max_header_bytes=2**20)["format"]
        == "demo"
    )
    (tmp_path / "no.csv").write_text("label,pixel1\n1,2\n")
    with pytest.raises(ValueError, match="not a safetensors file"):
        read_metadata(tmp_path / "no.csv", max_header_bytes=2**20)
