"""A tree of tensors and plain data in one safetensors file, read without unpickling.

safetensors stores a flat table of named tensors and a string-to-string
metadata header; reading it parses JSON and copies bytes, never runs code.
:func:`write_tree` flattens a tree of dicts (string or int keys), lists,
tuples, JSON scalars, tensors and ``torch.dtype`` values: each tensor is
stored under its path in the tree (``state_dict/net.head.weight``), readable
by any safetensors tool, and the tree itself is one JSON document in the
metadata that names them. Quantized tensors are stored as their integer
values plus scales and zero points. :func:`read_tree` rebuilds the tree and
raises ``ValueError`` on anything it did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "MAX_HEADER_BYTES",
    "TREE_KEY",
    "read_metadata",
    "read_tree",
    "tree_from_plain",
    "tree_to_plain",
    "write_tree",
]

#: The metadata entry holding the tree's JSON.
TREE_KEY = "tree"

#: The largest JSON header a model file may have (``FILE_BOUNDS['header_bytes']``).
MAX_HEADER_BYTES = 4 * 2**20

# dtypes a tree may name (quantized networks store their weight dtype)
_DTYPES = {
    name: getattr(torch, name)
    for name in ("qint8", "quint8", "qint32", "float32", "float64", "int64")
}
# the integer dtype a quantized dtype's values are stored as
_INT_REPR = {
    torch.qint8: torch.int8,
    torch.quint8: torch.uint8,
    torch.qint32: torch.int32,
}


def write_tree(
    tree: Any, path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> None:
    """Write ``tree`` to ``path`` as a safetensors file.

    ``metadata`` entries are stored beside the tree's own (plain strings, for
    other tools to read). Raises ``TypeError`` on a value the format does
    not hold.
    """
    from safetensors.torch import save_file

    node, tensors = _flatten(tree)
    text = json.dumps(node)
    save_file(tensors, os.fspath(path), metadata={**(metadata or {}), TREE_KEY: text})


def tree_to_plain(tree: Any) -> dict[str, Any]:
    """Return ``tree`` as plain data: its JSON text and its tensors as numpy arrays.

    The same encoding as :func:`write_tree`, held in memory: ``{'tree': str,
    'arrays': {name: ndarray}, 'bfloat16': [names]}`` (bfloat16 tensors, which
    numpy lacks, are kept as their int16 bit patterns). Pickles and skops
    files of a fitted model carry this, so they hold no torch object.
    """
    node, tensors = _flatten(tree)
    bf16 = sorted(k for k, t in tensors.items() if t.dtype == torch.bfloat16)
    arrays = {
        k: (t.view(torch.int16) if k in bf16 else t).numpy() for k, t in tensors.items()
    }
    return {"tree": json.dumps(node), "arrays": arrays, "bfloat16": bf16}


def tree_from_plain(data: dict[str, Any]) -> Any:
    """Rebuild the tree :func:`tree_to_plain` returned.

    Checks as :func:`read_tree` does; raises ``ValueError`` on anything
    :func:`tree_to_plain` did not write.
    """
    if not (
        isinstance(data, dict)
        and isinstance(data.get("tree"), str)
        and isinstance(data.get("arrays"), dict)
        and isinstance(data.get("bfloat16"), list)
    ):
        raise ValueError("not a tree_to_plain result (tree, arrays, bfloat16)")
    tensors = {}
    for name, array in data["arrays"].items():
        if not (isinstance(name, str) and isinstance(array, np.ndarray)):
            raise ValueError(f"the array {str(name)[:60]!r} is not a numpy array")
        tensor = torch.from_numpy(np.array(array))  # an owned, writable copy
        tensors[name] = (
            tensor.view(torch.bfloat16) if name in data["bfloat16"] else tensor
        )
    return _decode(json.loads(data["tree"]), tensors)


def _flatten(tree: Any) -> tuple[list, dict[str, torch.Tensor]]:
    """Return ``tree`` as a JSON-able node and the tensors it names, by path."""
    tensors: dict[str, torch.Tensor] = {}

    def put(name: str, tensor: torch.Tensor) -> str:
        if name in tensors:
            raise TypeError(f"two tensors of the tree are both at {name!r}")
        # safetensors refuses tensors sharing memory: store each one's own copy
        tensors[name] = tensor.detach().cpu().contiguous().clone()
        return name

    def encode(value: Any, at: str) -> list:
        if isinstance(value, torch.Tensor):
            if not value.is_quantized:
                return ["tensor", put(at, value)]
            dtype = str(value.dtype).removeprefix("torch.")
            if value.qscheme() == torch.per_tensor_affine:
                scale, zero = float(value.q_scale()), int(value.q_zero_point())
                return ["qtensor", put(at, value.int_repr()), dtype, scale, zero]
            if value.qscheme() == torch.per_channel_affine:
                put(f"{at}#scales", value.q_per_channel_scales())
                put(f"{at}#zero_points", value.q_per_channel_zero_points())
                axis = int(value.q_per_channel_axis())
                return ["qtensor", put(at, value.int_repr()), dtype, axis]
            raise TypeError(f"{at}: quantization scheme {value.qscheme()} not stored")
        if isinstance(value, torch.dtype):
            return ["dtype", str(value).removeprefix("torch.")]
        if isinstance(value, dict):
            if not all(_is_key(k) for k in value):
                raise TypeError(f"{at}: dict keys must be str or int: {list(value)!r}")
            items = [
                [k, encode(v, f"{at}/{k}" if at else str(k))] for k, v in value.items()
            ]
            versions = getattr(value, "_metadata", None)  # a state_dict's versions
            if versions is None:
                return ["dict", items]
            return ["state_dict", items, {k: dict(v) for k, v in versions.items()}]
        if isinstance(value, list | tuple):
            kind = "tuple" if isinstance(value, tuple) else "list"
            return [kind, [encode(v, f"{at}/{i}") for i, v in enumerate(value)]]
        if value is None or isinstance(value, str | int | float | bool):
            return ["json", value]
        raise TypeError(
            f"{at}: a {type(value).__name__} cannot be stored in a tensor file"
        )

    return encode(tree, ""), tensors


def read_tree(
    path: str | os.PathLike[str], *, max_header_bytes: int, max_tensors: int
) -> tuple[Any, dict[str, str]]:
    """Read a :func:`write_tree` file: ``(tree, metadata)``.

    The header's declared size is checked against ``max_header_bytes`` before
    safetensors parses it, and the tensor count against ``max_tensors``.
    Raises ``ValueError`` naming what is wrong.
    """
    from safetensors import safe_open

    path = Path(path)
    _check_header(path, max_header_bytes)
    with safe_open(os.fspath(path), framework="pt", device="cpu") as fh:
        metadata = fh.metadata() or {}
        names = list(fh.keys())
        if len(names) > max_tensors:
            raise ValueError(f"{len(names)} tensors; at most {max_tensors}")
        tensors = {name: fh.get_tensor(name) for name in names}
    if TREE_KEY not in metadata:
        raise ValueError(f"no {TREE_KEY!r} entry in its metadata")
    return _decode(json.loads(metadata[TREE_KEY]), tensors), metadata


def read_metadata(path: str | os.PathLike[str], *, max_header_bytes: int) -> dict:
    """Return a safetensors file's metadata (no tensor is read).

    Raises ``ValueError`` when ``path`` is not a safetensors file.
    """
    from safetensors import safe_open

    _check_header(Path(path), max_header_bytes)
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:  # safetensors' own parse errors
        raise ValueError(f"not a safetensors file ({exc})") from exc


def _check_header(path: Path, max_header_bytes: int) -> None:
    """Check the 8-byte header size and the JSON opening before parsing."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        raise ValueError("not a safetensors file (no JSON header)")
    (header_bytes,) = struct.unpack("<Q", head[:8])
    if header_bytes > max_header_bytes:
        raise ValueError(
            f"its header declares {header_bytes:,} bytes; at most {max_header_bytes:,}"
        )


