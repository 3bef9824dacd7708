"""FashionCNNClassifier: a skorch/PyTorch CNN as a scikit-learn classifier.

Design: composition, not subclassing. The estimator is a plain scikit-learn
``BaseEstimator`` whose ``fit`` builds a skorch ``NeuralNetClassifier``
(kept as ``net_``). This keeps the parameter list short, typed, explicit and
clone-safe, and hides skorch's ``**kwargs`` routing, while skorch still runs
the training loop, callbacks (early stopping, progress bar, epoch table) and
device handling. Everything torch-related is created in ``fit``, never in
``__init__`` or at import time. The net is built in one place
(:mod:`fashionclf._estimator.construction`), whether a model is fitted, loaded from a
file or unpickled.

The life cycle reads top to bottom in this one class: ``fit`` checks the
parameters, prepares the data, builds the net, trains it and finishes
(inference copies); prediction, then saving, loading and pickling follow.
The work it delegates lives in :mod:`fashionclf._estimator`, as objects
and functions.

Input contract
--------------
``X`` is flat rows of ``prod(image_shape)`` pixels (numpy or pandas, as the
Kaggle CSV gives them), or images ``(n, H, W)`` / ``(n, C, H, W)``; uint8 or
any real dtype. Scaling rule: with ``pixel_range=(lo, hi)`` (default
``(0, 255)``) every value must lie in ``[lo, hi]`` and is mapped linearly to
``[0, 1]``; ``pixel_range=None`` takes values as already scaled. Float
input whose maximum is at most 1 is refused for a ``(0, 255)`` model (it was
scaled already). Lists of images are stacked; a single 1-D row, a file name
or a DataFrame with a ``label`` column are refused with what to pass. With
``standardize=True`` the network then subtracts the training mean and divides
by the training standard deviation (stored in the model).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from importlib.resources import as_file, files
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d
from skorch.callbacks import LRScheduler
from skorch.helper import predefined_split

from . import serialization
from ._estimator.codec import first_non_finite, plain
from ._estimator.construction import (
    AMP_DTYPES,
    BUILD_PARAMS,
    NETWORK_PARAMS,
    OPTIMIZERS,
    FitRecord,
    build_module,
    split_validation,
    trained_precision,
)
from ._estimator.devices import (
    PRECISIONS,
    available_device,
    data_placement,
    resolve_device,
    resolve_precision,
)
from ._estimator.fitted import FittedNetwork
from ._estimator.locks import seeded_torch_rng, shared
from ._estimator.quantization import Int8Network, calibration_sample
from ._estimator.schedule import SCHEDULES, schedule_steps
from ._estimator.summary import network_summary
from ._estimator.training import WeightedTensors
from ._estimator.transfer import FREEZE_OPTIONS, load_source, transfer_weights
from ._utils.messages import expected_got, first_line
from ._utils.sklearn_callbacks import (
    CallbackSupportMixin,
    end_task,
    fit_task,
    has_progress_bar,
    with_callbacks,
)
from ._utils.threads import torch_threads
from ._utils.validation import (
    check_pixel_range,
    check_pixels,
    encode_labels,
    resolve_image_shape,
    training_weights,
)
from .datasets.loaders import fashion_class_names
from .exceptions import ModelFileError
from .export import PixelsToProba
from .export import write as write_exported
from .networks import ARCHITECTURES, settle_batch_norm
from .serialization.checkpoints import (
    EpochCheckpoint,
    checkpoint_file,
    fingerprint,
    resume_from_checkpoint,
)

__all__ = ["PREDICT_CHUNK", "FashionCNNClassifier", "load_model", "save_model"]

#: Rows converted and predicted at a time by ``predict_proba``.
PREDICT_CHUNK = 8192

#: Parameters read at predict time, so ``set_params`` on a fitted model takes
#: effect at once; they are validated there too.
PREDICT_PARAMS = (
    "pixel_range",
    "tta",
    "precision",
    "batch_size",
    "predict_batch_size",
    "num_threads",
    "quantize",
    "device",
)


class FashionCNNClassifier(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    """Convolutional neural network classifier for 28x28 grayscale images.

    Built on skorch and PyTorch; the defaults are tuned for Fashion-MNIST on
    a small CPU. Any PyTorch network can be trained instead (``module``).

    Parameters
    ----------
    architecture : {'compact', 'cnn', 'small'} or str, default='compact'
        The built-in network (when ``module`` is None), or the name of one
        added with :func:`~fashionclf.networks.register_network`. ``'compact'``: a
        full-resolution stem, then ``n_blocks`` blocks of
        Conv -> MaxPool -> BatchNorm -> ReLU (-> Conv -> BatchNorm -> ReLU),
        global max pooling and one linear layer; batch norm and the later
        convolutions run at a quarter of the pixels, so it learns more per
        second of training. ``'cnn'``: ``n_blocks`` blocks of
        ``convs_per_block`` x (Conv -> BatchNorm -> ReLU) -> MaxPool, then a
        dense layer of ``dense_units`` (the network of the ``'reference'``
        preset). ``'small'``: ``Conv(32, 3x3)`` -> ReLU -> MaxPool -> Dense 32 ->
        Dense.
    module : type or callable or None, default=None
        A user's network: a ``torch.nn.Module`` subclass, or a callable
        returning a module, called with ``module_params`` plus
        ``input_shape`` (C, H, W) and ``n_classes`` when its signature takes
        them. It must return logits of shape ``(n, n_classes)``. Data
        handling, standardization, augmentation, schedules, early stopping,
        persistence and tuning apply as to the built-in networks, whose size
        parameters (``architecture`` to ``dropout``) it ignores. Model files
        store its import path; :meth:`load` imports it only when listed in
        ``trusted_modules``.
    module_params : dict or None, default=None
        Keyword arguments for ``module`` (searchable in ``GridSearchCV`` as
        ``module_params``).
    n_blocks : int, default=3
        Conv blocks, each halving the resolution (``'compact'``, ``'cnn'``).
    width : int or tuple of int, default=32
        Channels of the first block, doubled in each further block; or
        ``n_blocks`` channel counts, e.g. ``(16, 64)``.
    convs_per_block : int or tuple of int, default=2
        Convolutions per block: one count for all blocks, or ``n_blocks``
        counts, e.g. ``(1, 2)``.
    dense_units : int, default=128
        Units of the hidden dense layer (``'cnn'`` only).
    dropout : float, default=0.0
        ``'cnn'``: dropout after each block and before the last layer;
        ``'compact'``: before the last layer.
    optimizer : {'adamw', 'adam', 'sgd'}, default='adamw'
        ``'sgd'`` uses Nesterov momentum 0.9.
    lr : float, default=3e-3
        Peak learning rate.
    weight_decay : float, default=1e-2
        Decoupled weight decay (AdamW) or L2 penalty (Adam, SGD).
    lr_schedule : {'onecycle', 'cosine', 'constant'}, default='onecycle'
        Per-batch schedule over ``max_epochs``. ``'constant'`` adds none,
        which is what a ``skorch.callbacks.LRScheduler`` of your own in
        ``callbacks`` needs (with another value it is refused: two schedules
        would fight over the rate).
    batch_size : int, default=256
        Images per training step (and per forward pass when predicting, unless
        ``predict_batch_size`` is set).
    max_epochs : int, default=10
        Passes over the training data in ``fit``; the learning-rate schedule
        spans them (and ``max_epochs`` calls of ``partial_fit``).
    augment : bool, default=True
        Random horizontal flips and shifts of up to 2 pixels while training.
    label_smoothing : float, default=0.0
        Share of each target's probability spread over all classes.
    validation_fraction : float, default=0.0
        Stratified fraction of the training data held out to report
        ``valid_loss``/``valid_acc`` per epoch in ``history_``.
    early_stopping : bool, default=False
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best weights; needs ``validation_fraction > 0``.
    n_iter_no_change : int, default=5
        Epochs without a lower ``valid_loss`` before early stopping.
    standardize : bool, default=True
        Standardize scaled pixels with the training mean and std.
    pixel_range : tuple of (float, float) or None, default=(0, 255)
        Raw scale of ``X``: every value must lie in ``[lo, hi]`` and is
        mapped linearly to ``[0, 1]``; ``None`` if ``X`` is already scaled.
        With ``(0, hi)`` and ``hi > 1``, float input whose maximum is at most 1
        is refused (it looks scaled already, and read as raw pixels it would
        be near-black images): pass ``X * hi`` or ``pixel_range=(0, 1)``.
    image_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)``; one entry may be -1 (inferred).
    tta : bool, default=False
        Test-time augmentation: average predictions over each image and its
        horizontal mirror. Only for models trained with ``augment=True``
        (which flips): a model that never saw mirrored images loses accuracy
        (measured for the ``'fast'`` preset: :doc:`/user_guide/benchmarks`).
    precision : {'auto', 'float32', 'bfloat16', 'float16'}, default='auto'
        ``'auto'``: bfloat16 autocast where the hardware multiplies bf16
        natively (CPUs with AMX or AVX512-BF16; GPUs that support it, else
        float16 on GPUs), float32 elsewhere. There it trains in about half
        the time and predicts 2-3x faster at the same accuracy (three
        seeds each, figures: :doc:`/user_guide/benchmarks`); the precision a
        fit used is ``precision_``. ``'float32'``: plain float32 everywhere
        (predictions that do not depend on the machine). ``'bfloat16'``:
        bf16 autocast even without native bf16 (there about 2x slower).
        ``'float16'``: float16 autocast with a gradient scaler (CUDA only).
    predict_batch_size : int or None, default=None
        Images per forward pass when predicting (``None``: ``batch_size``).
        On a GPU, larger batches (e.g. 4096) keep it busy.
    quantize : bool, default=False
        After training, quantize the network to int8 for CPU inference
        (post-training static quantization, calibrated once on up to 2,048
        training images; after ``partial_fit``, at the first prediction;
        a model fitted without it gives an int8 copy by :meth:`quantize_int8`).
        ``predict`` and ``predict_proba`` then run int8 kernels: faster on
        CPUs with int8 dot-product instructions (AVX512-VNNI, AMX), slower
        than float32 on AVX2-only CPUs; see :doc:`/user_guide/benchmarks`.
        Training is unchanged. CPU only.
    device : str, default='auto'
        ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'``,
        ``'cuda:N'``. With several GPUs visible, ``'auto'`` takes the one with
        the most free memory when the fit starts (equal ones in turn), so
        the fits of a parallel search spread over the GPUs; ``'cuda:N'`` pins.
    checkpoint_path : str, path or None, default=None
        Write a checkpoint after every epoch to this file. A later ``fit``
        with the same parameters and data resumes from it and, on the CPU,
        ends with the same weights as an uninterrupted fit. An existing
        folder instead holds one file per fit, named after the fit's
        parameters and data (``fit-<hash>.ckpt``): what parallel searches
        need, where every fold and candidate is its own fit. Checkpoint files
        there untouched for ``CHECKPOINT_MAX_AGE_S`` (7 days) are deleted
        when a fit starts.
    num_threads : int or None, default=None
        torch CPU threads during fit/predict (restored afterwards); None
        leaves torch's setting alone.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, shuffling, augmentation and dropout without
        touching the caller's global RNG state. Same seed -> identical
        predictions on the CPU with the same number of torch threads, also
        for fits running at once in parallel threads (each fit draws from
        its own generators; a user ``module`` with ``torch.nn.Dropout`` draws
        from torch's global RNG instead: use ``fashionclf.networks.Dropout``).
    verbose : int, default=0
        0 silent; 1 per-epoch table; 2 also a progress bar.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, as in scikit-learn classifiers:
        a dict ``{label: weight}``, or ``'balanced'`` for weights inversely
        proportional to class frequencies. Multiplies ``sample_weight``.
    init_from : FashionCNNClassifier, FrozenEstimator, str, path or None, default=None
        Start the fit from this fitted model's weights (or a model file's)
        instead of a random initialisation: transfer learning. Every tensor
        is copied except the last layer's (the head: the last module holding
        parameters) when the classes differ, which starts afresh for the new
        classes; standardization keeps the source's statistics. The network
        parameters (``architecture`` ... ``module_params``) and
        ``image_shape`` must build the source's network. ``clone`` (as
        ``Pipeline`` and ``GridSearchCV`` apply) leaves a model parameter
        unfitted, so in searches pass ``FrozenEstimator(model)``
        (``sklearn.frozen``) or a path; a file naming a user network is read
        trusting only this estimator's ``module``. Not stored in model files.
    freeze : {'features'} or None, default=None
        ``'features'``: only the head trains; the other layers keep their
        weights and batch-norm statistics (they stay in evaluation mode).
        Needs ``init_from``; applies to later ``partial_fit`` calls and to
        loaded models too.
    callbacks : list of (str, skorch.callbacks.Callback) or None, default=None
        Extra skorch callbacks run during training beside the built-in ones
        (e.g. ``[("tb", skorch.callbacks.TensorBoard(writer))]``); a bare
        callback is named after its class. A name used by a built-in
        callback is refused. Not stored in model files written by
        :meth:`save`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; columns of ``predict_proba``.
    n_features_in_ : int
        Pixels per image (784 for Fashion-MNIST).
    feature_names_in_ : ndarray of str
        Defined when ``X`` is a DataFrame with string column names.
    image_shape_ : tuple of int
        ``(C, H, W)`` of one image, with any -1 of ``image_shape`` resolved.
    device_ : str
        The device actually used.
    net_ : skorch.NeuralNetClassifier
        The trained skorch net (its ``module_`` is the PyTorch network).
    int8_network_ : Int8Network or None
        The int8 copy of the network (``quantize=True``), with its weights,
        scales and zero points in ``state``.
    history_ : skorch.History
        Per-epoch ``train_loss``, ``dur`` and, with a validation split,
        ``valid_loss`` and ``valid_acc``.
    precision_ : {'float32', 'bfloat16', 'float16'}
        The precision the network was last trained in: ``precision`` as
        resolved on the machine that trained it (stored in model files).
        Predictions follow ``precision``, resolved where they run.
    interrupted_ : bool
        Whether the last ``fit`` / ``partial_fit`` was stopped by Ctrl-C
        (``KeyboardInterrupt``, which skorch swallows): the model then holds
        the weights of the last completed epoch. ``False`` after ``load``.

    Notes
    -----
    Parameters that only change how predictions are computed are read at
    predict time, so ``set_params`` on a fitted model takes effect at once:
    ``tta``, ``precision``, ``batch_size``, ``num_threads``, and
    ``quantize=False`` (``quantize=True`` needs a model fitted with it, or
    the copy :meth:`quantize_int8` returns). They
    are validated there, when read. All others take effect at the next
    ``fit``, as in scikit-learn. No method but ``set_params`` changes a
    parameter: ``quantize_int8`` returns a copy, and a model unpickled where
    its ``device`` is missing keeps that parameter (``device_`` says where
    it runs) until ``set_params(device=...)`` moves it.

    With metadata routing enabled (``sklearn.set_config(
    enable_metadata_routing=True)``), ``clf.set_fit_request(sample_weight=
    True)`` lets ``Pipeline`` and ``GridSearchCV`` pass ``sample_weight`` on.

    Examples
    --------
    >>> from fashionclf import FashionCNNClassifier, load_sample
    >>> X, y = load_sample(return_X_y=True)
    >>> clf = FashionCNNClassifier(max_epochs=1, width=8, random_state=0)
    >>> clf.fit(X[:500], y[:500]).predict(X[:3]).shape
    (3,)
    """

    # fitted state, set by fit / load / unpickling (declared for type checkers);
    # the network and what derives from it live in one FittedNetwork
    classes_: np.ndarray
    image_shape_: tuple[int, ...]
    device_: str
    _fitted: FittedNetwork

    _parameter_constraints: dict = {
        # the live registry: a network registered later is accepted too
        "architecture": [StrOptions(ARCHITECTURES.keys())],
        "module": [callable, None],
        "module_params": [dict, None],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "convs_per_block": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions(set(SCHEDULES))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "augment": ["boolean"],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "standardize": ["boolean"],
        "pixel_range": [tuple, list, None],
        "image_shape": [tuple, list],
        "tta": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "predict_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "quantize": ["boolean"],
        "device": [str],
        "checkpoint_path": [str, os.PathLike, None],
        "num_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callbacks": [list, None],
        "init_from": [HasMethods(["predict_proba"]), str, os.PathLike, None],
        "freeze": [StrOptions(set(FREEZE_OPTIONS)), None],
    }

    def __init__(
        self,
        *,
        architecture: str = "compact",
        module: type[torch.nn.Module] | Any | None = None,
        module_params: dict[str, Any] | None = None,
        n_blocks: int = 3,
        width: int | tuple[int, ...] = 32,
        convs_per_block: int | tuple[int, ...] = 2,
        dense_units: int = 128,
        dropout: float = 0.0,
        optimizer: Literal["adamw", "adam", "sgd"] = "adamw",
        lr: float = 3e-3,
        weight_decay: float = 1e-2,
        lr_schedule: Literal["onecycle", "cosine", "constant"] = "onecycle",
        batch_size: int = 256,
        max_epochs: int = 10,
        augment: bool = True,
        label_smoothing: float = 0.0,
        validation_fraction: float = 0.0,
        early_stopping: bool = False,
        n_iter_no_change: int = 5,
        standardize: bool = True,
        pixel_range: tuple[float, float] | None = (0, 255),
        image_shape: Sequence[int] = (1, 28, 28),
        tta: bool = False,
        precision: Literal["auto", "float32", "bfloat16", "float16"] = "auto",
        predict_batch_size: int | None = None,
        quantize: bool = False,
        device: str = "auto",
        checkpoint_path: str | os.PathLike[str] | None = None,
        num_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        class_weight: dict | Literal["balanced"] | None = None,
        callbacks: list | None = None,
        init_from: Any = None,
        freeze: Literal["features"] | None = None,
    ) -> None:
        self.architecture = architecture
        self.module = module
        self.module_params = module_params
        self.n_blocks = n_blocks
        self.width = width
        self.convs_per_block = convs_per_block
        self.dense_units = dense_units
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.augment = augment
        self.label_smoothing = label_smoothing
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.standardize = standardize
        self.pixel_range = pixel_range
        self.image_shape = image_shape
        self.tta = tta
        self.precision = precision
        self.predict_batch_size = predict_batch_size
        self.quantize = quantize
        self.device = device
        self.checkpoint_path = checkpoint_path
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.init_from = init_from
        self.freeze = freeze

    # --------------------------------------------------------------- training
    @with_callbacks
    def fit(self, X, y, sample_weight=None) -> FashionCNNClassifier:
        """Train the network from scratch on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, 0-255 by default (see ``pixel_range``); a list of images
            is a batch.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss (times
            ``class_weight``); equal weights train exactly as none.

        Returns
        -------
        self : FashionCNNClassifier
            The fitted estimator.
        """
        for attr in ("_fitted", "classes_"):
            self.__dict__.pop(attr, None)
        return self._fit(X, y, None, None, sample_weight)

    @with_callbacks
    def partial_fit(
        self, X, y, classes=None, sample_weight=None
    ) -> FashionCNNClassifier:
        """Train for exactly one more epoch (initialising on the first call).

        The learning-rate schedule spans ``max_epochs`` calls; Optuna can
        report the validation score after each call and prune.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, as in ``fit``.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like, default=None
            All labels, needed on the first call if ``y`` lacks some.
        sample_weight : array-like of shape (n_samples,), default=None
            As in ``fit``.

        Returns
        -------
        self : FashionCNNClassifier
            The estimator, trained one epoch further.
        """
        return self._fit(X, y, classes, 1, sample_weight)

    def _fit(self, X, y, classes, epochs: int | None, sample_weight) -> Any:
        """Check, prepare, build (first call), train ``epochs`` (None: all), finish."""
        first, whole = "_fitted" not in vars(self), epochs is None
        if first:
            self._check_params()
        else:
            self._follow_device()
        Xt, yt, wt, seed = self._prepare(X, y, classes, sample_weight, first=first)
        # scikit-learn's callbacks (set_callbacks): the fit a task, each epoch one
        task = fit_task(
            self,
            X,
            y,
            n_subtasks=self.max_epochs if epochs is None else epochs,
            sample_weight=sample_weight,
        )
        with self._torch_env(seed + (0 if first else len(self.net_.history))):
            Xtr, ytr, wtr, valid = split_validation(
                Xt, yt, wt, self.validation_fraction, seed
            )
            if first:
                epochs = self._build(Xt, yt, wt, Xtr, valid, seed, epochs)
            else:
                self.net_.train_split = (
                    None if valid is None else predefined_split(valid)
                )
            self._train(Xtr, ytr, wtr, epochs, task=task, X=X, y=y)
            if not self.net_.frozen_layers:  # frozen features keep their statistics
                with shared():  # no int8 tracing in another thread meanwhile
                    settle_batch_norm(
                        self.net_.module_,
                        Xtr,
                        seed=seed,
                        batch_size=self.batch_size,
                        device=self.device_,
                    )
        self._check_weights()
        self._finish(Xtr if self.quantize else None, calibrate_now=whole)
        end_task(task, self, X, y)
        return self

    def _check_params(self) -> None:
        """Validate the parameters (declarative constraints, then the combinations).

        Resolves ``device`` into ``device_``.
        """
        self._validate_params()
        owner = type(self).__name__
        check_pixel_range(owner, self.pixel_range)
        if self.early_stopping and self.validation_fraction <= 0:
            raise ValueError(
                expected_got(
                    owner,
                    "early_stopping=True with validation_fraction=0",
                    "validation_fraction > 0 to monitor",
                    "Set e.g. validation_fraction=0.1.",
                )
            )
        schedulers = [
            cb
            for cb in (
                c[1] if isinstance(c, tuple) else c for c in self.callbacks or []
            )
            if isinstance(cb, LRScheduler)
        ]
        if schedulers and self.lr_schedule != "constant":
            raise ValueError(
                expected_got(
                    owner,
                    f"callbacks with {type(schedulers[0]).__name__}("
                    f"{getattr(schedulers[0], 'policy', '')!r}) and "
                    f"lr_schedule={self.lr_schedule!r}",
                    "one learning-rate schedule",
                    "Set lr_schedule='constant' (no built-in schedule) to let your "
                    "scheduler set the rate, or drop it from callbacks.",
                )
            )
        self.device_ = resolve_device(self.device, owner)
        # float16 needs CUDA: refused here, before any training
        resolve_precision(self.precision, self.device_, owner)
        # quantize=True on a GPU: trained there, calibrated and run in int8 on
        # the CPU (int8 kernels are CPU kernels)

    def _prepare(self, X, y, classes, sample_weight, *, first: bool):
        """Images, label codes, sample weights as tensors, and the fit's seed."""
        Xt = self._to_images(X, reset=first)
        if len(Xt) < 2:
            raise ValueError(
                expected_got(
                    type(self).__name__, f"{len(Xt)} sample", "at least 2 samples"
                )
            )
        known = classes if first else self.classes_
        fix = (
            None
            if first
            else "A fitted model learns no new classes: to train on other labels "
            "from its weights, fit FashionCNNClassifier(init_from=model)."
        )
        self.classes_, codes = encode_labels(
            y, len(Xt), known, type(self).__name__, fix
        )
        weight = training_weights(
            sample_weight, self.class_weight, codes, self.classes_
        )
        seed = (
            int(check_random_state(self.random_state).randint(2**31 - 1))
            if first
            else self._fitted.record.seed
        )
        wt = None if weight is None else torch.from_numpy(weight)
        return Xt, torch.from_numpy(codes), wt, seed

    def _build(self, Xt, yt, wt, Xtr, valid, seed: int, epochs: int | None):
        """Build ``net_`` for a first epoch; return the epochs left to train.

        With ``init_from``, the source's weights replace the initialisation.
        """
        source = self._transfer_source()
        mean, std = (
            (Xtr.mean().item(), Xtr.std().item()) if self.standardize else (0, 1)
        )
        if source is not None:
            mean, std = source.mean_std
        steps = schedule_steps(self.max_epochs, len(Xtr), self.batch_size)
        precision = resolve_precision(self.precision, self.device_, type(self).__name__)
        params, checkpoint = self.get_params(), None
        record = FitRecord(
            len(self.classes_),
            self.image_shape_,
            steps,
            seed,
            mean,
            std or 1.0,
            precision,
            params=copy.deepcopy({k: params[k] for k in BUILD_PARAMS}),
        )
        self._check_savable(params, record)
        if self.checkpoint_path is not None:
            key = fingerprint(params, Xt, yt, wt)
            checkpoint = EpochCheckpoint(
                checkpoint_file(self.checkpoint_path, key), key
            )
        shown = params
        if has_progress_bar(self):  # scikit-learn's bar shows the epochs: not twice
            shown = {**params, "verbose": min(params["verbose"], 1)}
        self._fitted = FittedNetwork.build(
            shown, record, device=self.device_, valid=valid, checkpoint=checkpoint
        )
        if self.module is not None:  # a user network: sized once built
            self._check_savable(params, record, self.net_.module_)
        if source is not None:
            same = np.array_equal(source.classes, self.classes_)
            transfer_weights(
                self.net_.module_, source, keep_head=same, owner=type(self).__name__
            )
        if checkpoint is not None and epochs is None:
            epochs = self.max_epochs - resume_from_checkpoint(
                self.net_, checkpoint.path, checkpoint.fingerprint
            )
        return epochs

    def _check_savable(
        self, params: dict, record: FitRecord, module: torch.nn.Module | None = None
    ):
        """Refuse, before training, a network that no model file could hold.

        The sizes of :data:`~fashionclf.serialization.FILE_BOUNDS`, then the
        bytes a file of it would take (built-in networks are sized on the
        ``meta`` device, so nothing is allocated).
        """
        owner = type(self).__name__
        bounds = serialization.FILE_BOUNDS
        beyond = serialization.size_beyond_bounds(params, self.image_shape_)
        if beyond is not None:
            key, value = beyond
            what = {"channels": "image channels", "side": "an image side"}.get(key, key)
            raise ValueError(
                expected_got(
                    owner,
                    f"{what} {value!r}",
                    f"at most {bounds[key]}, the largest a model file holds",
                )
            )
        if module is None:
            if self.module is not None:
                return
            spec = {k: params[k] for k in NETWORK_PARAMS}
            module = build_module(spec, record, meta=True)
        size = serialization.saved_bytes(module)
        if size > bounds["file_bytes"]:
            raise ValueError(
                expected_got(
                    owner,
                    f"a network whose model file would hold {size:,} bytes",
                    f"at most {bounds['file_bytes']:,} bytes",
                    "Use fewer blocks, a smaller width or fewer dense units.",
                )
            )

    def _transfer_source(self):
        """Read ``init_from`` (None: a fit from scratch) and check it fits."""
        owner = type(self).__name__
        if self.init_from is None:
            if self.freeze is not None:
                raise ValueError(
                    expected_got(
                        owner,
                        f"freeze={self.freeze!r} with init_from=None",
                        "init_from (a fitted model or a model file) whose "
                        "features to freeze",
                    )
                )
            return None
        source = load_source(self.init_from, FashionCNNClassifier, self.module, owner)
        if source.image_shape != self.image_shape_:
            raise ValueError(
                expected_got(
                    owner,
                    f"images of shape {self.image_shape_} with init_from fitted on "
                    f"{source.image_shape}",
                    "the image shape init_from was trained on",
                )
            )
        return source

    def _train(self, Xtr, ytr, wtr, epochs: int | None, *, task=None, X=None, y=None):
        """Run ``epochs`` epochs (``None``: ``max_epochs``) through skorch.

        ``task``: the fit's callback context (or None), each epoch reported
        under it with the fit's ``X`` and ``y`` as the caller passed them.
        """
        self.net_.max_epochs = self.max_epochs if epochs is None else epochs
        if data_placement(Xtr.nbytes, self.device_) == "device":  # once per fit
            Xtr, ytr = Xtr.to(self.device_), ytr.to(self.device_)
            wtr = None if wtr is None else wtr.to(self.device_)
        snapshot = dict(self.net_.callbacks_)["snapshot"]
        snapshot.interrupted_ = False
        if self.net_.max_epochs > 0:
            data = (Xtr, ytr) if wtr is None else (WeightedTensors(Xtr, ytr, wtr),)
            self._fitted.record.precision = trained_precision(self.net_)
            epochs_as_tasks = dict(self.net_.callbacks_)["sklearn_tasks"]
            epochs_as_tasks.open(
                task, self, X, y, fitted=lambda: {"_fitted": self._fitted.snapshot()}
            )
            try:
                self.net_.partial_fit(*data)
            finally:
                epochs_as_tasks.close()
        self.interrupted_ = bool(snapshot.interrupted_)
        self.net_.train_split = None  # do not keep validation data in the model

    def _check_weights(self) -> None:
        """Refuse weights that are not finite (the last update may have made them so).

        The loss check runs on the loss before each epoch's last step.
        """
        bad = first_non_finite(self.net_.module_.state_dict())
        if bad is not None:
            raise FloatingPointError(
                f"After epoch {len(self.net_.history)} the weights are not finite "
                f"(NaN or inf in {bad!r}); training diverged. Lower lr, check the "
                "input scaling (pixel_range) or use precision='float32'."
            )

    def _finish(self, calibration: torch.Tensor | None, *, calibrate_now: bool):
        """After the weights changed: inference copies, int8 (now or when used)."""
        self._fitted.refresh(calibration)  # 2,048 of the images, not all
        if calibration is not None and calibrate_now:
            self._int8()

    # ------------------------------------------------------- fitted attributes
    # The network and what derives from it live in one FittedNetwork; these
    # read it (an unfitted model has none, so hasattr is False).
    @property
    def net_(self):
        """The trained skorch net (see the class's Attributes)."""
        return self._fitted_network().net

    @property
    def history_(self):
        """The epoch history of ``net_`` (see the class's Attributes)."""
        return self._fitted_network().net.history

    @property
    def precision_(self) -> str:
        """The precision the network last trained in (see the class's Attributes)."""
        return self._fitted_network().record.precision

    @property
    def int8_network_(self) -> Int8Network | None:
        """The int8 copy of the network, or None (see the class's Attributes)."""
        return self._fitted_network().int8

    def _fitted_network(self) -> FittedNetwork:
        try:
            return vars(self)["_fitted"]
        except KeyError:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet."
            ) from None

    # ------------------------------------------------------------- prediction
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Rows are converted and predicted ``PREDICT_CHUNK`` at a time, so the
        memory used beyond ``X`` itself does not grow with the number of rows.
        Safe to call from several threads at once on one fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, scaled as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1.
        """
        check_is_fitted(self)
        self._check_predict_params()
        self._follow_device()
        try:
            n = _num_samples(X)
        except TypeError:  # not array-like: let the validation say so
            n = 0
        if n <= PREDICT_CHUNK:
            return self._proba_chunk(X)
        return np.concatenate(
            [
                self._proba_chunk(
                    _safe_indexing(X, np.arange(i, min(i + PREDICT_CHUNK, n)))
                )
                for i in range(0, n, PREDICT_CHUNK)
            ]
        )

    def _follow_device(self) -> None:
        """Move the fitted model when ``device`` names another device than ``device_``.

        ``set_params(device='cuda')`` on a model loaded on the CPU takes
        effect at the next prediction or ``partial_fit``; ``'auto'`` keeps
        the model where it is.
        """
        if self.device in ("auto", self._fitted.placed_for):
            return
        wanted = resolve_device(self.device, type(self).__name__)
        if wanted != self.device_:
            if self.quantize and self._fitted.pending_int8:
                self._int8()  # calibrated before the move, as a save would
            self._fitted = self._fitted.moved(self.get_params(), wanted)
            self.device_ = wanted
        self._fitted.placed_for = self.device

    def _check_predict_params(self) -> None:
        """Validate the parameters read at predict time (``set_params`` after fit)."""
        owner = type(self).__name__
        validate_parameter_constraints(
            {k: self._parameter_constraints[k] for k in PREDICT_PARAMS},
            {k: getattr(self, k) for k in PREDICT_PARAMS},
            caller_name=owner,
        )
        check_pixel_range(owner, self.pixel_range)

    def set_params(self, **params) -> FashionCNNClassifier:
        """Set the parameters of this estimator (as in scikit-learn).

        On a fitted model the parameters read at predict time
        (``pixel_range``, ``tta``, ``precision``, ``batch_size``,
        ``predict_batch_size``, ``num_threads``, ``quantize``, ``device``) are
        checked at once, and refused values leave the model as it was; all
        others change only what the next ``fit`` does: the fitted network
        keeps what it was fitted with through pickles, copies, model files
        and device moves.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : FashionCNNClassifier
            The estimator.
        """
        before = {k: getattr(self, k) for k in PREDICT_PARAMS if k in params}
        super().set_params(**params)
        if before and "_fitted" in vars(self):
            try:
                self._check_predict_params()
                if {"device", "precision"} & before.keys():  # a device that exists
                    owner = type(self).__name__
                    device = (
                        self.device_
                        if self.device == "auto"
                        else resolve_device(self.device, owner)
                    )
                    resolve_precision(self.precision, device, owner)
            except (ValueError, TypeError):
                super().set_params(**before)
                raise
        return self

    def _proba_chunk(self, X) -> np.ndarray:
        rows = self._rows(X)
        with self._torch_env():
            proba = self._forward(rows)
        proba = proba.astype(np.float64)
        if not np.isfinite(proba).all():
            raise FloatingPointError(
                f"{type(self).__name__} computed non-finite probabilities (NaN or "
                "inf) for some rows; the network's outputs are not finite for this "
                "input. Check the input scaling (pixel_range) or refit."
            )
        return proba / proba.sum(axis=1, keepdims=True)

    def _forward(self, rows: torch.Tensor) -> np.ndarray:
        """Probabilities of pixel rows: the int8 (CPU) or the folded float network.

        Both run inside a :class:`~fashionclf.export.PixelsToProba`, batch by
        batch, the module ``inference_module()`` and ``export()`` hand out.
        """
        amp_dtype = None
        if self.quantize:
            self._int8()
        else:
            precision = resolve_precision(
                self.precision, self.device_, type(self).__name__
            )
            amp_dtype = AMP_DTYPES[precision]
        return self._fitted.predict_proba(
            rows,
            pixel_range=self.pixel_range,
            tta=self.tta,
            int8=self.quantize,
            amp_dtype=amp_dtype,
            batch_size=self.predict_batch_size or self.batch_size,
        )

    def predict(self, X) -> np.ndarray:
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, scaled as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``, of the type given as ``y`` in ``fit``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, scaled as in ``fit``.
        y : array-like of shape (n_samples,)
            True labels; a label never seen in ``fit`` raises ValueError (it
            cannot be predicted, and usually means mismatched encodings).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the mean.

        Returns
        -------
        score : float
            (Weighted) fraction of correct predictions.
        """
        check_is_fitted(self)
        y_arr = column_or_1d(y)
        unknown = ~np.isin(y_arr, self.classes_)
        if unknown.any():
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"label {y_arr[unknown][:1].tolist()[0]!r} in y",
                    f"one of the classes seen in fit {self.classes_.tolist()}",
                )
            )
        return super().score(X, y, sample_weight=sample_weight)

    def summary(self) -> pd.DataFrame:
        """Describe the fitted network layer by layer: shapes, parameters, FLOPs.

        As Keras' and fastai's ``summary()``: one row per layer in the order
        they run (``layer``, ``type``, ``output_shape`` for one image,
        ``params``, ``trainable``, ``flops`` per image) and a ``total`` row.
        FLOPs count two per multiply-add of convolutions and matrix products
        (:class:`torch.utils.flop_counter.FlopCounterMode`); element-wise
        layers count 0. ``print(clf.summary().to_string(index=False))`` shows
        it.

        Returns
        -------
        table : pandas.DataFrame
        """
        check_is_fitted(self)
        with self._torch_env():
            return network_summary(self.net_.module_, self.image_shape_, self.device_)

    # ---------------------------------------------------------------- helpers
    def _rows(self, X, *, reset: bool = False, scale: bool = False) -> torch.Tensor:
        """Pixel rows checked as ``fit`` checks them: float32, flat, unscaled.

        ``scale=True`` maps them to [0, 1] (the training images); ``reset``
        records ``n_features_in_`` and ``image_shape_`` (``fit``).
        """
        rows = check_pixels(
            self,
            X,
            reset=reset,
            image_shape=self.image_shape,
            pixel_range=self.pixel_range,
            refuse_unit_floats=True,
            scale=scale,
        )
        if reset:
            self.image_shape_ = resolve_image_shape(
                self.image_shape, rows.shape[1], type(self).__name__
            )
        rows = np.ascontiguousarray(rows)
        if not rows.flags.writeable:  # e.g. a read-only pandas 3 view: torch warns
            rows = rows.copy()
        return torch.from_numpy(rows)

    def _to_images(self, X, *, reset: bool) -> torch.Tensor:
        """Training images: checked rows scaled to [0, 1], shaped ``image_shape_``."""
        rows = self._rows(X, reset=reset, scale=True)
        return rows.reshape(-1, *self.image_shape_)

    @contextlib.contextmanager
    def _torch_env(self, seed: int | None = None) -> Iterator[None]:
        """Set torch's threads, and (training) fork and seed its global RNG.

        The estimator's own random draws use per-fit generators; the seeded
        fork serves only code that draws from the global RNG (a user module's
        ``torch.nn.Dropout``) and keeps the caller's RNG state untouched.
        """
        seeded = (
            seeded_torch_rng(seed, self.device_)
            if seed is not None
            else contextlib.nullcontext()
        )
        with torch_threads(self.num_threads), seeded:
            yield

    def _int8(self) -> Int8Network:
        """Return the int8 network, calibrated on first use after training."""
        try:
            with self._torch_env():
                return self._fitted.int8_network(self.batch_size)
        except LookupError:
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    "quantize=True on a model fitted with quantize=False",
                    "a refit after set_params(quantize=True), or the int8 "
                    "copy quantize_int8(X) returns (X: calibration images)",
                )
            ) from None

    def quantize_int8(self, X) -> FashionCNNClassifier:
        """Return an int8 copy of the fitted model, calibrated on ``X``; no retraining.

        Post-training static quantization of a model fitted or loaded with
        ``quantize=False``, for example the shipped :meth:`pretrained` model:
        up to 2,048 evenly spaced rows of ``X`` set the activation ranges, as
        the training images do in a ``quantize=True`` fit. The copy has
        ``quantize=True``, so its ``predict`` and ``predict_proba`` run int8
        kernels on the CPU; its ``set_params(quantize=False)`` goes back to
        float32. This model is left as it is (a method never changes a
        parameter). The int8 network is saved and pickled with the copy.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Calibration images, pixels as in ``fit`` (training images, not
            the ones to be scored).

        Returns
        -------
        model : FashionCNNClassifier
            A new model, ``quantize=True``, with ``int8_network_`` calibrated
            on ``X``.
        """
        check_is_fitted(self)
        images = self._to_images(X, reset=False)
        model = copy.deepcopy(self)
        model.set_params(quantize=True)
        with model._torch_env():
            model._fitted.calibrate(images, model.batch_size)
        return model

    # ------------------------------------------------- saving, loading, pickles
    def save(
        self, path: str | os.PathLike[str], *, training_state: bool = False
    ) -> None:
        """Save weights and parameters in the weights-only format (no pickle).

        The file holds what prediction needs: the weights (with the
        standardization statistics and any int8 network), the parameters,
        the classes and the input description (the default network: about
        1.2 MB). Loading it never runs code.

        Parameters
        ----------
        path : str or path-like
            The file to write (atomically: a crash never leaves half a file).
        training_state : bool, default=False
            Also store the optimizer state, schedule position and seed, so
            ``partial_fit`` on the loaded model continues exactly as on this
            one (about three times the size). Without it, ``partial_fit`` on
            the loaded model starts a fresh optimizer.
        """
        check_is_fitted(self)
        # the file holds the model as fitted: the parameters that built and
        # trained its network are those of the fit, whatever set_params did
        # since; those read at predict time as they are now
        fitted = self._fitted.record.params
        params = {
            **self.get_params(),
            **{k: v for k, v in fitted.items() if k not in PREDICT_PARAMS},
        }
        serialization.write_model_file(
            path, params, self._to_data(), training_state=training_state
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        trusted_modules: Sequence[str] = (),
        device: str = "cpu",
    ) -> FashionCNNClassifier:
        """Load a model saved by :meth:`save`; never unpickles code.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.
        trusted_modules : sequence of str, default=()
            Import paths (``'package.module:Class'``, or a whole
            ``'package.module'``) of user networks (``module``) the file may
            name; a file naming any other is refused, nothing is imported.
        device : str, default='cpu'
            Where the model lives: ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or
            ``'auto'``; later, ``set_params(device=...)`` moves it.

        Returns
        -------
        model : FashionCNNClassifier
            Fitted, on ``device``; see
            :func:`fashionclf.serialization.read_model_file` for what is
            restored and checked.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ModelFileError
            The file is not a valid model file, or names an untrusted module.
        """
        resolve_device(device, cls.__name__)  # the caller's choice, not the file's
        params, exported = serialization.read_model_file(path, trusted_modules)
        params["device"] = device
        try:
            model = cls(**params)
            model._check_params()
            # the file's parameters built its network (older files may lack
            # some: the defaults they were saved with)
            exported["fitted"].params = {k: getattr(model, k) for k in BUILD_PARAMS}
            # a user network is built once, here, and checked against the file
            # (built-in ones were checked on the meta device, before any memory)
            model._from_data(exported, check=path if model.module is not None else None)
            if model.int8_network_ is not None:
                serialization.check_int8_graph(model.int8_network_, path)
        except ModelFileError:
            raise
        except Exception as exc:  # any other failure on crafted data is a bad file
            raise ModelFileError(
                f"{path}: malformed model file ({type(exc).__name__}: "
                f"{first_line(exc)})."
            ) from exc
        return model

    @classmethod
    def pretrained(cls, *, device: str = "cpu") -> FashionCNNClassifier:
        """Return the trained model that ships with fashionclf.

        The default network, ``FashionCNNClassifier(random_state=0,
        precision='float32')``, trained 10 epochs on all 60,000 Fashion-MNIST
        training images (Kaggle split) by the command recorded in its card
        (float32 was the default then; ``precision_`` is ``'float32'``); the
        card (data checksums, commit, machine, test accuracy) is
        ``fashionclf/data/pretrained.json``
        (its ``weights_sha256`` is checked before the file is read). Loaded
        through :meth:`load`, like any file.

        Parameters
        ----------
        device : str, default='cpu'
            Where the model lives, as in :meth:`load`.

        Returns
        -------
        model : FashionCNNClassifier
            Fitted; classes 0-9 (``fashionclf.CLASS_NAMES``).

        Raises
        ------
        ModelFileError
            The shipped file's sha256 differs from its card's: the weights
            were altered or damaged.
        """
        card = json.loads(
            files("fashionclf").joinpath("data/pretrained.json").read_text()
        )
        with as_file(
            files("fashionclf").joinpath("data/pretrained.safetensors")
        ) as path:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            if digest != card["weights_sha256"]:
                raise ModelFileError(
                    f"{path}: sha256 {digest}, but the model card "
                    f"(fashionclf/data/pretrained.json) says "
                    f"{card['weights_sha256']}: the shipped weights were altered "
                    "or damaged. Reinstall fashionclf."
                )
            return cls.load(path, device=device)

    def inference_module(self) -> PixelsToProba:
        """Return the model as one PyTorch module: pixel rows in, probabilities out.

        A :class:`fashionclf.export.PixelsToProba` on the CPU in float32, in
        evaluation mode: reshaping, scaling by ``pixel_range``,
        standardization, the network (batch norm folded), softmax and, with
        ``tta=True``, the mirror average, so it takes the rows
        ``predict_proba`` takes (as a float tensor ``(N, n_features_in_)``)
        and returns its probabilities up to float rounding (up to bf16
        rounding where ``predict_proba`` runs in bfloat16, as
        ``precision='auto'`` does on CPUs with native bf16). Its
        ``state_dict()`` holds every number the model uses.

        Returns
        -------
        module : fashionclf.export.PixelsToProba
        """
        check_is_fitted(self)
        return self._fitted.cpu_module(self.pixel_range, self.tta)

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        format: Literal["onnx", "program"] | None = None,
        int8_calibration=None,
        input_dtype: Literal["float32", "uint8"] = "float32",
    ) -> Path:
        """Write the model for use outside fashionclf: ONNX or a torch.export program.

        The file holds :meth:`inference_module`: it takes pixel rows
        ``(N, n_features_in_)`` in the fitted scale (0-255 by default) named
        ``pixels`` (float32, or uint8 with ``input_dtype='uint8'``) and
        returns ``probabilities`` ``(N, n_classes)``, columns in the order of
        ``classes_``. ONNX files carry ``classes_`` (and, for exactly the
        classes 0-9, the Fashion-MNIST names), the input dtype,
        ``pixel_range`` and ``image_shape`` as metadata. Input
        checks stay in the library; ``quantize=True`` models export their
        float network unless ``int8_calibration`` is given. See
        ``fashionclf.export``.

        Parameters
        ----------
        path : str or path-like
            The file to write.
        format : {'onnx', 'program'} or None, default=None
            ``'onnx'`` (needs ``pip install "fashionclf[onnx]"``; run it with
            onnxruntime) or ``'program'`` (``torch.export.save``; read it
            with ``torch.export.load``); None: from the suffix, ``.onnx`` or
            ``.pt2``.
        int8_calibration : array-like of shape (n_samples, 784), \
(n, 28, 28) or (n, 1, 28, 28), default=None
            ONNX only: write an int8 file, quantized by ONNX Runtime's static
            quantization (needs onnxruntime), its activation ranges set by
            up to 2,048 evenly spaced rows of these images, pixels as in
            ``fit`` (training images, not the ones to be scored). It predicts
            as the float file does to within int8 rounding, about twice as
            fast on CPUs with VNNI (see the user guide's export page).
        input_dtype : {'float32', 'uint8'}, default='float32'
            The dtype of the file's input: float32 rows, or the uint8 rows
            that :func:`~fashionclf.fetch_fashion_mnist` and
            :func:`~fashionclf.datasets.read_images` return (cast to float inside the
            file; needs a ``pixel_range`` within 0-255). A file takes one
            dtype: ONNX Runtime refuses the other.

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        module = self.inference_module()
        rows = None
        if int8_calibration is not None:
            rows = calibration_sample(self._rows(int8_calibration)).numpy()
        return write_exported(
            module,
            path,
            format=format,
            classes=list(self.classes_),
            class_names=fashion_class_names(self.classes_),
            int8_calibration=rows,
            input_dtype=input_dtype,
        )

    def _to_data(self) -> dict[str, Any]:
        """Return the fitted state as plain containers and CPU tensors.

        One fitted state, three ways out: ``save`` writes it as a model file,
        pickling keeps it as the pickled state (no ``nn.Module``, no
        device-bound tensor), and :meth:`_from_data` rebuilds the net from it.
        """
        if self.quantize and self._fitted.pending_int8:
            self._int8()
        return {
            "classes": self.classes_,
            "n_features_in": self.n_features_in_,
            "feature_names_in": getattr(self, "feature_names_in_", None),
            "image_shape": self.image_shape_,
            **self._fitted.to_data(),
        }

    def _from_data(self, exported: dict[str, Any], *, check=None) -> None:
        """Rebuild the fitted network (on ``device_``) from :meth:`_to_data` output.

        ``check``: the path of the model file ``exported`` comes from; its
        tensors are compared with the built network before they are loaded.
        """
        self.classes_ = np.asarray(exported["classes"])
        self.n_features_in_ = exported["n_features_in"]
        if exported["feature_names_in"] is not None:
            self.feature_names_in_ = np.asarray(exported["feature_names_in"], object)
        self.image_shape_ = tuple(exported["image_shape"])
        self._fitted = FittedNetwork.from_data(
            exported,
            self.get_params(),
            device=self.device_,
            check=None
            if check is None
            else lambda module: serialization.check_tensors(
                module, exported["net"], check
            ),
        )

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy
        if state.pop("_fitted", None) is not None:
            exported = self._to_data()
            # plain data only (numpy arrays, strings, numbers, containers), so
            # pickles name no torch or fashionclf internals and skops can hold it
            state["_fitted_data"] = {
                "record": dataclasses.asdict(exported["fitted"]),
                "history": plain(exported["history"]),
                "tensors": serialization.tree_to_plain(
                    {"net": exported["net"], "int8": exported["int8"]}
                ),
            }
        return state

    def __setstate__(self, state: dict) -> None:
        data = state.pop("_fitted_data", None)
        self.__dict__.update(state)
        if data is not None:
            device, reason = available_device(self.device_)
            if reason is not None:
                # device_ says where it is; the parameter device stays as set
                # (the model stays here until set_params(device=...) moves it)
                warnings.warn(
                    f"This model was fitted on {self.device_!r}: {reason}.",
                    UserWarning,
                    stacklevel=2,
                )
                self.device_ = device
            tensors = serialization.tree_from_plain(data["tensors"])
            exported = {
                "fitted": FitRecord(**data["record"]),
                "history": data["history"],
                **tensors,
            }
            self._fitted = FittedNetwork.from_data(
                exported, self.get_params(), device=self.device_
            )


def save_model(model: FashionCNNClassifier, path: str | os.PathLike[str]) -> None:
    """Write a fitted classifier to ``path``: :meth:`FashionCNNClassifier.save`."""
    model.save(path)


def load_model(
    path: str | os.PathLike[str], *, trusted_modules: Sequence[str] = ()
) -> FashionCNNClassifier:
    """Read a model file: :meth:`FashionCNNClassifier.load`."""
    return FashionCNNClassifier.load(path, trusted_modules=trusted_modules)
