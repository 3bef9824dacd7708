"""How FashionCNNClassifier trains: checks, data, seeding, the skorch net.

:class:`FittingMixin` holds what ``fit`` and ``partial_fit`` do between
validating their input and returning: it converts pixels to image tensors,
encodes labels and weights, splits off the validation set, builds the net
with :func:`~fashionclf._construction.build_net` on the first call (or
resumes a matching checkpoint), trains, and refreshes the inference copies
(folded float network; int8, calibrated now after a whole ``fit`` or at the
first prediction after ``partial_fit``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.helper import predefined_split

from ._construction import FittedState, build_net, fingerprint, split_validation
from ._devices import resolve_device
from ._inference import folded_copy
from ._locks import seeded_torch_rng
from ._quantization import Int8Network
from ._training import WeightedTensors, checkpoint_file, resume_from_checkpoint
from ._validation import (
    check_pixels,
    encode_labels,
    expected_got,
    resolve_image_shape,
    training_weights,
)

__all__ = ["FittingMixin"]


class FittingMixin:
    """Training internals of :class:`FashionCNNClassifier` (its ``_fit``).

    The estimator provides its parameters, ``get_params`` and
    ``_validate_params``.
    """

    if TYPE_CHECKING:  # what the estimator class provides
        pixel_range: tuple[float, float] | None
        image_shape: Any
        early_stopping: bool
        validation_fraction: float
        num_threads: int | None
        device: str
        quantize: bool
        class_weight: Any
        random_state: Any
        standardize: bool
        checkpoint_path: Any
        max_epochs: int
        batch_size: int
        classes_: np.ndarray
        image_shape_: tuple[int, ...]
        device_: str
        net_: Any
        history_: Any
        int8_network_: Int8Network | None
        _state: FittedState
        _calibration: torch.Tensor | None
        _float_network: torch.nn.Module

        def get_params(self, deep: bool = True) -> dict[str, Any]: ...
        def _validate_params(self) -> None: ...

    def _check_params(self) -> None:
        self._validate_params()
        owner = type(self).__name__
        pr = self.pixel_range
        if pr is not None and not (
            len(pr) == 2 and all(isinstance(v, Real) for v in pr) and pr[0] < pr[1]
        ):
            raise ValueError(
                expected_got(
                    owner, f"pixel_range={pr!r}", "None or (low, high) with low < high"
                )
            )
        if self.early_stopping and self.validation_fraction <= 0:
            raise ValueError(
                expected_got(
                    owner,
                    "early_stopping=True with validation_fraction=0",
                    "validation_fraction > 0 to monitor",
                    "Set e.g. validation_fraction=0.1.",
                )
            )

    def _to_images(self, X, *, reset: bool) -> torch.Tensor:
        Xf = check_pixels(
            self,
            X,
            reset=reset,
            image_shape=self.image_shape,
            pixel_range=self.pixel_range,
        )
        if reset:
            self.image_shape_ = resolve_image_shape(
                self.image_shape, Xf.shape[1], type(self).__name__
            )
        return torch.from_numpy(np.ascontiguousarray(Xf)).reshape(
            -1, *self.image_shape_
        )

    @contextlib.contextmanager
    def _torch_env(self, seed: int | None = None) -> Iterator[None]:
        """Set torch's threads, and (training) fork and seed its global RNG.

        The estimator's own random draws use per-fit generators; the seeded
        fork serves only code that draws from the global RNG (a user module's
        ``torch.nn.Dropout``) and keeps the caller's RNG state untouched.
        """
        prev_threads = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        seeded = (
            seeded_torch_rng(seed, self.device_)
            if seed is not None
            else contextlib.nullcontext()
        )
        try:
            with seeded:
                yield
        finally:
            torch.set_num_threads(prev_threads)

    def _fit(self, X, y, classes, epochs, sample_weight) -> Any:
        first, whole = not hasattr(self, "net_"), epochs is None
        if first:
            self._check_params()
            self.device_ = resolve_device(self.device, type(self).__name__)
            if self.quantize and self.device_ != "cpu":
                raise ValueError(
                    expected_got(
                        type(self).__name__,
                        f"quantize=True with device={self.device_!r}",
                        "device='cpu': int8 kernels run on the CPU only",
                    )
                )
        Xt = self._to_images(X, reset=first)
        if len(Xt) < 2:
            raise ValueError(
                expected_got(
                    type(self).__name__, f"{len(Xt)} sample", "at least 2 samples"
                )
            )
        known = classes if first else self.classes_
        self.classes_, codes = encode_labels(y, len(Xt), known, type(self).__name__)
        weight = training_weights(
            sample_weight, self.class_weight, codes, self.classes_
        )
        yt = torch.from_numpy(codes)
        wt = None if weight is None else torch.from_numpy(weight)
        seed = (
            int(check_random_state(self.random_state).randint(2**31 - 1))
            if first
            else self._state.seed
        )
        with self._torch_env(seed + (0 if first else len(self.net_.history))):
            Xtr, ytr, wtr, valid = split_validation(
                Xt, yt, wt, self.validation_fraction, seed
            )
            if first:
                epochs = self._start(Xt, yt, wt, Xtr, valid, seed, epochs)
            else:
                self.net_.train_split = (
                    None if valid is None else predefined_split(valid)
                )
            self.net_.max_epochs = self.max_epochs if epochs is None else epochs
            if self.net_.max_epochs > 0:
                data = (Xtr, ytr) if wtr is None else (WeightedTensors(Xtr, ytr, wtr),)
                self.net_.partial_fit(*data)
            self.net_.train_split = None  # do not keep validation data in the model
        self._trained(Xtr if self.quantize else None, calibrate_now=whole)
        return self

    def _start(self, Xt, yt, wt, Xtr, valid, seed: int, epochs: int | None):
        """Build ``net_`` for a first epoch; return the epochs left to train."""
        mean, std = (
            (Xtr.mean().item(), Xtr.std().item()) if self.standardize else (0, 1)
        )
        steps = self.max_epochs * math.ceil(len(Xtr) / self.batch_size)
        self._state = FittedState(
            len(self.classes_), self.image_shape_, steps, seed, mean, std or 1.0
        )
        params, checkpoint = self.get_params(), None
        if self.checkpoint_path is not None:
            key = fingerprint(params, Xt, yt, wt)
            checkpoint = (checkpoint_file(self.checkpoint_path, key), key)
        self.net_ = build_net(
            params, self._state, device=self.device_, valid=valid, checkpoint=checkpoint
        )
        if checkpoint is not None and epochs is None:
            epochs = self.max_epochs - resume_from_checkpoint(self.net_, *checkpoint)
        return epochs

    def _trained(self, calibration: torch.Tensor | None, *, calibrate_now: bool):
        """After the weights changed: inference copies, int8 (now or when used)."""
        self.history_ = self.net_.history
        self._float_network = folded_copy(self.net_.module_)
        self.int8_network_ = None
        if calibration is not None:  # 2,048 images, not the whole training set
            calibration = Int8Network.calibration_sample(calibration)
        self._calibration = calibration
        if calibration is not None and calibrate_now:
            self._int8()

    def _int8(self) -> Int8Network:
        """Return the int8 network, calibrated on first use after training."""
        int8 = getattr(self, "int8_network_", None)
        if int8 is None:
            images = getattr(self, "_calibration", None)
            if images is None:
                raise ValueError(
                    expected_got(
                        type(self).__name__,
                        "quantize=True on a model fitted with quantize=False",
                        "a refit after set_params(quantize=True)",
                    )
                )
            with self._torch_env():
                int8 = Int8Network.calibrate(self.net_.module_, images, self.batch_size)
            self.int8_network_, self._calibration = int8, None
        return int8