def _is_versions(versions: Any) -> bool:
    """Tell whether ``versions`` is a state_dict's ``_metadata``."""
    return isinstance(versions, dict) and all(
        isinstance(entry, dict)
        and all(isinstance(k, str) and type(v) is int for k, v in entry.items())
        for entry in versions.values()
    )


def _is_key(key: object) -> bool:
    return isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool))


def _decode(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if not (isinstance(node, list) and node and isinstance(node[0], str)):
        raise ValueError(f"malformed tree node {str(node)[:60]!r}")
    kind, args = node[0], node[1:]
    if not args:
        raise ValueError(f"malformed tree node {str(node)[:60]!r}")
    if kind == "json" and len(args) == 1:
        value = args[0]
        if value is None or isinstance(value, str | int | float | bool):
            return value
    elif kind in ("dict", "state_dict") and isinstance(args[0], list):
        out: dict = {} if kind == "dict" else OrderedDict()
        for pair in args[0]:
            if not (isinstance(pair, list) and len(pair) == 2 and _is_key(pair[0])):
                raise ValueError(f"malformed dict entry {str(pair)[:60]!r}")
            out[pair[0]] = _decode(pair[1], tensors)
        if kind == "dict" and len(args) == 1:
            return out
        if kind == "state_dict" and len(args) == 2 and _is_versions(args[1]):
            out._metadata = OrderedDict(args[1])  # type: ignore[attr-defined]
            return out
    elif kind in ("list", "tuple") and len(args) == 1 and isinstance(args[0], list):
        items = [_decode(item, tensors) for item in args[0]]
        return tuple(items) if kind == "tuple" else items
    elif kind == "tensor" and len(args) == 1:
        return _tensor(tensors, args[0])
    elif kind == "dtype" and len(args) == 1 and args[0] in _DTYPES:
        return _DTYPES[args[0]]
    elif kind == "qtensor" and len(args) in (3, 4):
        return _quantized(tensors, *args)
    raise ValueError(f"malformed tree node {str(node)[:60]!r}")


def _tensor(tensors: dict[str, torch.Tensor], name: Any) -> torch.Tensor:
    if not isinstance(name, str) or name not in tensors:
        raise ValueError(f"the tree names a tensor {str(name)[:60]!r} the file lacks")
    return tensors[name]


def _quantized(tensors: dict[str, torch.Tensor], name: Any, dtype: Any, *scheme: Any):
    """Rebuild a quantized tensor, checking every piece torch would trust."""
    values = _tensor(tensors, name)
    qdtype = _DTYPES.get(dtype) if isinstance(dtype, str) else None
    if qdtype not in _INT_REPR or values.dtype != _INT_REPR[qdtype]:
        raise ValueError(
            f"{name}: quantized dtype {dtype!r} with {values.dtype} values"
        )
    if len(scheme) == 2:  # per tensor: scale, zero point
        scale, zero = scheme
        if not (
            isinstance(scale, float)
            and scale > 0
            and scale != float("inf")
            and isinstance(zero, int)
            and not isinstance(zero, bool)
            and abs(zero) < 2**31
        ):
            raise ValueError(f"{name}: scale {scale!r}, zero point {zero!r}")
        with _quiet_quantized():
            return torch._make_per_tensor_quantized_tensor(values, scale, zero)
    (axis,) = scheme
    scales = _tensor(tensors, f"{name}#scales")
    zeros = _tensor(tensors, f"{name}#zero_points")
    ok = (
        isinstance(axis, int)
        and not isinstance(axis, bool)
        and 0 <= axis < values.dim()
        and scales.dtype == torch.float64
        and zeros.dtype == torch.int64
        and scales.shape == zeros.shape == (values.shape[axis],)
        and bool(torch.isfinite(scales).all())
        and bool((scales > 0).all())
        and bool((zeros.abs() < 2**31).all())
    )
    if not ok:
        raise ValueError(f"{name}: per-channel scales, zero points or axis do not fit")
    with _quiet_quantized():
        return torch._make_per_channel_quantized_tensor(values, scales, zeros, axis)


@contextlib.contextmanager
def _quiet_quantized() -> Iterator[None]:
    """Silence torch's notice that quantized tensors are deprecated.

    The int8 path it concerns (``quantize=True``) says so in its own
    documentation; a file that holds its state loads without the notice.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
        yield
