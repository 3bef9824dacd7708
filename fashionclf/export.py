"""A fitted model out of the library: ONNX and ``torch.export`` programs.

:meth:`FashionCNNClassifier.export <fashionclf.FashionCNNClassifier.export>`
writes one of them; :meth:`~fashionclf.FashionCNNClassifier.inference_module`
returns the PyTorch module they are made from, :class:`PixelsToProba`:
raw pixel rows in, class probabilities out, with everything the estimator
does in between inside (reshaping, scaling by ``pixel_range``,
standardization, the network with batch norm folded, softmax, and the
mirror average of ``tta=True``). So the exported model takes the same
0-255 rows as ``predict_proba`` and needs no fashionclf to run.

What stays outside: the estimator's input *checks* (shape, dtype, range),
int8 kernels (``quantize=True`` models export their float network), and
class labels, which ONNX files carry as metadata (``classes``,
``class_names``) and programs do not (index ``classes_``).

The ONNX route needs the optional extra: ``pip install "fashionclf[onnx]"``
(onnx, onnxscript; onnxruntime to run the file).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from ._utils.atomic import atomic_write
from ._utils.messages import expected_got

__all__ = ["EXPORT_FORMATS", "PixelsToProba", "write"]

#: ``format`` -> the file suffix it is inferred from.
EXPORT_FORMATS = {"onnx": ".onnx", "program": ".pt2"}

#: Names of the exported model's input and output.
INPUT_NAME, OUTPUT_NAME = "pixels", "probabilities"


class PixelsToProba(nn.Module):
    """Pixel rows ``(N, C*H*W)`` in the estimator's input scale -> probabilities.

    Parameters
    ----------
    network : torch.nn.Module
        The trained network with its standardization (logits out).
    image_shape : sequence of int
        ``(C, H, W)`` of one image.
    pixel_range : tuple of (float, float) or None
        Raw scale of the input, mapped linearly to ``[0, 1]``; None: the input
        is already scaled.
    tta : bool
        Average the probabilities of each image and its mirror.
    """

    def __init__(
        self,
        network: nn.Module,
        image_shape: Sequence[int],
        pixel_range: tuple[float, float] | None,
        tta: bool,
    ) -> None:
        super().__init__()
        self.network = network
        self.image_shape = tuple(int(s) for s in image_shape)
        lo, hi = (0.0, 1.0) if pixel_range is None else map(float, pixel_range)
        self.low: torch.Tensor
        self.span: torch.Tensor
        self.register_buffer("low", torch.tensor(lo))
        self.register_buffer("span", torch.tensor(hi - lo))
        self.tta = bool(tta)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return probabilities ``(N, n_classes)`` for float rows ``(N, C*H*W)``."""
        x = ((pixels - self.low) / self.span).reshape(-1, *self.image_shape)
        proba = torch.softmax(self.network(x), dim=1)
        if self.tta:
            proba = 0.5 * (proba + torch.softmax(self.network(x.flip(-1)), dim=1))
        return proba


def write(
    module: PixelsToProba,
    path: str | os.PathLike[str],
    *,
    format: str | None,
    classes: Sequence,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write ``module`` as an ONNX file or a ``torch.export`` program.

    Parameters
    ----------
    module : PixelsToProba
    path : path-like
        The file to write (atomically).
    format : {'onnx', 'program'} or None
        None: from the suffix (``.onnx``, ``.pt2``).
    classes : sequence
        The labels of the output columns (ONNX metadata ``classes``, JSON).
    class_names : sequence of str or None
        Readable names of the classes (ONNX metadata ``class_names``).

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    format = _format(format, path)
    module = module.eval()
    n_features = math.prod(module.image_shape)
    example = (module.low + module.span * torch.rand(2, n_features),)
    batch = torch.export.Dim("batch", min=1)
    shapes = {"pixels": {0: batch}}
    if format == "program":
        with torch.no_grad(), _quiet_exporter():
            program = torch.export.export(module, example, dynamic_shapes=shapes)
            buffer = io.BytesIO()  # torch.export.save wants a .pt2 name or a buffer
            torch.export.save(program, buffer)
        atomic_write(path, lambda tmp: _write_bytes(tmp, buffer.getvalue()))
        return path
    _require_onnx()
    import onnx

    with torch.no_grad(), _quiet_exporter():
        onnx_program = torch.onnx.export(
            module,
            example,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=shapes,
            dynamo=True,
            verbose=False,
        )
    assert onnx_program is not None  # dynamo=True returns the program
    proto = onnx_program.model_proto
    metadata = {"classes": json.dumps([_plain(c) for c in classes])}
    if class_names is not None:
        metadata["class_names"] = json.dumps(list(class_names))
    metadata["input"] = (
        f"float32 rows (N, {n_features}) in the scale the model was fitted on"
    )
    onnx.helper.set_model_props(proto, metadata)
    atomic_write(path, lambda tmp: onnx.save_model(proto, tmp))
    return path


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what torch's exporters say about themselves, not about the model.

    torch 2.13's ONNX exporter logs a warning for each torchvision operator
    it cannot register when torchvision is absent (fashionclf does not use
    it), and its pytree code raises a FutureWarning about its own use of
    ``LeafSpec``; both are scoped out here, nothing else is.
    """
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r".*LeafSpec.* is deprecated", category=FutureWarning
            )
            yield
    finally:
        logger.setLevel(level)


def _format(format: str | None, path: Path) -> str:
    if format is None:
        by_suffix = {suffix: name for name, suffix in EXPORT_FORMATS.items()}
        if path.suffix.lower() not in by_suffix:
            raise ValueError(
                expected_got(
                    "export",
                    f"path {str(path)!r} with no format",
                    f"a suffix of {sorted(by_suffix)} or format= one of "
                    f"{sorted(EXPORT_FORMATS)}",
                )
            )
        return by_suffix[path.suffix.lower()]
    if format not in EXPORT_FORMATS:
        raise ValueError(
            expected_got(
                "export", f"format={format!r}", f"one of {sorted(EXPORT_FORMATS)}"
            )
        )
    return format


def _require_onnx() -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"export to ONNX needs {' and '.join(missing)}, which are not installed: "
            'pip install "fashionclf[onnx]".'
        )


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _plain(label):
    return label.item() if hasattr(label, "item") else label
