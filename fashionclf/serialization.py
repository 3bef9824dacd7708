"""Weights-only model files: tensors plus JSON parameters, loaded without unpickling.

:func:`write_model_file` writes a safetensors file: the tensors by name, and
the parameters, classes and training state as JSON in its metadata
(:mod:`fashionclf._estimator.tensorfile`). Reading one parses JSON and copies
bytes; there is no unpickler at all, and any safetensors tool can list its
tensors. :func:`read_model_file` also reads the files of fashionclf 0.1 (a
``torch.save`` archive of plain containers, strings, numbers and tensors)
with ``torch.load(weights_only=True)``, whose restricted unpickler refuses
any other object. Either way opening a model file never executes code.
(Pickle/joblib files of a fitted estimator also work, but may run code when
loaded: open them only from trusted sources.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._estimator.construction import NETWORK_PARAMS, FittedState, build_module
from ._estimator.state import first_non_finite
from ._estimator.tensorfile import MAX_HEADER_BYTES, read_tree, write_tree
from ._utils.atomic import atomic_write
from ._utils.messages import first_line
from ._utils.validation import resolve_image_shape
from .exceptions import ModelFileError

__all__ = [
    "FILE_BOUNDS",
    "MIN_TORCH",
    "check_tensors",
    "read_model_file",
    "read_payload",
    "write_model_file",
    "write_payload",
]

_FORMAT = "fashionclf.FashionCNNClassifier"
_FORMAT_VERSION = 2  # a safetensors file; version 1 was a torch.save zip archive
_ZIP_VERSION = 1
_TUPLE_PARAMS = ("image_shape", "pixel_range", "width", "convs_per_block")


def write_model_file(
    path: str | os.PathLike[str],
    params: dict[str, Any],
    exported: dict[str, Any],
    *,
    training_state: bool = True,
) -> None:
    """Write a fitted classifier's parameters and state in the weights-only format.

    The file is written to a temporary name and renamed, so a crash never
    leaves a half-written model.

    Parameters
    ----------
    path : path-like
    params : dict
        The estimator's ``get_params()``. Callbacks are objects, not data,
        and are not stored; neither are ``checkpoint_path`` and
        ``num_threads`` (a file never chooses where a later fit writes), nor
        ``init_from`` (the model a fit started from: its weights are in the
        file's own). A user ``module`` is stored as its import path.
    exported : dict
        The fitted state: classes, input description, weights, optimizer
        state, schedule position, seed, epochs, int8 state.
    training_state : bool, default=True
        Store what ``partial_fit`` needs to continue exactly (optimizer
        state, schedule position, seed). ``False`` keeps only what prediction
        needs: a file about a third the size, which loads like a file written
        before the training state was stored (``partial_fit`` then starts a
        fresh optimizer).
    """
    params = {
        **{k: v for k, v in params.items() if not k.startswith("init_from__")},
        "callbacks": None,
        "checkpoint_path": None,
        "num_threads": None,
        "init_from": None,
    }
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None  # a RandomState object is not data
    if params.get("module") is not None:
        params["module"] = _import_path(params["module"])
    try:
        params_json = json.dumps(params)
    except TypeError as exc:
        raise TypeError(
            f"save received parameters that are not JSON data ({exc}); model files "
            "store parameters as JSON: module_params and class_weight must hold "
            "plain numbers, strings, lists and dicts."
        ) from exc
    names = exported["feature_names_in"]
    fitted, net = exported["fitted"], exported["net"]
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "params": params_json,
        "classes": json.dumps(np.asarray(exported["classes"]).tolist()),
        "n_features_in": int(exported["n_features_in"]),
        "feature_names_in": json.dumps(None if names is None else list(names)),
        "image_shape": list(exported["image_shape"]),
        "n_epochs": len(exported["history"]),
        "state_dict": net["module"],
        "quantized_state": exported["int8"],
        # what partial_fit needs to continue as the saved model would have
        "training": {
            "seed": int(fitted.seed),
            "lr_total_steps": net["lr_total_steps"],
            "lr_step": net["lr_step"],
            "optimizer": net["optimizer"],
        },
    }
    if not training_state:
        del payload["training"]
    write_payload(payload, path)


def write_payload(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a model file's payload (the dict :func:`read_payload` returns).

    Unchecked: for tools and tests that craft files; use
    :func:`write_model_file` to save a model.
    """
    metadata = {"format": _FORMAT, "format_version": str(_FORMAT_VERSION)}
    atomic_write(path, lambda tmp: write_tree(payload, tmp, metadata))


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return a model file's payload as stored, before any check of its content.

    Safetensors files and fashionclf 0.1's zip archives alike; neither runs
    code. Raises :class:`ModelFileError` when the container itself is not one
    of them or exceeds :data:`FILE_BOUNDS`.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > FILE_BOUNDS["file_bytes"]:
        raise ModelFileError(
            f"{path}: {size:,} bytes; a model file may hold at most "
            f"{FILE_BOUNDS['file_bytes']:,}."
        )
    with open(path, "rb") as fh:
        is_zip = fh.read(2) == b"PK"
    if is_zip:
        return _read_zip(path)
    try:
        payload, _ = read_tree(
            path,
            max_header_bytes=FILE_BOUNDS["header_bytes"],
            max_tensors=FILE_BOUNDS["records"],
        )
    except Exception as exc:  # safetensors' own errors, the tree's ValueError
        raise _not_a_model_file(
            path, f"{type(exc).__name__}: {first_line(exc)}"
        ) from exc
    _check_version(payload, _FORMAT_VERSION, path)
    return payload


def _read_zip(path: Path) -> dict[str, Any]:
    """Read a fashionclf 0.1 model file: a ``torch.save`` zip, weights-only."""
    _check_torch_version()
    _check_archive(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler refused, or bad data
        raise _not_a_model_file(
            path,
            f"{type(exc).__name__}: {first_line(exc)}",
            refused="Files that need the full pickle machinery",
        ) from exc
    _check_version(payload, _ZIP_VERSION, path)
    return payload


def _not_a_model_file(
    path: Path, detail: str, refused: str = "Pickle files"
) -> ModelFileError:
    """Return the one refusal of a file that is no fashionclf model, saying why."""
    return ModelFileError(
        f"{path}: not a fashionclf weights-only model file ({detail}). {refused} "
        "are refused because opening them can execute code; fashionclf reads only "
        "files written by FashionCNNClassifier.save."
    )


def _check_version(payload: Any, version: int, path: Path) -> None:
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ModelFileError(
            f"{path}: holds no '{_FORMAT}' model; expected a file written by "
            "FashionCNNClassifier.save."
        )
    if payload.get("format_version") != version:
        raise ModelFileError(
            f"{path}: format version {payload.get('format_version')!r} in a "
            f"{'zip archive' if version == _ZIP_VERSION else 'safetensors file'}; "
            f"this fashionclf reads version {_FORMAT_VERSION} (safetensors) and "
            f"{_ZIP_VERSION} (zip)."
        )


def _import_path(obj) -> str:
    """Return the ``'package.module:Name'`` a file stores for a user network.

    Only what :func:`_trusted_import` will load again is accepted: a
    ``torch.nn.Module`` subclass or function at the top level of an importable
    module, with a public name.
    """
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if (
        not _is_network_builder(obj)
        or not module
        or module == "__main__"
        or not name.isidentifier()
        or name.startswith("_")
    ):
        raise TypeError(
            f"save received module={obj!r}; a model file stores a user network by its "
            "import path, so it must be a torch.nn.Module subclass or a function "
            "defined at the top level of an importable module under a public name "
            "(not in __main__, not a lambda, a local or nested class, or a "
            "_private name)."
        )
    return f"{module}:{name}"


def read_model_file(
    path: str | os.PathLike[str], trusted_modules: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and check a model file without unpickling code.

    The file is treated as untrusted: it must be a safetensors file whose
    header and tensor count lie within :data:`FILE_BOUNDS` (or, for files of
    fashionclf 0.1, a zip archive of uncompressed records within those
    limits, checked before anything is unpickled); the parameters it
    declares must lie within :data:`FILE_BOUNDS`; a user network it names
    is imported only if listed in ``trusted_modules``; its tensors must match
    the architecture it declares, built on torch's ``meta`` device (no
    memory; :func:`check_tensors`); a user network is built only once, by
    :meth:`FashionCNNClassifier.load`, which checks the tensors against it
    before loading them (a factory that loads weights itself cannot run on
    the meta device). Every failure raises :class:`ModelFileError`.

    What is restored: the weights, the optimizer state, the learning-rate
    schedule's position and the seed, so ``partial_fit`` continues exactly
    as on the saved model (files written before these were stored load with
    a fresh optimizer); ``history_`` has one row per trained epoch holding
    only its number (losses are not stored); ``checkpoint_path`` and
    ``num_threads`` are ``None`` and the device is the CPU.

    Parameters
    ----------
    path : path-like
    trusted_modules : sequence of str, default=()
        ``'package.module:Name'`` or ``'package.module'`` entries (a list, not
        a bare string). A file may name only a ``torch.nn.Module`` subclass or
        a function defined in a listed module under a public name.

    Returns
    -------
    params : dict
        Estimator parameters.
    exported : dict
        The fitted state, in the form ``write_model_file`` takes.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        The file is not a fashionclf weights-only model (e.g. a pickle, which
        is refused rather than executed), exceeds the limits, names an
        untrusted module, or (for zip archives) the installed torch is older
        than ``MIN_TORCH``.
    """
    path = Path(path)
    trusted_modules = _check_trusted(trusted_modules)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file.")
    payload = read_payload(path)
    try:
        params = _params(payload, path, trusted_modules)
        exported = _exported(payload, params, path)
        if params.get("module") is None:  # a user network: checked once built
            skeleton = build_module(
                {k: params[k] for k in NETWORK_PARAMS}, exported["fitted"], meta=True
            )
            check_tensors(skeleton, exported["net"], path)
        return params, exported
    except ModelFileError:
        raise
    except Exception as exc:  # any other failure on crafted data is a bad file
        raise ModelFileError(
            f"{path}: malformed model file ({type(exc).__name__}: {first_line(exc)})."
        ) from exc


#: torch versions before this have known flaws in ``torch.load(weights_only=True)``
#: (CVE-2025-32434, fixed in 2.6; CVE-2026-24747, fixed in 2.10).
MIN_TORCH = (2, 10)

#: Limits on what a model file may declare; a file beyond them is refused.
FILE_BOUNDS: dict[str, int] = {
    "file_bytes": 512 * 2**20,  # the file (zip: its uncompressed records)
    "records": 4096,  # tensors (zip: records)
    "header_bytes": MAX_HEADER_BYTES,  # a safetensors file's JSON header
    "json_chars": 65536,
    "n_blocks": 8,
    "convs_per_block": 16,
    "width": 4096,
    "dense_units": 65536,
    "channels": 64,
    "side": 1024,
    "epochs": 100_000,  # history rows: a file claiming more is refused
}


def _check_torch_version() -> None:
    parts = []
    for piece in torch.__version__.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    if tuple(parts) < MIN_TORCH:
        raise ModelFileError(
            f"torch {torch.__version__} is installed; loading model files needs "
            f"torch >= {'.'.join(map(str, MIN_TORCH))}, whose weights-only loader has "
            "no known code-execution flaw. Upgrade torch."
        )


def _check_archive(path: Path) -> None:
    """Refuse anything but a zip of stored (uncompressed) records within limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _not_a_model_file(path, f"not a zip archive: {first_line(exc)}") from exc
    if len(infos) > FILE_BOUNDS["records"]:
        raise ModelFileError(
            f"{path}: {len(infos)} records; a model file has at most "
            f"{FILE_BOUNDS['records']}."
        )
    compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise ModelFileError(
            f"{path}: record {compressed[0]!r} is compressed; model files written by "
            "FashionCNNClassifier.save store records uncompressed."
        )
    total = sum(i.file_size for i in infos)
    if total > FILE_BOUNDS["file_bytes"]:
        raise ModelFileError(
            f"{path}: records total {total:,} bytes; a model file may hold at most "
            f"{FILE_BOUNDS['file_bytes']:,}."
        )


def _json(payload: dict, key: str):
    text = payload[key]
    if not isinstance(text, str) or len(text) > FILE_BOUNDS["json_chars"]:
        raise ModelFileError(
            f"'{key}' is not a JSON string of at most {FILE_BOUNDS['json_chars']} "
            "characters"
        )
    return json.loads(text)  # RecursionError on deep nesting: caught by the caller


def _check_bounds(params: dict, image_shape: tuple[int, ...], path: Path) -> None:
    """Refuse architecture sizes beyond FILE_BOUNDS before building anything."""
    checks = [(k, params.get(k)) for k in ("n_blocks", "dense_units")]
    for key in ("width", "convs_per_block"):
        value = params.get(key)
        values = value if isinstance(value, tuple | list) else [value]
        checks += [(key, v) for v in values]
    if len(image_shape) != 3:
        raise ModelFileError(f"{path}: image_shape {image_shape} is not (C, H, W).")
    checks += [("channels", image_shape[0])]
    checks += [("side", v) for v in image_shape[1:]]
    for key, value in checks:
        ok = isinstance(value, int) and 1 <= value <= FILE_BOUNDS[key]
        if not ok:
            raise ModelFileError(
                f"{path}: declares {key}={value!r}; a model file may declare at most "
                f"{FILE_BOUNDS[key]} (a positive int)."
            )


def _params(payload: dict, path: Path, trusted: Sequence[str]) -> dict[str, Any]:
    params = _json(payload, "params")
    if not isinstance(params, dict):
        raise ModelFileError(f"{path}: 'params' is not a JSON object.")
    for key in _TUPLE_PARAMS:
        if isinstance(params.get(key), list):  # JSON has no tuples
            params[key] = tuple(params[key])
    params.update(device="cpu", checkpoint_path=None, num_threads=None, init_from=None)
    if params.get("module") is not None:
        params["module"] = _trusted_import(params["module"], trusted, path)
    return params


def _trusted_import(name, trusted: Sequence[str], path: Path):
    """Import ``'package.module:Name'`` if ``trusted`` lists it (or its module).

    The rule (also in the README's security section): ``Name`` is one public
    identifier, looked up in the module's own namespace (no dotted path into
    other modules, no underscore names), and the object found must be a
    ``torch.nn.Module`` subclass or a function *defined in* that module
    (``obj.__module__ == 'package.module'``). Anything else is refused before
    any call, so trusting a module never lends its imports (``os``, ``torch``,
    ...) to a file.
    """
    module_name, qualname = _split_import_path(name, path)
    if name not in trusted and module_name not in trusted:
        raise ModelFileError(
            f"{path}: names the network {name!r}, which is not trusted; loading it "
            "would import (and so run) that code. If you trust it, pass "
            f"trusted_modules=[{name!r}]."
        )
    module = importlib.import_module(module_name)
    obj = vars(module).get(qualname)  # the namespace itself: no module __getattr__
    if not _is_network_builder(obj) or obj.__module__ != module_name:
        raise ModelFileError(
            f"{path}: names the network {name!r}, but {module_name} defines no "
            f"torch.nn.Module subclass or function called {qualname!r} (found "
            f"{type(obj).__name__}"
            + (f" from {obj.__module__}" if hasattr(obj, "__module__") else "")
            + "); only networks defined in a trusted module itself can be loaded."
        )
    return obj


def _check_trusted(trusted) -> tuple[str, ...]:
    """``trusted_modules`` as a tuple of strings; a bare string is refused."""
    if isinstance(trusted, str | bytes) or not all(
        isinstance(entry, str) for entry in trusted
    ):
        raise TypeError(
            f"trusted_modules must be a list of 'package.module' or "
            f"'package.module:Name' strings; received {trusted!r}. For one entry, "
            f"pass trusted_modules=[{trusted!r}]."
        )
    return tuple(trusted)


def _split_import_path(name, path) -> tuple[str, str]:
    """``'package.module:Name'`` -> ``('package.module', 'Name')``, or refuse it."""
    text = name if isinstance(name, str) else ""
    module_name, _, qualname = text.partition(":")
    parts = module_name.split(".")
    if not (
        text.count(":") == 1
        and all(part.isidentifier() for part in parts)
        and qualname.isidentifier()
        and not qualname.startswith("_")
    ):
        raise ModelFileError(
            f"{path}: module {name!r} is not 'package.module:Name' with Name one "
            "public identifier defined in that module."
        )
    return module_name, qualname


def _is_network_builder(obj) -> bool:
    is_module_class = isinstance(obj, type) and issubclass(obj, torch.nn.Module)
    return is_module_class or inspect.isfunction(obj)


def _exported(payload: dict, params: dict, path: Path) -> dict[str, Any]:
    image_shape = tuple(int(s) for s in payload["image_shape"][:4])
    _check_bounds(params, image_shape, path)
    n_features_in = int(payload["n_features_in"])
    if int(np.prod(image_shape)) != n_features_in or image_shape != (
        resolve_image_shape(params["image_shape"], n_features_in, "load_model")
    ):
        raise ModelFileError(
            f"{path}: image_shape {image_shape} does not fit n_features_in="
            f"{n_features_in} and the image_shape parameter {params['image_shape']}."
        )
    state = payload["state_dict"]
    if not _is_tensor_dict(state):
        raise ModelFileError(f"{path}: 'state_dict' is not a dict of tensors.")
    quantized = payload.get("quantized_state")
    if quantized is not None and not (
        isinstance(quantized, dict)
        and len(quantized) <= FILE_BOUNDS["records"]
        and all(isinstance(k, str) for k in quantized)
    ):
        raise ModelFileError(
            f"{path}: 'quantized_state' is not a dict of named int8 tensors."
        )
    n_epochs = payload.get("n_epochs", 0)
    if not (isinstance(n_epochs, int) and 0 <= n_epochs <= FILE_BOUNDS["epochs"]):
        raise ModelFileError(
            f"{path}: n_epochs={n_epochs!r}; expected a count of at most "
            f"{FILE_BOUNDS['epochs']}."
        )
    classes = _classes(_json(payload, "classes"), path)
    training = _training(payload.get("training"), path)
    fitted = FittedState(
        n_classes=len(classes),
        image_shape=image_shape,
        # files from before the schedule was stored: one step per epoch
        schedule_steps=training.get("lr_total_steps", params["max_epochs"]),
        seed=training.get("seed", 0),
        mean=float(state.get("mean", torch.tensor(0.0))),
        std=float(state.get("std", torch.tensor(1.0))),
    )
    return {
        "classes": np.asarray(classes),
        "n_features_in": n_features_in,
        "feature_names_in": _json(payload, "feature_names_in"),
        "image_shape": image_shape,
        "fitted": fitted,
        "net": {"module": state, **{k: v for k, v in training.items() if k != "seed"}},
        "history": [{"epoch": i + 1} for i in range(n_epochs)],
        "int8": quantized,
    }


def _classes(classes, path: Path) -> list:
    """Check the file's class labels: a flat list of at least 2 distinct scalars."""
    scalar = (str, int, float)
    ok = (
        isinstance(classes, list)
        and len(classes) >= 2
        and all(isinstance(c, scalar) and not isinstance(c, bool) for c in classes)
        and len(set(classes)) == len(classes)
    )
    if not ok:
        shown = repr(classes)[:80]
        raise ModelFileError(
            f"{path}: 'classes' is {shown}; expected a flat list of at least 2 "
            "distinct labels (strings or numbers)."
        )
    return classes


def _is_tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


_MAX_STEPS = 2**40


def _training(training, path: Path) -> dict[str, Any]:
    """Seed, schedule position and optimizer state (checked against the net later)."""
    if training is None:  # files written before the training state was stored
        return {}
    if not isinstance(training, dict):
        raise ModelFileError(f"{path}: 'training' is not a dict.")
    for key in ("seed", "lr_total_steps", "lr_step"):
        value = training.get(key)
        if not (isinstance(value, int) and 0 <= value <= _MAX_STEPS):
            raise ModelFileError(
                f"{path}: training {key}={value!r}; expected an int in [0, 2**40]."
            )
    saved = training.get("optimizer")
    states = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(states, dict) or not all(
        isinstance(i, int) and _is_tensor_dict(st) for i, st in states.items()
    ):
        raise ModelFileError(
            f"{path}: its optimizer state does not match the network's parameters."
        )
    return dict(training)


def check_tensors(skeleton: torch.nn.Module, exported: dict[str, Any], path) -> None:
    """Compare a file's tensors with the network built from its parameters.

    ``skeleton`` is the declared architecture, built on the ``meta`` device
    (no memory). Checks that the weights are finite and the standardization
    std positive, the weights' names, shapes and dtypes, and that each
    optimizer state belongs to a parameter of the same shape. Raises
    :class:`ModelFileError` on the first difference.
    """
    bad = first_non_finite(exported["module"])
    if bad is not None:
        raise ModelFileError(
            f"{path}: holds non-finite values in {bad!r} (NaN or inf); a "
            "model with them predicts NaN. Refit it."
        )
    std = exported["module"].get("std")
    if std is not None and not float(std) > 0:
        raise ModelFileError(
            f"{path}: declares std={float(std)}; the standardization std must be "
            "positive."
        )
    expected = {k: (tuple(v.shape), v.dtype) for k, v in skeleton.state_dict().items()}
    got = {k: (tuple(v.shape), v.dtype) for k, v in exported["module"].items()}
    if got != expected:
        diff = sorted(set(expected.items()) ^ set(got.items()), key=str)[0]
        raise ModelFileError(
            f"{path}: its tensors do not match the architecture its parameters "
            f"declare (first difference: {diff[0]!r}, expected "
            f"{expected.get(diff[0], 'no such tensor')}, file has "
            f"{got.get(diff[0], 'no such tensor')})."
        )
    saved = exported.get("optimizer")
    if saved is None:
        return
    params = list(skeleton.parameters())
    if not all(
        0 <= i < len(params)
        and all(
            t.shape == params[i].shape for k, t in st.items() if k.startswith("exp_")
        )
        for i, st in saved["state"].items()
    ):
        raise ModelFileError(
            f"{path}: its optimizer state does not match the network's parameters."
        )
