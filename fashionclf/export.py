"""A fitted model out of the library: ONNX and ``torch.export`` programs.

:meth:`FashionCNNClassifier.export <fashionclf.FashionCNNClassifier.export>`
writes one of them; :meth:`~fashionclf.FashionCNNClassifier.inference_module`
returns the PyTorch module they are made from, :class:`PixelsToProba`:
raw pixel rows in, class probabilities out, with everything the estimator
does in between inside (reshaping, scaling by ``pixel_range``,
standardization, the network with batch norm folded, softmax, and the
mirror average of ``tta=True``). So the exported model takes the same
0-255 rows as ``predict_proba``, as float32 or (``input_dtype='uint8'``)
as the uint8 rows the loaders return, and needs no fashionclf to run. ONNX
files say their input's dtype, ``pixel_range`` and ``image_shape`` in their
metadata, as numbers.

What stays outside: the estimator's input *checks* (shape, dtype, range),
the library's int8 kernels (``quantize=True`` models export their float
network), and class labels, which ONNX files carry as metadata
(``classes``, ``class_names``) and programs do not (index ``classes_``).

An ONNX file can be int8 instead (``int8_calibration=``): ONNX Runtime's
static quantization (QOperator: int8 per-channel weights, uint8
activations, ranges from calibration rows). Before quantizing, every
``MaxPool -> Relu`` pair is written as ``Relu -> MaxPool`` (the same
function: ReLU is monotone), because ONNX Runtime's quantizer folds a ReLU
into the output range of the node before it, which for a max-pool is the
convolution's range: the compact networks' Conv -> MaxPool -> ReLU order
then loses its ReLUs (46% accuracy on the shipped model) and the swapped
order lets every ReLU fuse into its convolution.

The ONNX route needs the optional extra: ``pip install "fashionclf[onnx]"``
(onnx, onnxscript; onnxruntime to run the file, and to quantize it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import math
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # onnx is an optional extra
    import onnx

from ._utils.atomic import atomic_write
from ._utils.messages import expected_got

__all__ = [
    "EXPORT_FORMATS",
    "PixelsToProba",
    "quantize_onnx",
    "relu_before_max_pool",
    "write",
]

#: ``format`` -> the file suffix it is inferred from.
EXPORT_FORMATS = {"onnx": ".onnx", "program": ".pt2"}

#: The operators an int8 ONNX export quantizes. Softmax (and the mirror
#: average of ``tta=True``) stay float32: a uint8 softmax would round the
#: probabilities to steps of 1/255, so they no longer sum to one.
INT8_OPS = ("Conv", "Gemm", "MatMul", "MaxPool", "Relu", "ReduceMax")

#: dtypes an exported file's input may have.
INPUT_DTYPES = ("float32", "uint8")

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
    channels_last : bool, default=False
        Hand the network its images in channels-last memory order (faster
        convolutions on the CPU; the estimator's own predictions). The
        values are the same either way.

    Notes
    -----
    This module is the estimator's only path from pixels to probabilities:
    ``predict_proba`` runs it batch by batch (with the int8 graph as
    ``network`` when ``quantize=True``), ``inference_module()`` and
    ``export()`` return and write it, and the benchmark's learning curve
    scores with it.
    """

    def __init__(
        self,
        network: nn.Module,
        image_shape: Sequence[int],
        pixel_range: tuple[float, float] | None,
        tta: bool,
        *,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.network = network
        self.image_shape = tuple(int(s) for s in image_shape)
        lo, hi = (0.0, 1.0) if pixel_range is None else map(float, pixel_range)
        # on the network's device: wrapping a network never moves or copies it
        tensors = [*network.parameters(), *network.buffers()]
        device = tensors[0].device if tensors else torch.device("cpu")
        self.low: torch.Tensor
        self.span: torch.Tensor
        self.register_buffer("low", torch.tensor(lo, device=device))
        self.register_buffer("span", torch.tensor(hi - lo, device=device))
        self.tta = bool(tta)
        self.channels_last = bool(channels_last)

    def images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return rows ``(N, C*H*W)`` as images ``(N, C, H, W)`` scaled to [0, 1]."""
        x = pixels.to(self.low.dtype)
        return ((x - self.low) / self.span).reshape(-1, *self.image_shape)

    def _proba(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.softmax(self.network(x).float(), dim=1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Return probabilities ``(N, n_classes)`` for rows ``(N, C*H*W)``.

        Float rows, or uint8 rows (cast to float32 first: in an exported
        file, a ``Cast`` at the start of the graph).
        """
        x = self.images(pixels)
        proba = self._proba(x)
        if self.tta:
            proba = 0.5 * (proba + self._proba(x.flip(-1)))
        return proba


def write(
    module: PixelsToProba,
    path: str | os.PathLike[str],
    *,
    format: str | None,
    classes: Sequence,
    class_names: Sequence[str] | None = None,
    int8_calibration: np.ndarray | None = None,
    input_dtype: str = "float32",
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
    int8_calibration : ndarray of shape (n, C*H*W) or None
        ONNX only: quantize the file to int8 with ONNX Runtime, activation
        ranges from these rows (float32, in ``module``'s input scale).
    input_dtype : {'float32', 'uint8'}, default='float32'
        The dtype of the file's input ``pixels``: float rows, or the uint8
        rows the loaders and ``read_images`` return (cast to float32 inside
        the file). One file takes one dtype.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    format = _format(format, path)
    if int8_calibration is not None and format != "onnx":
        raise ValueError(
            expected_got(
                "export",
                f"int8_calibration with format={format!r}",
                "format='onnx' (int8 files are made by ONNX Runtime)",
            )
        )
    low, high = float(module.low), float(module.low + module.span)
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(
            expected_got(
                "export", f"input_dtype={input_dtype!r}", f"one of {INPUT_DTYPES}"
            )
        )
    if input_dtype == "uint8" and not (0 <= low and high <= 255):
        raise ValueError(
            expected_got(
                "export",
                f"input_dtype='uint8' for a model whose pixel_range is "
                f"({low:g}, {high:g})",
                "a pixel_range within (0, 255), which uint8 rows can hold",
                "Export with input_dtype='float32'.",
            )
        )
    module = module.eval()
    n_features = math.prod(module.image_shape)
    rows = low + (high - low) * torch.rand(2, n_features)
    if input_dtype == "uint8":
        rows = rows.round().to(torch.uint8)
    example = (rows,)
    batch = torch.export.Dim("batch", min=1)
    shapes = {"pixels": {0: batch}}
    if format == "program":
        with torch.no_grad(), _quiet_exporter():
            program = torch.export.export(module, example, dynamic_shapes=shapes)
            buffer = io.BytesIO()  # torch.export.save wants a .pt2 name or a buffer
            torch.export.save(program, buffer)
        atomic_write(path, lambda tmp: _write_bytes(tmp, buffer.getvalue()))
        return path
    _require_onnx(quantize=int8_calibration is not None)
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
    metadata["input"] = f"{input_dtype} pixel rows (N, {n_features})"
    metadata["input_dtype"] = input_dtype
    # the raw scale mapped to [0, 1]: [0, 255] for models fitted on 0-255 rows
    metadata["pixel_range"] = json.dumps([low, high])
    metadata["image_shape"] = json.dumps(list(module.image_shape))
    if int8_calibration is not None:
        proto = quantize_onnx(proto, int8_calibration.astype(input_dtype))
        metadata["quantization"] = (
            f"int8, ONNX Runtime static QOperator, calibrated on "
            f"{len(int8_calibration)} rows"
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


def _require_onnx(*, quantize: bool = False) -> None:
    needed = ("onnx", "onnxscript") + (("onnxruntime",) if quantize else ())
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        what = "an int8 ONNX export" if quantize else "export to ONNX"
        raise ImportError(
            f"{what} needs {' and '.join(missing)}, which are not installed: "
            'pip install "fashionclf[onnx]".'
        )


def quantize_onnx(
    proto: onnx.ModelProto, rows: np.ndarray, batch_size: int = 256
) -> onnx.ModelProto:
    """Return an int8 copy of the ONNX model ``proto``, calibrated on ``rows``.

    ONNX Runtime's ``quant_pre_process`` and ``quantize_static`` in the
    QOperator format (int8 per-channel weights, uint8 activations, min-max
    ranges) of the operators in ``INT8_OPS``, after
    :func:`relu_before_max_pool`; the softmax stays float32.

    Parameters
    ----------
    proto : onnx.ModelProto
        A float model with one input.
    rows : ndarray of shape (n, n_features)
        Calibration input, as the model takes it (uint8 rows stay uint8,
        anything else is cast to float32).
    batch_size : int, default=256
        Rows per calibration batch.

    Returns
    -------
    onnx.ModelProto
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if rows.dtype != np.uint8:  # uint8 rows for a file that takes them
        rows = np.ascontiguousarray(rows, dtype=np.float32)
    name = proto.graph.input[0].name

    class Rows(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(rows), batch_size))

        def get_next(self):
            start = next(self.batches, None)
            return None if start is None else {name: rows[start : start + batch_size]}

    with tempfile.TemporaryDirectory() as tmp:
        float_, pre, out = (Path(tmp) / f"{n}.onnx" for n in ("float", "pre", "int8"))
        # through a file: quant_pre_process on a ModelProto looks for its
        # weights as external data and fails
        onnx.save_model(relu_before_max_pool(proto), float_)
        # ONNX Runtime's own preparation: graph optimization, shape inference
        quant_pre_process(float_, pre, skip_symbolic_shape=True)
        quantize_static(
            pre,
            out,
            Rows(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(INT8_OPS),
        )
        return onnx.load(str(out))


def relu_before_max_pool(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``proto`` with each ``MaxPool -> Relu`` as ``Relu -> MaxPool``.

    The same function (``relu(max(x)) == max(relu(x))``), in the order ONNX
    Runtime's int8 quantizer handles: it fuses a ReLU into the preceding
    convolution, but drops one that follows a max-pool. Only pairs where the
    ReLU is the pool's sole consumer are swapped; shape annotations of the
    intermediate values are dropped (shape inference redoes them).
    """
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    graph = copy.graph
    uses = Counter(name for node in graph.node for name in node.input)
    outputs = {value.name for value in graph.output}
    nodes = list(graph.node)
    for i in range(len(nodes) - 1):
        pool, relu = nodes[i], nodes[i + 1]
        if (
            pool.op_type == "MaxPool"
            and relu.op_type == "Relu"
            and len(pool.output) == 1
            and relu.input[0] == pool.output[0]
            and uses[pool.output[0]] == 1
            and pool.output[0] not in outputs
        ):
            source, middle, result = pool.input[0], pool.output[0], relu.output[0]
            relu.input[0], relu.output[0] = source, middle
            pool.input[0], pool.output[0] = middle, result
            nodes[i], nodes[i + 1] = relu, pool
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    return copy


def _write_bytes(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _plain(label):
    return label.item() if hasattr(label, "item") else label
