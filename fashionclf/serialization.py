"""Weights-only model files: tensors plus JSON parameters, loaded without unpickling.

``save_model`` writes a ``torch.save`` archive holding only plain containers,
strings, numbers and tensors; ``load_model`` reads it with
``torch.load(weights_only=True)``, whose restricted unpickler refuses any
other object, so opening a model file never executes code. (Pickle/joblib
files of a fitted estimator also work, but may run code when loaded: open
them only from trusted sources.)
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from ._atomic import atomic_write
from ._validation import resolve_image_shape
from .classifier import FashionCNNClassifier
from .exceptions import ModelFileError

__all__ = ["FILE_BOUNDS", "MIN_TORCH", "load_model", "save_model"]

_FORMAT = "fashionclf.FashionCNNClassifier"
_FORMAT_VERSION = 1
_TUPLE_PARAMS = ("image_shape", "pixel_range", "width", "convs_per_block")


def save_model(model: FashionCNNClassifier, path: str | os.PathLike[str]) -> None:
    """Write a fitted classifier to ``path`` in the weights-only format.

    The file is written to a temporary name and renamed, so a crash never
    leaves a half-written model.

    Parameters
    ----------
    model : FashionCNNClassifier
        A fitted classifier.
    path : path-like
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    params = model.get_params()
    params["callbacks"] = None  # objects, not data: never stored
    # where a later fit writes, and how many threads it takes, are the loader's
    # choice, never the file's (a Path would not be JSON either)
    params["checkpoint_path"] = params["num_threads"] = None
    if not isinstance(params["random_state"], int | type(None)):
        params["random_state"] = None  # a RandomState object is not data
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "params": json.dumps(params),
        "classes": json.dumps(model.classes_.tolist()),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": json.dumps(
            model.feature_names_in_.tolist()
            if hasattr(model, "feature_names_in_")
            else None
        ),
        "image_shape": list(model.image_shape_),
        "n_epochs": len(model.history_),
        "state_dict": {
            k: v.detach().cpu() for k, v in model.net_.module_.state_dict().items()
        },
        "quantized_state": getattr(model, "quantized_state_", None),
        # what partial_fit needs to continue as the saved model would have
        "training": _training_state(model),
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _training_state(model: FashionCNNClassifier) -> dict:
    schedule = dict(model.net_.callbacks_).get("lr_schedule")
    return {
        "seed": int(model._seed),
        "lr_total_steps": int(getattr(schedule, "total_steps", 0)),
        "lr_step": int(getattr(schedule, "step_", 0)),
        "optimizer": model.net_.optimizer_.state_dict(),
    }


