"""The fitted network: everything a fit leaves behind, in one object.

A :class:`~fashionclf.FashionCNNClassifier` holds one :class:`FittedNetwork`
after ``fit``, ``load`` or unpickling. It keeps the trained skorch net, the
:class:`~.construction.FitRecord` the net was built from, the folded float
copy that predictions run and the int8 copy (calibrated on first use). It
builds the one module that maps pixel rows to probabilities, turns itself
into plain data (model files, pickles, device moves) and is rebuilt from it.
The estimator keeps only its public fitted attributes beside it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..export import PixelsToProba
from .codec import net_state, restore_net_state
from .construction import FitRecord, build_net
from .inference import folded_copy, forward_batches
from .quantization import Int8Network, calibration_sample

__all__ = ["FittedNetwork"]


class FittedNetwork:
    """A trained net and the inference copies derived from its weights.

    Parameters
    ----------
    net : fashionclf._estimator.training.Net
        The skorch net, as :func:`~.construction.build_net` returns it.
    record : FitRecord
        What rebuilding ``net`` needs besides its weights.
    placed_for : str
        The estimator's ``device`` parameter that ``net`` was placed for;
        the estimator moves the network only when that parameter changes.

    Attributes
    ----------
    float_network : torch.nn.Module or None
        The folded (batch norm merged) copy predictions run; set by
        :meth:`refresh` once the weights are final.
    int8 : Int8Network or None
        The int8 copy, calibrated by :meth:`int8_network` on first use.
    """

    def __init__(self, net, record: FitRecord, placed_for: str) -> None:
        self.net = net
        self.record = record
        self.placed_for = placed_for
        self.float_network: torch.nn.Module | None = None
        self.int8: Int8Network | None = None
        self._calibration: torch.Tensor | None = None

    @classmethod
    def build(
        cls,
        params: dict[str, Any],
        record: FitRecord,
        *,
        device: str,
        valid=None,
        checkpoint=None,
    ) -> FittedNetwork:
        """Build an untrained net on ``device``.

        ``params``: the estimator's current parameters; those of
        :data:`~.construction.BUILD_PARAMS` are read from ``record.params``.
        """
        net = build_net(
            record.build_params(params),
            record,
            device=device,
            valid=valid,
            checkpoint=checkpoint,
        )
        return cls(net, record, params["device"])

    @property
    def pending_int8(self) -> bool:
        """Whether calibration images wait for :meth:`int8_network`."""
        return self._calibration is not None

    def refresh(self, calibration: torch.Tensor | None = None) -> None:
        """After the weights changed: a new folded copy; int8 from ``calibration``.

        ``calibration``: training images; up to 2,048 evenly spaced ones are
        kept until :meth:`int8_network` needs them.
        """
        self.float_network = folded_copy(self.net.module_)
        self.int8 = None
        self._calibration = (
            None if calibration is None else calibration_sample(calibration)
        )

    def snapshot(self) -> FittedNetwork:
        """Return a copy that predicts with the weights as they are now.

        For scoring during training (scikit-learn's ``ScoringMonitor``): the
        net is shared, the folded copy is new; no int8 copy.
        """
        new = copy.copy(self)
        new.refresh()
        return new

    def calibrate(self, images: torch.Tensor, batch_size: int) -> Int8Network:
        """Quantize to int8 now, with activation ranges set by ``images``."""
        self.int8, self._calibration = None, calibration_sample(images)
        return self.int8_network(batch_size)

    def int8_network(self, batch_size: int) -> Int8Network:
        """Return the int8 network, calibrated on first use after training.

        Raises
        ------
        LookupError
            Neither an int8 network nor calibration images are held (the
            model was fitted with ``quantize=False``).
        """
        if self.int8 is None:
            if self._calibration is None:
                raise LookupError("no int8 network and no calibration images")
            self.int8 = Int8Network.calibrate(
                self.net.module_, self._calibration, batch_size
            )
            self._calibration = None
        return self.int8

    def proba_module(
        self, pixel_range, tta: bool, *, int8: bool = False
    ) -> PixelsToProba:
        """Return the one path from pixel rows to probabilities, on this network.

        The int8 graph (``int8=True``; call :meth:`int8_network` first) or
        the folded float copy, in channels-last memory, as it lives.
        """
        if int8:
            if self.int8 is None:
                raise LookupError("no int8 network: call int8_network first")
            network = self.int8.graph()
        else:
            network = self._float()
        return PixelsToProba(
            network, self.record.image_shape, pixel_range, tta, channels_last=not int8
        )

    def predict_proba(
        self,
        rows: torch.Tensor,
        *,
        pixel_range,
        tta: bool,
        int8: bool,
        amp_dtype: torch.dtype | None,
        batch_size: int,
    ) -> np.ndarray:
        """Return the probabilities of pixel rows, batch by batch (float32 numpy)."""
        module = self.proba_module(pixel_range, tta, int8=int8)
        device = "cpu" if int8 else str(self.net.device)
        return forward_batches(
            module, rows, batch_size=batch_size, device=device, amp_dtype=amp_dtype
        )

    def cpu_module(self, pixel_range, tta: bool) -> PixelsToProba:
        """Return a float32 CPU copy of :meth:`proba_module`, for export."""
        network = copy.deepcopy(self._float()).to("cpu", torch.float32)
        network = network.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        return PixelsToProba(network, self.record.image_shape, pixel_range, tta).eval()

    def _float(self) -> torch.nn.Module:
        if self.float_network is None:
            raise LookupError("no float copy yet: refresh() after training")
        return self.float_network

    # ------------------------------------------------------------ plain data
    def to_data(self) -> dict[str, Any]:
        """Return the network as plain containers and CPU tensors.

        ``fitted`` (the :class:`FitRecord`), ``net`` (weights, optimizer
        state, schedule position), ``history`` and ``int8`` (its state, or
        None): what model files, pickles and device moves carry.
        """
        return {
            "fitted": self.record,
            "net": net_state(self.net),
            "history": list(self.net.history),
            "int8": None if self.int8 is None else self.int8.state,
        }

    @classmethod
    def from_data(
        cls,
        data: dict[str, Any],
        params: dict[str, Any],
        *,
        device: str,
        check: Callable[[torch.nn.Module], None] | None = None,
    ) -> FittedNetwork:
        """Rebuild from :meth:`to_data` output (``params``: as in :meth:`build`).

        ``check`` is called with the built (untrained) network before the
        weights are loaded, to compare them with it.
        """
        fitted = data["fitted"]
        record = fitted if isinstance(fitted, FitRecord) else FitRecord(**fitted)
        new = cls.build(params, record, device=device)
        if check is not None:
            check(new.net.module_)
        restore_net_state(new.net, data["net"], data["history"])
        new.refresh()
        if data["int8"] is not None:
            new.int8 = Int8Network(new.net.module_, data["int8"], record.image_shape)
        return new

    def moved(self, params: dict[str, Any], device: str) -> FittedNetwork:
        """Return a copy on ``device`` (calibration images not yet used are dropped)."""
        return FittedNetwork.from_data(self.to_data(), params, device=device)
