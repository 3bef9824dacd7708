"""Post-training static int8 quantization of a trained network, for CPU inference.

Built on PyTorch's FX graph-mode quantization (``torch.ao.quantization``):
Conv-BN-ReLU triples are fused, activations are calibrated on training
images, and the graph runs int8 kernels (x86: oneDNN/FBGEMM with VNNI; ARM:
QNNPACK). :class:`Int8Network` is what a fitted classifier keeps: the
quantized ``state_dict`` (plain tensors), from which it rebuilds the graph,
which does not pickle, on first use.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from .codec import state_from_bytes, state_to_bytes
from .locks import exclusive, shared

__all__ = [
    "Int8Network",
    "calibrate_int8",
    "calibration_sample",
    "quantized_engine",
    "quantized_graph",
]


def _engine() -> str:
    supported = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "qnnpack"):
        if name in supported:
            return name
    raise RuntimeError(
        f"quantize=True needs an int8 CPU engine; this torch has {supported}."
    )


@contextlib.contextmanager
def quantized_engine() -> Iterator[str]:
    """Select the int8 engine for this CPU, restore the previous one after.

    The engine and the warning filters are process-wide, so this is an
    exclusive section (:mod:`.locks`): only building an int8 graph (which
    packs the weights for the engine) runs inside it. Running a built graph
    needs neither, so predictions change no process-wide state.
    """
    with exclusive():
        previous = torch.backends.quantized.engine
        engine = _engine()
        torch.backends.quantized.engine = engine
        try:
            with warnings.catch_warnings():  # deprecation and observer notices
                warnings.simplefilter("ignore", UserWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                yield engine
        finally:
            torch.backends.quantized.engine = previous


def _prepare(module: nn.Module, example: torch.Tensor, engine: str) -> nn.Module:
    try:
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import prepare_fx
    except ImportError as exc:  # pragma: no cover - depends on the torch build
        raise RuntimeError(
            f"quantize=True needs torch.ao.quantization, which torch "
            f"{torch.__version__} does not have ({exc})."
        ) from exc
    model = copy.deepcopy(module).cpu().float().eval()
    with exclusive():  # tracing patches nn.Module.__call__ in every thread
        return prepare_fx(model, get_default_qconfig_mapping(engine), (example[:1],))


def _convert(prepared: nn.Module) -> nn.Module:
    from torch.ao.quantization.quantize_fx import convert_fx

    return convert_fx(prepared)  # type: ignore[arg-type]


def calibrate_int8(
    module: nn.Module, images: torch.Tensor, batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Quantize ``module`` with activation ranges observed on ``images``.

    Parameters
    ----------
    module : nn.Module
        The trained float network (left unchanged).
    images : Tensor of shape (n, C, H, W)
        Calibration images, preprocessed as in training.
    batch_size : int, default=256

    Returns
    -------
    dict
        The int8 network's ``state_dict``: weights, scales and zero points.
    """
    with quantized_engine() as engine, torch.no_grad():
        prepared = _prepare(module, images, engine)
        for start in range(0, len(images), batch_size):
            with shared():
                prepared(images[start : start + batch_size].cpu().float())
        return _convert(prepared).state_dict()


def quantized_graph(
    module: nn.Module, state: dict[str, torch.Tensor], example: torch.Tensor
) -> nn.Module:
    """Rebuild the int8 graph of ``module`` and load a :func:`calibrate_int8` state.

    Raises ``RuntimeError`` (from ``load_state_dict``) when ``state`` does not
    belong to this architecture.
    """
    with quantized_engine() as engine, torch.no_grad():
        prepared = _prepare(module, example, engine)
        with shared():  # observers need one pass to convert
            prepared(example[:1].cpu().float())
        graph = _convert(prepared)
    graph.load_state_dict(state, strict=True)
    return graph


def calibration_sample(images: torch.Tensor, n: int = 2048) -> torch.Tensor:
    """Return a copy of ``n`` evenly spaced ``images`` (not a view on them)."""
    step = max(1, len(images) // n)
    return images[::step][:n].clone()


class Int8Network:
    """An int8 copy of a trained float network, for CPU inference.

    Parameters
    ----------
    template : nn.Module
        The float network the int8 one was calibrated from; only its
        structure is used (to rebuild the graph).
    state : dict of str to Tensor
        :func:`calibrate_int8` output.
    image_shape : tuple of int
        ``(C, H, W)`` of one input image.
    """

    def __init__(
        self,
        template: nn.Module,
        state: dict[str, torch.Tensor],
        image_shape: tuple[int, ...],
    ) -> None:
        self.template = template
        self.state = state
        self.image_shape = tuple(image_shape)
        self._graph: nn.Module | None = None

    @classmethod
    def calibrate(
        cls, module: nn.Module, images: torch.Tensor, batch_size: int = 256
    ) -> Int8Network:
        """Quantize ``module`` with activation ranges observed on ``images``.

        Pass a :func:`calibration_sample` of the training images.
        """
        state = calibrate_int8(module, images, batch_size)
        return cls(module, state, tuple(images.shape[1:]))

    def graph(self) -> nn.Module:
        """Return the int8 graph, built on first use and kept.

        Raises ``RuntimeError`` when ``state`` does not fit ``template``.
        """
        if self._graph is None:
            example = torch.zeros(1, *self.image_shape)
            self._graph = quantized_graph(self.template, self.state, example)
        return self._graph

    def __getstate__(self) -> dict:
        state = {**self.__dict__, "state": state_to_bytes(self.state)}
        state["_graph"] = None  # an FX graph does not pickle; rebuilt on use
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, state=state_from_bytes(state["state"]))
