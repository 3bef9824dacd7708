"""How a FashionCNNClassifier's skorch net is built and rebuilt.

One path for every way a model comes to exist: :func:`build_net` makes the
net from the estimator's parameters plus its :class:`FitRecord`; ``fit``
and ``partial_fit`` call it on their first epoch, ``load`` and unpickling
call it and then :func:`~.codec.restore_net_state` with what
:func:`~.codec.net_state` exported. Files and pickles therefore hold only
plain containers and CPU tensors (no module objects, no CUDA storage).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import inspect
import math
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from .._utils.messages import expected_got
from ..networks import SIZE_PARAMS, Standardized, build_network
from .devices import resolve_precision
from .locks import exclusive, seeded_torch_rng, shared
from .schedule import schedule_callback
from .training import EpochSnapshot, EpochTasks, FiniteLoss, Net, TensorBatches
from .transfer import freeze_features

__all__ = [
    "BUILD_PARAMS",
    "BUILTIN_CALLBACKS",
    "OPTIMIZERS",
    "FitRecord",
    "build_module",
    "build_net",
    "split_validation",
    "trained_precision",
]

OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "adamw": (torch.optim.AdamW, {}),
    "adam": (torch.optim.Adam, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
}

#: precision -> the autocast dtype (None: plain float32)
AMP_DTYPES: dict[str, torch.dtype | None] = {
    "float32": None,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def trained_precision(net) -> str:
    """Return the precision ``net`` trains in: the name of its autocast dtype."""
    return next(k for k, v in AMP_DTYPES.items() if v == net.amp_dtype)


#: Names skorch and the estimator give their own callbacks.
BUILTIN_CALLBACKS = frozenset(
    {
        "epoch_timer",
        "train_loss",
        "valid_loss",
        "valid_acc",
        "print_log",
        "finite_loss",
        "snapshot",
        "lr_schedule",
        "early_stopping",
        "progress_bar",
        "checkpoint",
        "sklearn_tasks",
    }
)

#: Parameters that shape the network (the rest shape training).
NETWORK_PARAMS = ("architecture", *SIZE_PARAMS, "module", "module_params")

#: Parameters that build and train the net, fixed at the fit that builds it:
#: :attr:`FitRecord.params` keeps their values then, and a rebuilt net
#: (unpickling, a device move, loading) reads them there, never the
#: estimator's current ones. ``build_net`` reads these and the runtime
#: parameters ``verbose`` and ``callbacks``.
BUILD_PARAMS = (
    *NETWORK_PARAMS,
    "optimizer",
    "lr",
    "weight_decay",
    "lr_schedule",
    "batch_size",
    "max_epochs",
    "augment",
    "label_smoothing",
    "early_stopping",
    "n_iter_no_change",
    "precision",
    "freeze",
)


@dataclasses.dataclass
class FitRecord:
    """What training learned besides the weights, and rebuilding the net needs.

    Attributes
    ----------
    n_classes : int
    image_shape : tuple of int
        ``(C, H, W)`` of one image.
    schedule_steps : int
        Length of the learning-rate schedule in batches: ``max_epochs`` x
        the batches per epoch of the first fit (so ``partial_fit`` on a
        loaded model continues the schedule, not a new one).
    seed : int
        Seeds initialisation and every epoch's shuffling, augmentation and
        dropout.
    mean, std : float
        Standardization statistics of the training pixels.
    precision : {'float32', 'bfloat16', 'float16'}
        The precision the net was last trained in (``precision='auto'``
        resolved on the machine that trained it).
    params : dict
        The estimator's :data:`BUILD_PARAMS` at the fit that built the net:
        what rebuilding it reads, so ``set_params`` after ``fit`` changes
        only the next ``fit``.
    """

    n_classes: int
    image_shape: tuple[int, ...]
    schedule_steps: int
    seed: int
    mean: float = 0.0
    std: float = 1.0
    precision: str = "float32"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def build_params(self, runtime: dict[str, Any]) -> dict[str, Any]:
        """Return the parameters ``build_net`` reads: ``runtime`` with :attr:`params`.

        ``runtime``: the estimator's current parameters (``verbose``,
        ``callbacks``); the fit-time values of :data:`BUILD_PARAMS` win.
        """
        return {**runtime, **self.params}


def build_module(
    spec: dict[str, Any], record: FitRecord, *, meta: bool = False
) -> torch.nn.Module:
    """Build the standardized network of ``spec`` (the network parameters).

    A user's ``module`` (a ``torch.nn.Module`` subclass or a callable) is
    called with ``module_params``, plus ``input_shape`` and ``n_classes`` when
    its signature takes them. With ``meta=True`` nothing is allocated.
    """
    # shared: a network's constructor may run a forward pass (to size a layer)
    with shared(), torch.device("meta") if meta else contextlib.nullcontext():
        if spec["module"] is None:
            net = build_network(
                spec["architecture"],
                record.image_shape,  # type: ignore[arg-type]
                record.n_classes,
                **{k: spec[k] for k in SIZE_PARAMS},
            )
        else:
            net = _user_module(spec["module"], spec["module_params"] or {}, record)
        return Standardized(net, record.mean, record.std)


def _user_module(factory, kwargs: dict, record: FitRecord) -> torch.nn.Module:
    try:
        accepted = set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        accepted = set()
    extra = {
        "input_shape": tuple(record.image_shape),
        "n_classes": record.n_classes,
    }
    kwargs = {**{k: v for k, v in extra.items() if k in accepted}, **kwargs}
    net = factory(**kwargs)
    if not isinstance(net, torch.nn.Module):
        raise TypeError(
            expected_got(
                "FashionCNNClassifier",
                f"module={factory!r}, which returned {type(net).__name__}",
                "a torch.nn.Module subclass, or a callable returning a module",
            )
        )
    return net


def build_net(
    params: dict[str, Any],
    record: FitRecord,
    *,
    device: str,
    valid: Dataset | None = None,
    checkpoint: Callback | None = None,
) -> Net:
    """Return the initialised skorch net for ``params`` and ``record``.

    Initialisation runs with torch's global RNG seeded from ``record.seed``
    (and restored after) while no other thread runs a forward pass or seeds
    it (:mod:`fashionclf._estimator.locks`), so fits in parallel threads start from
    the same weights as serial ones. ``checkpoint``: the callback that
    writes a checkpoint after each epoch
    (:class:`fashionclf.serialization.checkpoints.EpochCheckpoint`).
    """
    spec = {k: params[k] for k in NETWORK_PARAMS}
    opt_cls, opt_kw = OPTIMIZERS[params["optimizer"]]
    net = Net(
        functools.partial(build_module, spec, record),
        criterion=torch.nn.CrossEntropyLoss,
        criterion__label_smoothing=params["label_smoothing"],
        optimizer=opt_cls,
        lr=params["lr"],
        optimizer__weight_decay=params["weight_decay"],
        **{f"optimizer__{k}": v for k, v in opt_kw.items()},
        max_epochs=params["max_epochs"],
        batch_size=params["batch_size"],
        iterator_train=TensorBatches,
        iterator_train__shuffle=True,
        iterator_train__flip=params["augment"],
        iterator_train__max_shift=2 if params["augment"] else 0,
        iterator_train__drop_single=True,
        iterator_valid=TensorBatches,
        train_split=None if valid is None else predefined_split(valid),
        callbacks=_callbacks(params, record, checkpoint),
        classes=list(range(record.n_classes)),
        device=device,
        verbose=params["verbose"],
        amp_dtype=AMP_DTYPES[
            resolve_precision(params["precision"], device, "FashionCNNClassifier")
        ],
        channels_last=True,
        seed=record.seed,
    )
    with exclusive(), seeded_torch_rng(record.seed, device):
        net.initialize()
    if params["freeze"] == "features":
        net.frozen_layers = freeze_features(net.module_)
    return net


def _callbacks(params, record: FitRecord, checkpoint) -> list[tuple[str, Callback]]:
    verbose = params["verbose"]
    callbacks: list = [
        ("finite_loss", FiniteLoss()),
        ("snapshot", EpochSnapshot()),
        ("sklearn_tasks", EpochTasks()),  # epochs for scikit-learn's callbacks
    ]
    schedule = schedule_callback(params["lr_schedule"], record.schedule_steps)
    if schedule is not None:
        callbacks.append(("lr_schedule", schedule))
    if params["early_stopping"]:
        stopper = EarlyStopping(
            patience=params["n_iter_no_change"],
            load_best=True,
            sink=print if verbose else _silent,
        )
        callbacks.append(("early_stopping", stopper))
    if verbose >= 2:
        # in a notebook without ipywidgets skorch's widget bar raises
        # ImportError: fall back to the text bar there
        widgets = importlib.util.find_spec("ipywidgets") is not None
        callbacks.append(("progress_bar", ProgressBar(detect_notebook=widgets)))
    callbacks += user_callbacks(params["callbacks"], {n for n, _ in callbacks})
    if checkpoint is not None:
        callbacks.append(("checkpoint", checkpoint))
    return callbacks


def _silent(*args, **kwargs) -> None:
    """Print nothing (a picklable sink for skorch callbacks)."""


def user_callbacks(items, taken: set[str]) -> list[tuple[str, Callback]]:
    """``callbacks`` as (name, callback) pairs; refuse built-in or repeated names."""
    taken = taken | BUILTIN_CALLBACKS
    pairs = []
    for item in items or []:
        name, cb = item if isinstance(item, tuple) else (type(item).__name__, item)
        if not isinstance(cb, Callback) or not isinstance(name, str):
            raise TypeError(
                expected_got(
                    "FashionCNNClassifier",
                    f"callbacks entry {item!r}",
                    "a skorch Callback or a (name, Callback) pair",
                )
            )
        if name in taken:
            raise ValueError(
                expected_got(
                    "FashionCNNClassifier",
                    f"a callback named {name!r}",
                    f"a name not used by the built-in callbacks {sorted(taken)}",
                    "Give it another name: callbacks=[('my_name', callback)].",
                )
            )
        taken.add(name)
        pairs.append((name, cb))
    return pairs


def split_validation(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, fraction: float, seed
):
    """Hold out ``fraction`` of the rows, stratified where every class fits."""
    if fraction <= 0:
        return X, y, w, None
    counts = np.bincount(y.numpy())
    n_classes, n_val = np.count_nonzero(counts), math.ceil(fraction * len(y))
    # stratify only where each split can hold every class (else sklearn's
    # "test_size should be greater or equal to the number of classes")
    fits = counts[counts > 0].min() >= 2 and n_classes <= min(n_val, len(y) - n_val)
    tr, va = train_test_split(
        np.arange(len(y)),
        test_size=fraction,
        random_state=seed,
        stratify=y.numpy() if fits else None,
    )
    return X[tr], y[tr], None if w is None else w[tr], Dataset(X[va], y[va])
