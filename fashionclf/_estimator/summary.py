"""A table of a network's layers: output shapes, parameters, FLOPs per image.

What Keras' ``model.summary()`` and fastai's ``learn.summary()`` print,
as a pandas DataFrame (:meth:`FashionCNNClassifier.summary`).
"""

from __future__ import annotations

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from .locks import shared

__all__ = ["network_summary"]


def network_summary(
    module: torch.nn.Module, image_shape: tuple[int, ...], device: str
) -> pd.DataFrame:
    """One row per leaf layer in the order they run, and a ``total`` row.

    Columns: ``layer`` (its name in the module), ``type``, ``output_shape``
    (for one image), ``params`` (its own parameters), ``trainable``
    (parameters that train) and ``flops`` (per image, as
    :class:`torch.utils.flop_counter.FlopCounterMode` counts them: two per
    multiply-add of convolutions and matrix products; element-wise layers
    count 0).
    """
    rows: list[dict] = []
    handles = []
    for name, layer in module.named_modules():
        if next(layer.children(), None) is not None:
            continue

        def record(layer, inputs, output, name=name) -> None:
            params = list(layer.parameters(recurse=False))
            rows.append(
                {
                    "layer": name,
                    "type": type(layer).__name__,
                    "output_shape": tuple(output.shape[1:])
                    if isinstance(output, torch.Tensor)
                    else None,
                    "params": sum(p.numel() for p in params),
                    "trainable": sum(p.numel() for p in params if p.requires_grad),
                }
            )

        handles.append(layer.register_forward_hook(record))
    was_training = module.training
    root = type(module).__name__
    try:
        module.eval()
        with shared(), torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros(1, *image_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    flops = {
        key.removeprefix(root + "."): sum(ops.values())
        for key, ops in counter.get_flop_counts().items()
    }
    table = pd.DataFrame(rows)
    table["flops"] = [int(flops.get(name, 0)) for name in table["layer"]]
    total = {
        "layer": "total",
        "type": root,
        "output_shape": table["output_shape"].iloc[-1] if len(table) else None,
        "params": sum(p.numel() for p in module.parameters()),
        "trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
        "flops": int(flops.get("Global", 0)),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)
