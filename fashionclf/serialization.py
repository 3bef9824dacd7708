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
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from ._inference import folded_copy
from .classifier import FashionCNNClassifier
from .exceptions import ModelFileError

__all__ = ["load_model", "save_model"]

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
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".part-", dir=path.parent or ".")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_model(path: str | os.PathLike[str]) -> FashionCNNClassifier:
    """Load a classifier saved by :func:`save_model`, without unpickling code.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    FashionCNNClassifier
        Fitted, on the CPU (``device='cpu'``); ``history_`` is empty.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ModelFileError
        The file is not a fashionclf weights-only model (e.g. a pickle, which
        is refused rather than executed), or its tensors do not match the
        architecture its parameters declare.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file.")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        raise ModelFileError(
            f"{path}: not a fashionclf weights-only model file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Pickle/joblib files are "
            "refused here because loading them can execute code; open those only from "
            "trusted sources with joblib.load."
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
        params = json.loads(payload["params"])
        for key in _TUPLE_PARAMS:
            if isinstance(params.get(key), list):  # JSON has no tuples
                params[key] = tuple(params[key])
        params["device"] = "cpu"
        model = FashionCNNClassifier(**params)
        model._check_params()
        model.classes_ = np.asarray(json.loads(payload["classes"]))
        model.n_features_in_ = int(payload["n_features_in"])
        names = json.loads(payload["feature_names_in"])
        if names is not None:
            model.feature_names_in_ = np.asarray(names, dtype=object)
        model.image_shape_ = tuple(int(s) for s in payload["image_shape"])
        model.device_ = "cpu"
        model._seed = 0
        state = payload["state_dict"]
        model.quantized_state_ = payload.get("quantized_state")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: malformed model file ({exc}).") from exc
    _restore_network(model, state, path)
    return model


def _restore_network(model: FashionCNNClassifier, state: dict, path: Path) -> None:
    model.net_ = model._make_net(model._build_module(), 1, None)
    model.net_.initialize()
    try:
        model.net_.module_.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, KeyError) as exc:
        raise ModelFileError(
            f"{path}: its tensors do not match the architecture its parameters "
            f"declare: {str(exc).splitlines()[0]}"
        ) from exc
    model._float_network = folded_copy(model.net_.module_)
    if model.quantized_state_ is not None:
        try:
            model._int8_network()  # built now, so a mismatch fails here
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ModelFileError(
                f"{path}: its int8 tensors do not match the architecture its "
                f"parameters declare: {str(exc).splitlines()[0]}"
            ) from exc
    model.history_ = model.net_.history
