"""Weights-only model files: tensors plus JSON parameters, loaded without unpickling.

:func:`write_model_file` writes a safetensors file: the tensors by name, and
the parameters, classes and training state as JSON in its metadata
(:mod:`.container`). Reading one parses JSON and copies
bytes; there is no unpickler at all, and any safetensors tool can list its
tensors, so opening a model file never executes code. (Pickle/joblib files
of a fitted estimator also work, but may run code when loaded: open them
only from trusted sources.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._estimator.codec import first_non_finite
from .._estimator.construction import NETWORK_PARAMS, FitRecord, build_module
from .._utils.atomic import atomic_write
from .._utils.messages import first_line
from .._utils.validation import resolve_image_shape
from ..exceptions import ModelFileError
from .container import MAX_HEADER_BYTES, read_tree, write_tree

__all__ = [
    "FILE_BOUNDS",
    "check_int8_graph",
    "check_int8_numbers",
    "check_tensors",
    "read_model_file",
    "read_payload",
    "saved_bytes",
    "size_beyond_bounds",
    "write_model_file",
    "write_payload",
]

_FORMAT = "fashionclf.FashionCNNClassifier"
_FORMAT_VERSION = 2  # a safetensors file (version 1, a zip archive, was never released)
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
        needs: a file about a third the size (``partial_fit`` on the loaded
        model then starts a fresh optimizer).
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
        "precision": fitted.precision,  # what training used ('auto' resolved)
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

    Reading runs no code. Raises :class:`~fashionclf.ModelFileError` when the container
    is not a safetensors file or exceeds ``FILE_BOUNDS``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > FILE_BOUNDS["file_bytes"]:
        raise ModelFileError(
            f"{path}: {size:,} bytes; a model file may hold at most "
            f"{FILE_BOUNDS['file_bytes']:,}."
        )
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
    _check_version(payload, path)
    return payload


def _not_a_model_file(path: Path, detail: str) -> ModelFileError:
    """Return the one refusal of a file that is no fashionclf model, saying why."""
    return ModelFileError(
        f"{path}: not a fashionclf weights-only model file ({detail}). Pickle files "
        "are refused because opening them can execute code; fashionclf reads only "
        "files written by FashionCNNClassifier.save."
    )


def _check_version(payload: Any, path: Path) -> None:
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ModelFileError(
            f"{path}: holds no '{_FORMAT}' model; expected a file written by "
            "FashionCNNClassifier.save."
        )
    if payload.get("format_version") != _FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: format version {payload.get('format_version')!r}; this "
            f"fashionclf reads version {_FORMAT_VERSION}."
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
    header and tensor count lie within ``FILE_BOUNDS``; the parameters it
    declares must lie within ``FILE_BOUNDS``; a user network it names
    is imported only if listed in ``trusted_modules``; its tensors must match
    the architecture it declares, built on torch's ``meta`` device (no
    memory; ``check_tensors``); a user network is built only once, by
    :meth:`fashionclf.FashionCNNClassifier.load`, which checks the tensors against it
    before loading them (a factory that loads weights itself cannot run on
    the meta device). Every failure raises :class:`~fashionclf.ModelFileError`.

    What is restored: the weights, the optimizer state, the learning-rate
    schedule's position and the seed, so ``partial_fit`` continues exactly
    as on the saved model (files saved with ``training_state=False`` load
    with a fresh optimizer); ``history_`` has one row per trained epoch holding
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
        is refused rather than executed), exceeds the limits, or names an
        untrusted module.
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


#: Limits on what a model file may declare; a file beyond them is refused.
FILE_BOUNDS: dict[str, int] = {
    "file_bytes": 512 * 2**20,
    "records": 4096,  # tensors
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


def _json(payload: dict, key: str):
    text = payload[key]
    if not isinstance(text, str) or len(text) > FILE_BOUNDS["json_chars"]:
        raise ModelFileError(
            f"'{key}' is not a JSON string of at most {FILE_BOUNDS['json_chars']} "
            "characters"
        )
    return json.loads(text)  # RecursionError on deep nesting: caught by the caller


def size_beyond_bounds(
    params: dict, image_shape: Sequence[int]
) -> tuple[str, Any] | None:
    """Return the first ``(size, value)`` beyond ``FILE_BOUNDS``, or None.

    One set of limits for ``fit`` (which refuses such a model before
    training) and for reading a file (which refuses it before building
    anything), so every model ``save`` writes can be loaded.
    """
    checks = [(k, params.get(k)) for k in ("n_blocks", "dense_units")]
    for key in ("width", "convs_per_block"):
        value = params.get(key)
        values = value if isinstance(value, tuple | list) else [value]
        checks += [(key, v) for v in values]
    checks += [("channels", image_shape[0])]
    checks += [("side", v) for v in image_shape[1:]]
    for key, value in checks:
        ok = isinstance(value, Integral) and 1 <= int(value) <= FILE_BOUNDS[key]
        if not ok:
            return key, value
    return None


def _check_bounds(params: dict, image_shape: tuple[int, ...], path: Path) -> None:
    """Refuse architecture sizes beyond FILE_BOUNDS before building anything."""
    if len(image_shape) != 3:
        raise ModelFileError(f"{path}: image_shape {image_shape} is not (C, H, W).")
    beyond = size_beyond_bounds(params, image_shape)
    if beyond is not None:
        key, value = beyond
        raise ModelFileError(
            f"{path}: declares {key}={value!r}; a model file may declare at most "
            f"{FILE_BOUNDS[key]} (a positive int)."
        )


def saved_bytes(module: torch.nn.Module) -> int:
    """Bytes a model file of ``module`` holds: its state and two optimizer moments."""
    state = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    moments = sum(2 * p.numel() * p.element_size() for p in module.parameters())
    return state + moments


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

    The rule (also on :doc:`/user_guide/security`): ``Name`` is one public
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
    if quantized is not None:
        check_int8_numbers(quantized, path)
    n_epochs = payload.get("n_epochs", 0)
    if not (isinstance(n_epochs, int) and 0 <= n_epochs <= FILE_BOUNDS["epochs"]):
        raise ModelFileError(
            f"{path}: n_epochs={n_epochs!r}; expected a count of at most "
            f"{FILE_BOUNDS['epochs']}."
        )
    classes = _classes(_json(payload, "classes"), path)
    training = _training(payload.get("training"), path)
    fitted = FitRecord(
        n_classes=len(classes),
        image_shape=image_shape,
        # saved with training_state=False: partial_fit starts a schedule of
        # one step per epoch
        schedule_steps=training.get("lr_total_steps", params["max_epochs"]),
        seed=training.get("seed", 0),
        mean=float(state.get("mean", torch.tensor(0.0))),
        std=float(state.get("std", torch.tensor(1.0))),
        precision=_precision(payload, params, path),
    )
    return {
        "classes": np.asarray(classes),
        "n_features_in": n_features_in,
        "feature_names_in": _feature_names(payload, n_features_in, path),
        "image_shape": image_shape,
        "fitted": fitted,
        "net": {"module": state, **{k: v for k, v in training.items() if k != "seed"}},
        "history": [{"epoch": i + 1} for i in range(n_epochs)],
        "int8": quantized,
    }


#: What a file may say its network was trained in.
_TRAINED_PRECISIONS = ("float32", "bfloat16", "float16")


def _precision(payload: dict, params: dict, path: Path) -> str:
    """Return the precision the file's network was trained in.

    Files written before it was recorded (the shipped model) trained in
    their ``precision`` parameter, which was never ``'auto'`` then.
    """
    declared = params.get("precision", "float32")
    default = "float32" if declared == "auto" else declared
    precision = payload.get("precision", default)
    if precision not in _TRAINED_PRECISIONS:
        raise ModelFileError(
            f"{path}: precision={precision!r}; expected one of "
            f"{list(_TRAINED_PRECISIONS)}."
        )
    return precision


def _feature_names(payload: dict, n_features_in: int, path: Path) -> list | None:
    """Check the file's column names: None, or ``n_features_in`` strings."""
    names = _json(payload, "feature_names_in")
    ok = names is None or (
        isinstance(names, list)
        and len(names) == n_features_in
        and all(isinstance(n, str) for n in names)
    )
    if not ok:
        shown = repr(names)[:80]
        raise ModelFileError(
            f"{path}: 'feature_names_in' is {shown}; expected null or a list of "
            f"n_features_in={n_features_in} column names (strings)."
        )
    return names


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
    if training is None:  # saved with training_state=False
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


