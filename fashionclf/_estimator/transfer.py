"""Transfer learning: start a fit from another model's weights.

``FashionCNNClassifier(init_from=..., freeze=...)``: the fit builds its
network as usual, then copies every tensor of the source model into it
except, when the class sets differ, those of the *head*: the last layer
with parameters (the final ``nn.Linear`` of the built-in networks). With
``freeze='features'`` only the head trains; the feature layers keep their
weights and their batch-norm statistics (they stay in evaluation mode).

Why a parameter and not ``warm_start``: in scikit-learn, ``warm_start``
continues an estimator's *own* previous fit (here ``partial_fit`` does
that), and ``clone`` - which ``Pipeline``, ``GridSearchCV`` and
``cross_val_score`` apply - drops fitted state. A model file path, or a
fitted model wrapped in :class:`sklearn.frozen.FrozenEstimator` (which
``clone`` returns as it is), survives cloning, so a transfer fit can be
searched and cross-validated like any other.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from .._utils.messages import expected_got
from ..networks import SIZE_PARAMS

__all__ = [
    "FREEZE_OPTIONS",
    "Source",
    "freeze_features",
    "head_name",
    "in_head",
    "load_source",
    "transfer_weights",
]

#: Values of ``freeze`` besides None.
FREEZE_OPTIONS = ("features",)


class Source:
    """What a transfer fit takes from ``init_from``: weights, classes, input shape."""

    def __init__(
        self, state: dict[str, torch.Tensor], classes: np.ndarray, image_shape
    ) -> None:
        self.state = state
        self.classes = classes
        self.image_shape = tuple(image_shape)

    @property
    def mean_std(self) -> tuple[float, float]:
        """The source's standardization statistics (its inputs' scale)."""
        return float(self.state["mean"]), float(self.state["std"])


def load_source(init_from: Any, estimator_cls: Any, module, owner: str) -> Source:
    """Read ``init_from``: a fitted estimator, a ``FrozenEstimator`` of one, or a path.

    A path is read by ``estimator_cls.load``; the estimator's own ``module``
    (a user network, if any) is the one module the file may name.
    """
    if isinstance(init_from, FrozenEstimator):
        init_from = init_from.estimator
    if isinstance(init_from, str | os.PathLike):
        trusted = (
            () if module is None else (f"{module.__module__}:{module.__qualname__}",)
        )
        init_from = estimator_cls.load(init_from, trusted_modules=trusted)
    if not isinstance(init_from, estimator_cls):
        raise TypeError(
            expected_got(
                owner,
                f"init_from={init_from!r}",
                f"a fitted {estimator_cls.__name__}, a FrozenEstimator of one, or "
                "the path of a model file written by save()",
            )
        )
    if not hasattr(init_from, "net_"):
        raise ValueError(
            expected_got(
                owner,
                f"init_from={type(init_from).__name__}(...), which is not fitted",
                "a fitted model",
                "clone() (as Pipeline, GridSearchCV and cross_val_score apply) "
                "makes an unfitted copy of an estimator parameter: pass "
                "init_from=FrozenEstimator(model) (sklearn.frozen) or a model "
                "file path instead.",
            )
        )
    model: Any = init_from
    state = {
        k: v.detach().to("cpu", copy=True)
        for k, v in model.net_.module_.state_dict().items()
    }
    return Source(state, np.asarray(model.classes_), model.image_shape_)


def head_name(module: torch.nn.Module) -> str:
    """Name of the last module, in registration order, holding parameters itself."""
    last = None
    for name, sub in module.named_modules():
        if next(sub.parameters(recurse=False), None) is not None:
            last = name
    if last is None:
        raise ValueError(
            f"The network {type(module).__name__} has no parameters; a transfer "
            "fit needs a last layer to rebuild."
        )
    return last


def in_head(name: str, head: str) -> bool:
    """Whether the tensor or module called ``name`` belongs to the module ``head``."""
    return name == head or name.startswith(head + ".")


def transfer_weights(
    target: torch.nn.Module, source: Source, *, keep_head: bool, owner: str
) -> None:
    """Copy ``source``'s tensors into ``target``; the head only if ``keep_head``.

    Every other tensor must exist in both with the same shape, else
    ``ValueError`` names the first that differs.
    """
    head = head_name(target)
    own = target.state_dict()
    copied = {}
    for key in sorted(set(own) | set(source.state)):
        if not keep_head and in_head(key, head):
            continue
        mine, theirs = own.get(key), source.state.get(key)
        if mine is None or theirs is None or mine.shape != theirs.shape:
            raise ValueError(
                expected_got(
                    owner,
                    f"init_from whose tensor {key!r} is {_describe(theirs)}",
                    f"{_describe(mine)}, as in the network these parameters build",
                    "Give the same network parameters as init_from "
                    f"(architecture, {', '.join(SIZE_PARAMS)}, module, "
                    f"module_params); only the last layer ({head!r}) may differ.",
                )
            )
        copied[key] = theirs
    target.load_state_dict(copied, strict=False)


def _describe(tensor: torch.Tensor | None) -> str:
    return "absent" if tensor is None else f"of shape {tuple(tensor.shape)}"


def freeze_features(module: torch.nn.Module) -> list[torch.nn.Module]:
    """Stop gradients to every parameter outside the head.

    Returns the layers (leaf modules) outside the head, for the training loop
    to keep in evaluation mode: frozen batch norm keeps its statistics, and
    dropout there is off.
    """
    head = head_name(module)
    for name, param in module.named_parameters():
        param.requires_grad_(in_head(name, head))
    return [
        sub
        for name, sub in module.named_modules()
        if not in_head(name, head) and next(sub.children(), None) is None
    ]
