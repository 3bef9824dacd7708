"""FashionCNNClassifier: a skorch/PyTorch CNN as a scikit-learn classifier.

Design: composition, not subclassing. The estimator is a plain scikit-learn
``BaseEstimator`` whose ``fit`` builds a skorch ``NeuralNetClassifier``
(kept as ``net_``). This keeps the parameter list short, typed, explicit and
clone-safe, and hides skorch's ``**kwargs`` routing, while skorch still runs
the training loop, callbacks (early stopping, progress bar, epoch table) and
device handling. Everything torch-related is created in ``fit``, never in
``__init__`` or at import time.

Input contract
--------------
``X`` is flat rows of ``prod(image_shape)`` pixels (numpy or pandas, as the
Kaggle CSV gives them), or images ``(n, H, W)`` / ``(n, C, H, W)``; uint8 or
any real dtype. Scaling rule: with ``pixel_range=(lo, hi)`` (default
``(0, 255)``) every value must lie in ``[lo, hi]`` and is mapped linearly to
``[0, 1]``; ``pixel_range=None`` takes values as already scaled. With
``standardize=True`` the network then subtracts the training mean and divides
by the training standard deviation (stored in the model).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
from collections.abc import Iterator, Sequence
from numbers import Integral, Real
from typing import Literal

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from skorch.callbacks import Callback, EarlyStopping, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from ._devices import auto_device
from ._inference import folded_copy, predict_proba_batches
from ._quantization import (
    calibrate_int8,
    quantized_engine,
    quantized_graph,
    state_from_bytes,
    state_to_bytes,
)
from ._training import (
    EpochCheckpoint,
    EpochSnapshot,
    FiniteLoss,
    LRSchedule,
    Net,
    TensorBatches,
    checkpoint_file,
    resume_from_checkpoint,
)
from ._validation import check_pixels, expected_got, resolve_image_shape
from .networks import Standardized, build_network

__all__ = ["PREDICT_CHUNK", "FashionCNNClassifier"]

#: Rows converted and predicted at a time by ``predict_proba``.
PREDICT_CHUNK = 8192

_OPTIMIZERS = {
    "adamw": (torch.optim.AdamW, {}),
    "adam": (torch.optim.Adam, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
}


# Names skorch and this estimator give their own callbacks.
_BUILTIN_CALLBACKS = frozenset(
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
    }
)


def _silent(*args, **kwargs) -> None:
    """Print nothing (a picklable sink for skorch callbacks)."""


class FashionCNNClassifier(ClassifierMixin, BaseEstimator):
    """Convolutional neural network classifier for 28x28 grayscale images.

    Built on skorch and PyTorch; defaults are tuned for Fashion-MNIST on a
    small CPU (see ``benchmarks/RESULTS.md``).

    Parameters
    ----------
    architecture : {'compact', 'cnn', 'seed'}, default='compact'
        ``'compact'``: a full-resolution stem, then ``n_blocks`` blocks of
        Conv -> MaxPool -> BatchNorm -> ReLU (-> Conv -> BatchNorm -> ReLU),
        global max pooling and one linear layer; batch norm and the later
        convolutions run at a quarter of the pixels, so it learns more per
        second of training. ``'cnn'``: ``n_blocks`` blocks of
        ``convs_per_block`` x (Conv -> BatchNorm -> ReLU) -> MaxPool, then a
        dense layer of ``dense_units`` (the network of the ``'reference'``
        preset). ``'seed'``: Conv 32@3x3 -> ReLU -> MaxPool -> Dense 32 ->
        Dense.
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
    lr_schedule : {'onecycle', 'cosine', 'constant'}, default='onecycle'
        Per-batch schedule over ``max_epochs``.
    batch_size : int, default=256
    max_epochs : int, default=10
    augment : bool, default=True
        Random horizontal flips and shifts of up to 2 pixels while training.
    label_smoothing : float, default=0.0
    validation_fraction : float, default=0.0
        Stratified fraction of the training data held out to report
        ``valid_loss``/``valid_acc`` per epoch in ``history_``.
    early_stopping : bool, default=False
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best weights; needs ``validation_fraction > 0``.
    n_iter_no_change : int, default=5
    standardize : bool, default=True
        Standardize scaled pixels with the training mean and std.
    pixel_range : tuple of (float, float) or None, default=(0, 255)
        Raw scale of ``X`` (see the module docstring); ``None`` if ``X`` is
        already scaled.
    image_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)``; one entry may be -1 (inferred).
    tta : bool, default=False
        Test-time augmentation: average predictions over each image and its
        horizontal mirror. Only for models trained with ``augment=True``
        (which flips): a model that never saw mirrored images loses accuracy
        (measured: 92.1% -> 88.0% for the ``'fast'`` preset).
    precision : {'float32', 'bfloat16'}, default='float32'
        ``'bfloat16'`` trains and predicts under bf16 autocast (fast only on
        CPUs with native bf16, e.g. AVX512-BF16/AMX, and on GPUs).
    quantize : bool, default=False
        After training, quantize the network to int8 for CPU inference
        (post-training static quantization, calibrated on up to 2,048
        training images). ``predict`` and ``predict_proba`` then run int8
        kernels: 2-3x faster here (AVX512-VNNI), for 0.00-0.11 points of
        test accuracy in our runs. Training is unchanged. CPU only.
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
        predictions on CPU.
    verbose : int, default=0
        0 silent; 1 per-epoch table; 2 also a progress bar.
    callbacks : list of (str, skorch.callbacks.Callback) or None, default=None
        Extra skorch callbacks run during training beside the built-in ones
        (e.g. ``[("tb", skorch.callbacks.TensorBoard(writer))]``); a bare
        callback is named after its class. A name used by a built-in
        callback is refused. Not stored in model files written by
        :meth:`save`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` is a DataFrame with string column names.
    image_shape_ : tuple of int
    device_ : str
        The device actually used.
    net_ : skorch.NeuralNetClassifier
        The trained skorch net (its ``module_`` is the PyTorch network).
    quantized_state_ : dict of str to Tensor or None
        The int8 network's weights, scales and zero points (``quantize=True``).
    history_ : skorch.History
        Per-epoch ``train_loss``, ``dur`` and, with a validation split,
        ``valid_loss`` and ``valid_acc``.

    Notes
    -----
    Parameters that only change how predictions are computed are read at
    predict time, so ``set_params`` on a fitted model takes effect at once:
    ``tta``, ``precision``, ``batch_size``, ``num_threads``, and
    ``quantize=False``. All others take effect at the next ``fit``.

    Examples
    --------
    >>> from fashionclf import FashionCNNClassifier, load_sample
    >>> X, y = load_sample(return_X_y=True)
    >>> clf = FashionCNNClassifier(max_epochs=1, width=8, random_state=0)
    >>> clf.fit(X[:500], y[:500]).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "architecture": [StrOptions({"compact", "cnn", "seed"})],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "convs_per_block": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"onecycle", "cosine", "constant"})],
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
        "precision": [StrOptions({"float32", "bfloat16"})],
        "quantize": ["boolean"],
        "device": [str],
        "checkpoint_path": [str, os.PathLike, None],
        "num_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        architecture: Literal["compact", "cnn", "seed"] = "compact",
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
        precision: Literal["float32", "bfloat16"] = "float32",
        quantize: bool = False,
        device: str = "auto",
        checkpoint_path: str | os.PathLike[str] | None = None,
        num_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        callbacks: list | None = None,
    ) -> None:
        self.architecture = architecture
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
        self.quantize = quantize
        self.device = device
        self.checkpoint_path = checkpoint_path
        self.num_threads = num_threads
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ checks
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

    def _resolve_device(self) -> str:
        owner = type(self).__name__
        if self.device == "auto":
            return auto_device()
        try:
            dev = torch.device(self.device)
        except RuntimeError as exc:
            raise ValueError(
                expected_got(
                    owner,
                    f"device={self.device!r}",
                    "'auto', 'cpu', 'cuda' or 'cuda:N'",
                )
            ) from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                expected_got(
                    owner,
                    f"device={self.device!r}",
                    "a device that exists here",
                    "CUDA is not available; use 'auto' or 'cpu'.",
                )
            )
        if dev.type not in ("cpu", "cuda"):
            raise ValueError(
                expected_got(
                    owner,
                    f"device={self.device!r}",
                    "'auto', 'cpu', 'cuda' or 'cuda:N'",
                )
            )
        return str(dev)

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

    def _encode_y(self, y, n: int, *, classes=None) -> torch.Tensor:
        owner = type(self).__name__
        numpy_dtype = getattr(getattr(y, "dtype", None), "numpy_dtype", None)
        if numpy_dtype is not None and not y.isna().any():
            # pandas nullable labels (Int64, boolean) without missing values:
            # keep their type, or Int64 labels would come back as floats
            y = y.to_numpy(dtype=numpy_dtype)
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n), y)
        check_classification_targets(y)
        if classes is not None:
            self.classes_ = np.unique(np.asarray(classes))
        elif not hasattr(self, "classes_") or not hasattr(self, "net_"):
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                expected_got(
                    owner,
                    f"y with a single class {self.classes_[:1].tolist()[0]!r}",
                    "at least 2 classes to train a classifier",
                )
            )
        codes = np.searchsorted(self.classes_, y)
        unknown = (codes >= len(self.classes_)) | (
            self.classes_[np.minimum(codes, len(self.classes_) - 1)] != y
        )
        if unknown.any():
            raise ValueError(
                expected_got(
                    owner,
                    f"label {y[unknown][:1].tolist()[0]!r}",
                    f"one of the classes {self.classes_.tolist()}",
                )
            )
        return torch.from_numpy(codes.astype(np.int64))

    # ---------------------------------------------------------------- torch env
    @contextlib.contextmanager
    def _torch_env(self, seed: int | None = None) -> Iterator[None]:
        """Set threads and seed torch inside a forked RNG state; restore after."""
        prev_threads = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        devices = (
            [torch.device(self.device_).index or 0]
            if self.device_.startswith("cuda")
            else []
        )
        try:
            with torch.random.fork_rng(devices=devices, enabled=seed is not None):
                if seed is not None:
                    torch.manual_seed(seed)
                yield
        finally:
            torch.set_num_threads(prev_threads)

    def _build_module(self, mean: float = 0.0, std: float = 1.0) -> torch.nn.Module:
        """Build the network for ``image_shape_`` and ``classes_``, standardized."""
        net = build_network(
            self.architecture,
            self.image_shape_,
            len(self.classes_),
            n_blocks=self.n_blocks,
            width=self.width,
            convs_per_block=self.convs_per_block,
            dense_units=self.dense_units,
            dropout=self.dropout,
        )
        return Standardized(net, mean, std)

    def _fingerprint(self, X: torch.Tensor, y: torch.Tensor) -> str:
        """Hash of the parameters that shape training, and of the data."""
        skip = {"verbose", "checkpoint_path", "num_threads", "device", "callbacks"}
        params = sorted(
            (k, repr(v)) for k, v in self.get_params().items() if k not in skip
        )
        h = hashlib.blake2b(repr(params).encode(), digest_size=16)
        h.update(X.numpy().tobytes())
        h.update(y.numpy().tobytes())
        return h.hexdigest()

    def _make_net(
        self,
        module: torch.nn.Module,
        n_train: int,
        valid,
        checkpoint: tuple[str, str] | None = None,
    ) -> Net:
        callbacks: list = [("finite_loss", FiniteLoss()), ("snapshot", EpochSnapshot())]
        if self.lr_schedule != "constant":
            steps = self.max_epochs * math.ceil(n_train / self.batch_size)
            callbacks.append(("lr_schedule", LRSchedule(self.lr_schedule, steps)))
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        patience=self.n_iter_no_change,
                        load_best=True,
                        sink=print if self.verbose else _silent,
                    ),
                )
            )
        if self.verbose >= 2:
            # in a notebook without ipywidgets skorch's widget bar raises
            # ImportError: fall back to the text bar there
            widgets = importlib.util.find_spec("ipywidgets") is not None
            callbacks.append(("progress_bar", ProgressBar(detect_notebook=widgets)))
        callbacks += self._user_callbacks({name for name, _ in callbacks})
        if checkpoint is not None:
            callbacks.append(("checkpoint", EpochCheckpoint(*checkpoint)))
        opt_cls, opt_kw = _OPTIMIZERS[self.optimizer]
        return Net(
            module,
            criterion=torch.nn.CrossEntropyLoss,
            criterion__label_smoothing=self.label_smoothing,
            optimizer=opt_cls,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            **{f"optimizer__{k}": v for k, v in opt_kw.items()},
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=TensorBatches,
            iterator_train__shuffle=True,
            iterator_train__flip=self.augment,
            iterator_train__max_shift=2 if self.augment else 0,
            iterator_train__drop_single=True,
            iterator_valid=TensorBatches,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=callbacks,
            classes=list(range(len(self.classes_))),
            device=self.device_,
            verbose=self.verbose,
            bf16=self.precision == "bfloat16",
            channels_last=True,
        )

    def _user_callbacks(self, taken: set[str]) -> list[tuple[str, Callback]]:
        """``callbacks`` as (name, callback) pairs; refuse built-in names."""
        taken = taken | _BUILTIN_CALLBACKS
        pairs = []
        for item in self.callbacks or []:
            name, cb = item if isinstance(item, tuple) else (type(item).__name__, item)
            if not isinstance(cb, Callback) or not isinstance(name, str):
                raise TypeError(
                    expected_got(
                        type(self).__name__,
                        f"callbacks entry {item!r}",
                        "a skorch Callback or a (name, Callback) pair",
                    )
                )
            if name in taken:
                raise ValueError(
                    expected_got(
                        type(self).__name__,
                        f"a callback named {name!r}",
                        f"a name not used by the built-in callbacks {sorted(taken)}",
                        "Give it another name: callbacks=[('my_name', callback)].",
                    )
                )
            taken.add(name)
            pairs.append((name, cb))
        return pairs

    def _split(self, X: torch.Tensor, y: torch.Tensor, seed: int):
        if self.validation_fraction <= 0:
            return X, y, None
        idx = np.arange(len(y))
        counts = np.bincount(y.numpy())
        n_classes, n_val = (
            np.count_nonzero(counts),
            math.ceil(self.validation_fraction * len(y)),
        )
        # stratify only where each split can hold every class (else sklearn's
        # "test_size should be greater or equal to the number of classes")
        fits = counts[counts > 0].min() >= 2 and n_classes <= min(n_val, len(y) - n_val)
        stratify = y.numpy() if fits else None
        tr, va = train_test_split(
            idx,
            test_size=self.validation_fraction,
            random_state=seed,
            stratify=stratify,
        )
        return X[tr], y[tr], Dataset(X[va], y[va])

    # --------------------------------------------------------------------- API
    def fit(self, X, y) -> FashionCNNClassifier:
        """Train the network from scratch on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, see the module docstring for the scaling rule.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings).

        Returns
        -------
        self
        """
        for attr in ("net_", "classes_"):
            self.__dict__.pop(attr, None)
        return self._fit(X, y, classes=None, epochs=None)

    def partial_fit(self, X, y, classes=None) -> FashionCNNClassifier:
        """Train for exactly one more epoch (initialising on the first call).

        The learning-rate schedule spans ``max_epochs`` calls; Optuna can
        report the validation score after each call and prune.

        Parameters
        ----------
        X : array-like
        y : array-like of shape (n_samples,)
        classes : array-like, optional
            All labels, needed on the first call if ``y`` lacks some.

        Returns
        -------
        self
        """
        return self._fit(X, y, classes=classes, epochs=1)

    def _fit(self, X, y, *, classes, epochs: int | None) -> FashionCNNClassifier:
        first = not hasattr(self, "net_")
        if first:
            self._check_params()
            self.device_ = self._resolve_device()
            if self.quantize and self.device_ != "cpu":
                raise ValueError(
                    expected_got(
                        type(self).__name__,
                        f"quantize=True with device={self.device_!r}",
                        "device='cpu': int8 kernels run on the CPU only",
                    )
                )
            self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        Xt = self._to_images(X, reset=first)
        if len(Xt) < 2:
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    f"{len(Xt)} sample",
                    "at least 2 samples to train",
                )
            )
        yt = self._encode_y(y, len(Xt), classes=classes if first else None)
        epoch_seed = self._seed + (0 if first else len(self.net_.history))
        with self._torch_env(epoch_seed):
            Xtr, ytr, valid = self._split(Xt, yt, self._seed)
            if first:
                mean, std = (
                    (Xtr.mean().item(), Xtr.std().item())
                    if self.standardize
                    else (0.0, 1.0)
                )
                module = self._build_module(mean, std if std > 0 else 1.0)
                checkpoint = None
                if self.checkpoint_path is not None:
                    fingerprint = self._fingerprint(Xt, yt)
                    path = checkpoint_file(self.checkpoint_path, fingerprint)
                    checkpoint = (path, fingerprint)
                self.net_ = self._make_net(module, len(ytr), valid, checkpoint)
                self.net_.initialize()
                if checkpoint is not None and epochs is None:
                    done = resume_from_checkpoint(self.net_, *checkpoint)
                    epochs = self.max_epochs - done
            else:
                self.net_.train_split = (
                    None if valid is None else predefined_split(valid)
                )
            self.net_.max_epochs = self.max_epochs if epochs is None else epochs
            if self.net_.max_epochs > 0:
                self.net_.partial_fit(Xtr, ytr)
            self.net_.train_split = None  # do not keep validation data in the model
            self.quantized_state_ = self._calibrate_int8(Xtr)
            self._fold_network()
        self.history_ = self.net_.history
        return self

    def _calibrate_int8(self, Xtr: torch.Tensor) -> dict[str, torch.Tensor] | None:
        """Quantize the trained network on <= 2,048 evenly spaced training images."""
        self.__dict__.pop("_int8_graph", None)
        if not self.quantize:
            return None
        step = max(1, len(Xtr) // 2048)
        return calibrate_int8(self.net_.module_, Xtr[::step][:2048], self.batch_size)

    def _int8_proba(self, Xt: torch.Tensor) -> np.ndarray:
        """Softmax of the int8 network, batch by batch (graph built once)."""
        if getattr(self, "quantized_state_", None) is None:
            raise ValueError(
                expected_got(
                    type(self).__name__,
                    "quantize=True on a model fitted with quantize=False",
                    "a refit after set_params(quantize=True)",
                )
            )
        graph = self._int8_network()
        with quantized_engine(), torch.inference_mode():
            return torch.cat(
                [
                    torch.softmax(graph(Xt[i : i + self.batch_size]), 1)
                    for i in range(0, len(Xt), self.batch_size)
                ]
            ).numpy()

    def _int8_network(self) -> torch.nn.Module:
        """Return the int8 graph of ``quantized_state_``, built once and kept."""
        if getattr(self, "_int8_graph", None) is None:
            example = torch.zeros(1, *self.image_shape_)
            self._int8_graph = quantized_graph(
                self.net_.module_, self.quantized_state_, example
            )
        return self._int8_graph

    def _fold_network(self) -> None:
        """Keep the inference copy of ``net_.module_`` (batch norm folded).

        Rebuilt whenever the weights change or arrive: after fit and
        partial_fit, on unpickling and on loading a model file.
        """
        self._float_network = folded_copy(self.net_.module_)

    def _float_proba(self, Xt: torch.Tensor) -> np.ndarray:
        """Softmax of the network with batch norm folded, batch by batch."""
        return predict_proba_batches(
            self._float_network,
            Xt,
            batch_size=self.batch_size,
            device=self.device_,
            bf16=self.precision == "bfloat16",
        )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns as ``classes_``.

        Rows are converted and predicted ``PREDICT_CHUNK`` at a time, so the
        memory used beyond ``X`` itself does not grow with the number of rows.
        Safe to call from several threads at once on one fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, 784), (n, 28, 28) or (n, 1, 28, 28)
            Pixels, scaled as in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
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

    def _proba_chunk(self, X) -> np.ndarray:
        Xt = self._to_images(X, reset=False)
        forward = self._int8_proba if self.quantize else self._float_proba
        with self._torch_env():
            proba = forward(Xt)
            if self.tta:
                proba = proba + forward(Xt.flip(-1))
        proba = proba.astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, as given in ``y`` at fit."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on ``(X, y)``.

        Raises ValueError for a label never seen in ``fit``: it cannot be
        predicted, and usually means mismatched label encodings.
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

    def save(self, path) -> None:
        """Save weights and parameters in the weights-only format (no pickle).

        See :func:`fashionclf.serialization.save_model`.
        """
        from .serialization import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path) -> FashionCNNClassifier:
        """Load a model saved by :meth:`save`; never unpickles code.

        See :func:`fashionclf.serialization.load_model`.
        """
        from .serialization import load_model

        return load_model(path)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: never change self
        state.pop("_int8_graph", None)  # an FX graph does not pickle; rebuilt on use
        state.pop("_float_network", None)  # a folded copy of net_.module_; rebuilt
        if state.get("quantized_state_") is not None:  # quantized tensors, as bytes
            state["quantized_state_"] = state_to_bytes(state["quantized_state_"])
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("quantized_state_"), bytes):
            state["quantized_state_"] = state_from_bytes(state["quantized_state_"])
        self.__dict__.update(state)
        if "net_" in state:  # skorch may have moved a CUDA model to the CPU
            self.device_ = str(self.net_.device)
            self._fold_network()