#: Zero points an int8 network may hold: qint8 weights, quint8 activations.
_ZERO_POINTS = {torch.qint8: (-128, 127), torch.quint8: (0, 255)}
_ACTIVATION_ZERO_POINTS = (-128, 255)


def check_int8_numbers(state: dict[str, Any], path) -> None:
    """Refuse an int8 state whose numbers cannot be a calibrated network's.

    Every float (biases, batch-norm statistics, the standardization mean and
    std, activation scales) must be finite; scales and the std positive;
    zero points within their integer type (activations: -128 to 255). Checked
    before any graph is built, as ``check_tensors`` checks float weights.
    """

    def refuse(name: str, what: str) -> ModelFileError:
        return ModelFileError(
            f"{path}: its int8 state holds {what} in {name!r}; a calibrated int8 "
            "network has finite scales, biases and statistics, positive scales "
            "and zero points within their integer type. Quantize the model again."
        )

    def walk(name: str, value: Any) -> None:
        if isinstance(value, tuple | list):
            for i, item in enumerate(value):
                walk(f"{name}[{i}]", item)
            return
        if not isinstance(value, torch.Tensor):
            return
        if value.is_quantized:
            if value.qscheme() == torch.per_channel_affine:
                scales = value.q_per_channel_scales()
                zeros = value.q_per_channel_zero_points()
            else:
                scales = torch.tensor([value.q_scale()])
                zeros = torch.tensor([value.q_zero_point()])
            if not (torch.isfinite(scales).all() and (scales > 0).all()):
                raise refuse(name, "a non-finite or non-positive scale")
            low, high = _ZERO_POINTS.get(value.dtype, (-(2**31), 2**31 - 1))
            if zeros.numel() and not (low <= zeros.min() and zeros.max() <= high):
                raise refuse(name, f"a zero point outside [{low}, {high}]")
            return
        leaf = name.rsplit(".", 1)[-1]
        if value.is_floating_point():
            if not torch.isfinite(value).all():
                raise refuse(name, "NaN or inf")
            if ("scale" in leaf or leaf == "std") and not (value > 0).all():
                raise refuse(name, "a non-positive scale or std")
        elif "zero_point" in leaf and value.numel():
            low, high = _ACTIVATION_ZERO_POINTS
            if not (low <= value.min() and value.max() <= high):
                raise refuse(name, f"a zero point outside [{low}, {high}]")

    for key, value in state.items():
        walk(key, value)


def check_tensors(skeleton: torch.nn.Module, exported: dict[str, Any], path) -> None:
    """Compare a file's tensors with the network built from its parameters.

    ``skeleton`` is the declared architecture, built on the ``meta`` device
    (no memory). Checks that the weights are finite and the standardization
    std positive, the weights' names, shapes and dtypes, and that each
    optimizer state belongs to a parameter of the same shape. Raises
    :class:`~fashionclf.ModelFileError` on the first difference.
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


def check_int8_graph(int8, path) -> None:
    """Build a loaded model's int8 graph now, so tensors that do not fit fail here.

    ``int8`` is the model's :class:`~fashionclf._estimator.quantization.Int8Network`
    (``int8_network_``). Raises :class:`~fashionclf.ModelFileError` when its
    tensors do not fit the architecture the file's parameters declare.
    """
    try:
        int8.graph()
    except Exception as exc:
        raise ModelFileError(
            f"{path}: its int8 tensors do not match the architecture "
            f"its parameters declare: {first_line(exc)}"
        ) from exc