def load_model(path: str | os.PathLike[str]) -> FashionCNNClassifier:
    """Load a classifier saved by :func:`save_model`, without unpickling code.

    The file is treated as untrusted: before anything is unpickled, it must be
    a zip archive of uncompressed records within size limits; the parameters
    it declares must lie within :data:`FILE_BOUNDS`; and its tensors must
    match the declared architecture, which is first built on torch's
    ``meta`` device (no memory). Every failure raises :class:`ModelFileError`.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    FashionCNNClassifier
        Fitted, on the CPU (``device='cpu'``); ``history_`` has one row per
        trained epoch holding only its number (losses are not stored);
        ``checkpoint_path`` and ``num_threads`` are reset to ``None`` (a file
        never chooses where a later fit writes). The optimizer state, the
        learning-rate schedule's position and the seed are restored, so
        ``partial_fit`` continues exactly as on the saved model. (Files
        written before they were stored load with a fresh optimizer.)

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        The file is not a fashionclf weights-only model (e.g. a pickle, which
        is refused rather than executed), exceeds the limits, or its tensors
        do not match the architecture its parameters declare; or the
        installed torch is older than ``MIN_TORCH``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file.")
    _check_torch_version()
    _check_archive(path)
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler refused, or bad data
        raise ModelFileError(
            f"{path}: not a fashionclf weights-only model file ({type(exc).__name__}: "
            f"{_first_line(exc)}). Files that need the full pickle machinery are "
            "refused because opening them can execute code; fashionclf reads only "
            "files written by FashionCNNClassifier.save."
        ) from exc
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
    try:
        model = _model_from_payload(payload, path)
        _check_tensors(model, payload["state_dict"], path)
        _restore_network(
            model,
            payload["state_dict"],
            path,
            payload.get("training"),
            payload.get("n_epochs", 0),
        )
    except ModelFileError:
        raise
    except Exception as exc:  # any other failure on crafted data is a bad file
        raise ModelFileError(
            f"{path}: malformed model file ({type(exc).__name__}: {_first_line(exc)})."
        ) from exc
    return model


#: torch versions before this have known flaws in ``torch.load(weights_only=True)``
#: (CVE-2025-32434, fixed in 2.6; CVE-2026-24747, fixed in 2.10).
MIN_TORCH = (2, 10)

#: Limits on what a model file may declare; a file beyond them is refused.
FILE_BOUNDS: dict[str, int] = {
    "file_bytes": 512 * 2**20,  # the uncompressed archive
    "records": 4096,
    "json_chars": 65536,
    "n_blocks": 8,
    "convs_per_block": 16,
    "width": 4096,
    "dense_units": 65536,
    "channels": 64,
    "side": 1024,
}


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


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
        raise ModelFileError(
            f"{path}: not a fashionclf weights-only model file (not a zip archive: "
            f"{_first_line(exc)}). Pickle files are refused because opening them can "
            "execute code; fashionclf reads only files written by "
            "FashionCNNClassifier.save."
        ) from exc
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


def _model_from_payload(payload: dict, path: Path) -> FashionCNNClassifier:
    params = _json(payload, "params")
    if not isinstance(params, dict):
        raise ModelFileError(f"{path}: 'params' is not a JSON object.")
    for key in _TUPLE_PARAMS:
        if isinstance(params.get(key), list):  # JSON has no tuples
            params[key] = tuple(params[key])
    params.update(device="cpu", checkpoint_path=None, num_threads=None)
    image_shape = tuple(int(s) for s in payload["image_shape"][:4])
    _check_bounds(params, image_shape, path)
    model = FashionCNNClassifier(**params)
    model._check_params()
    model.classes_ = np.asarray(_json(payload, "classes"))
    model.n_features_in_ = int(payload["n_features_in"])
    names = _json(payload, "feature_names_in")
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    model.image_shape_ = image_shape
    if int(np.prod(image_shape)) != model.n_features_in_ or image_shape != (
        resolve_image_shape(model.image_shape, model.n_features_in_, "load_model")
    ):
        raise ModelFileError(
            f"{path}: image_shape {image_shape} does not fit n_features_in="
            f"{model.n_features_in_} and the image_shape parameter "
            f"{model.image_shape}."
        )
    model.device_ = "cpu"
    model._seed = 0
    quantized = payload.get("quantized_state")
    if quantized is not None and not (
        isinstance(quantized, dict)
        and len(quantized) <= FILE_BOUNDS["records"]
        and all(isinstance(k, str) for k in quantized)
    ):
        raise ModelFileError(
            f"{path}: 'quantized_state' is not a dict of named int8 tensors."
        )
    model.quantized_state_ = quantized
    return model


def _is_tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    )


_MAX_STEPS = 2**40


def _restore_training(model: FashionCNNClassifier, training, path: Path) -> None:
    """Seed, schedule position and optimizer state, each checked first."""
    if not isinstance(training, dict):
        raise ModelFileError(f"{path}: 'training' is not a dict.")
    for key in ("seed", "lr_total_steps", "lr_step"):
        value = training.get(key)
        if not (isinstance(value, int) and 0 <= value <= _MAX_STEPS):
            raise ModelFileError(
                f"{path}: training {key}={value!r}; expected an int in [0, 2**40]."
            )
    model._seed = training["seed"]
    schedule = dict(model.net_.callbacks_).get("lr_schedule")
    if schedule is not None:
        schedule.total_steps = training["lr_total_steps"]
        schedule.step_ = training["lr_step"]
    optimizer = model.net_.optimizer_
    saved = training.get("optimizer")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    states = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(states, dict) or not all(
        isinstance(i, int)
        and 0 <= i < len(params)
        and _is_tensor_dict(st)
        and all(
            t.shape == params[i].shape for k, t in st.items() if k.startswith("exp_")
        )
        for i, st in states.items()
    ):
        raise ModelFileError(
            f"{path}: its optimizer state does not match the network's parameters."
        )
    optimizer.load_state_dict(saved)


def _check_tensors(model: FashionCNNClassifier, state, path: Path) -> None:
    """Compare the file's tensors with the architecture built on the meta device."""
    if not _is_tensor_dict(state):
        raise ModelFileError(f"{path}: 'state_dict' is not a dict of tensors.")
    with torch.device("meta"):
        skeleton = model._build_module()
    expected = {k: (tuple(v.shape), v.dtype) for k, v in skeleton.state_dict().items()}
    got = {k: (tuple(v.shape), v.dtype) for k, v in state.items()}
    if got != expected:
        diff = sorted(set(expected.items()) ^ set(got.items()), key=str)[0]
        raise ModelFileError(
            f"{path}: its tensors do not match the architecture its parameters "
            f"declare (first difference: {diff[0]!r}, expected "
            f"{expected.get(diff[0], 'no such tensor')}, file has "
            f"{got.get(diff[0], 'no such tensor')})."
        )


def _restore_network(
    model: FashionCNNClassifier, state: dict, path: Path, training, n_epochs
) -> None:
    from skorch.history import History

    model.net_ = model._make_net(model._build_module(), 1, None)
    model.net_.initialize()
    model.net_.module_.load_state_dict(state, strict=True)
    if not (isinstance(n_epochs, int) and 0 <= n_epochs <= _MAX_STEPS):
        raise ModelFileError(f"{path}: n_epochs={n_epochs!r} is not a count.")
    model.net_.history = History([{"epoch": i + 1} for i in range(n_epochs)])
    if training is not None:
        _restore_training(model, training, path)
    model._fold_network()
    if model.quantized_state_ is not None:
        try:
            model._int8_network()  # built now, so a mismatch fails here
        except Exception as exc:
            raise ModelFileError(
                f"{path}: its int8 tensors do not match the architecture its "
                f"parameters declare: {_first_line(exc)}"
            ) from exc
    model.history_ = model.net_.history
