"""Saving, loading and pickling a fitted FashionCNNClassifier.

One fitted state, three ways out: :meth:`~PersistenceMixin._export` gives
the classes, shapes, :class:`~fashionclf._construction.FittedState`, the
net's weights, optimizer state and schedule position (all CPU tensors and
plain containers), and the int8 tensors. ``save`` writes it to the
weights-only file format of :mod:`fashionclf.serialization`; pickling keeps
it as the pickled state (no ``nn.Module``, no device-bound tensor); ``load``
and unpickling rebuild the net from it with
:func:`~fashionclf._construction.build_net`, as ``fit`` does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from . import serialization
from ._construction import (
    NETWORK_PARAMS,
    build_module,
    build_net,
    net_state,
    restore_net_state,
)
from ._quantization import Int8Network, state_from_bytes, state_to_bytes
from ._validation import first_line
from .exceptions import ModelFileError

__all__ = ["PersistenceMixin"]


class PersistenceMixin:
    """``save`` / ``load`` and pickling for :class:`FashionCNNClassifier`.

    The estimator provides ``get_params``, ``_check_params``, ``_int8`` and
    ``_trained``; this mixin only moves its fitted state in and out.
    """

    if TYPE_CHECKING:  # what the estimator class provides
        quantize: bool
        device_: str
        int8_network_: Int8Network | None

        def get_params(self, deep: bool = True) -> dict[str, Any]: ...
        def _check_params(self) -> None: ...
        def _int8(self) -> Int8Network: ...
        def _trained(self, calibration, *, calibrate_now: bool) -> None: ...

    def _export(self) -> dict[str, Any]:
        """Return the fitted state as plain containers and CPU tensors."""
        pending = self.quantize and getattr(self, "_calibration", None) is not None
        int8 = self._int8() if pending else getattr(self, "int8_network_", None)
        return {
            "classes": self.classes_,
            "n_features_in": self.n_features_in_,
            "feature_names_in": getattr(self, "feature_names_in_", None),
            "image_shape": self.image_shape_,
            "fitted": self._state,
            "net": net_state(self.net_),
            "history": list(self.net_.history),
            "int8": None if int8 is None else int8.state,
        }

    def _import(self, exported: dict[str, Any], device: str) -> None:
        """Rebuild ``net_`` and the inference copies from :meth:`_export` output."""
        self.classes_ = np.asarray(exported["classes"])
        self.n_features_in_ = exported["n_features_in"]
        if exported["feature_names_in"] is not None:
            self.feature_names_in_ = np.asarray(exported["feature_names_in"], object)
        self.image_shape_ = tuple(exported["image_shape"])
        self._state, self.device_ = exported["fitted"], device
        self.net_ = build_net(self.get_params(), self._state, device=device)
        restore_net_state(self.net_, exported["net"], exported["history"])
        self._trained(None, calibrate_now=False)
        if exported["int8"] is not None:
            self.int8_network_ = Int8Network(
                self.net_.module_, exported["int8"], self.image_shape_
            )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save weights and parameters in the weights-only format (no pickle).

        Parameters
        ----------
        path : str or path-like
            The file to write (atomically: a crash never leaves half a file).
        """
        check_is_fitted(self)
        serialization.write_model_file(path, self.get_params(), self._export())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, trusted_modules: Sequence[str] = ()
    ) -> Any:
        """Load a model saved by :meth:`save`; never unpickles code.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.
        trusted_modules : sequence of str, default=()
            Import paths (``'package.module:Class'``, or a whole
            ``'package.module'``) of user networks (``module``) the file may
            name; a file naming any other is refused, nothing is imported.

        Returns
        -------
        model : FashionCNNClassifier
            Fitted, on the CPU (``device='cpu'``); see
            :func:`fashionclf.serialization.read_model_file` for what is
            restored and checked.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ModelFileError
            The file is not a valid model file, or names an untrusted module.
        """
        params, exported = serialization.read_model_file(path, trusted_modules)
        try:
            model = cls(**params)
            model._check_params()
            skeleton = build_module(
                {k: params[k] for k in NETWORK_PARAMS}, exported["fitted"], meta=True
            )
            serialization.check_tensors(skeleton, exported["net"], path)
            model._import(exported, "cpu")
            if model.int8_network_ is not None:
                try:  # built now, so a mismatch fails here
                    model.int8_network_.graph()
                except Exception as exc:
                    raise ModelFileError(
                        f"{path}: its int8 tensors do not match the architecture "
                        f"its parameters declare: {first_line(exc)}"
                    ) from exc
        except ModelFileError:
            raise
        except Exception as exc:  # any other failure on crafted data is a bad file
            raise ModelFileError(
                f"{path}: malformed model file ({type(exc).__name__}: "
                f"{first_line(exc)})."
            ) from exc
        return model

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # type: ignore[call-overload]  # a copy
        for key in ("_float_network", "_calibration", "net_", "history_"):
            state.pop(key, None)
        state.pop("int8_network_", None)
        if hasattr(self, "net_"):
            exported = self._export()
            if exported["int8"] is not None:  # quantized tensors pickle as bytes
                exported["int8"] = state_to_bytes(exported["int8"])
            state["_exported"] = exported
        return state

    def __setstate__(self, state: dict) -> None:
        exported = state.pop("_exported", None)
        self.__dict__.update(state)
        if exported is not None:
            device = self.device_
            if device.startswith("cuda") and not torch.cuda.is_available():
                warnings.warn(
                    f"This model was fitted on {device!r}, which is not available "
                    "here; it is loaded on the CPU.",
                    UserWarning,
                    stacklevel=2,
                )
                device = "cpu"
            if isinstance(exported["int8"], bytes):
                exported["int8"] = state_from_bytes(exported["int8"])
            self._import(exported, device)
