"""Training internals of FashionCNNClassifier: the skorch net and its helpers.

- :class:`TensorBatches`: the iterator skorch uses instead of a per-sample
  ``DataLoader``. It slices whole batches out of in-memory tensors and applies
  augmentation (random horizontal flips, random shifts) to the batch at once,
  so per-sample Python work never sets the pace.
- :class:`FiniteLoss`: stops training with a clear error when the loss turns
  NaN or infinite.
- :class:`Net`: ``NeuralNetClassifier`` with per-fit random streams,
  per-sample loss weights, optional bf16/fp16 autocast and channels-last layout.
- :class:`EpochSnapshot`: rolls an interrupted epoch back.

The learning-rate schedule is in :mod:`.schedule`, checkpoints in
:mod:`.state`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import Dataset, unpack_data
from skorch.utils import TeeGenerator, to_tensor

from .._utils.sklearn_callbacks import begin_subtask, end_task
from ..networks import Dropout
from .locks import shared


class TensorBatches:
    """Iterate over ``(X, y)`` batches of a skorch ``Dataset`` holding tensors.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Holds ``X`` (N, C, H, W) and ``y`` (N,) tensors; a
        :class:`WeightedTensors` also holds per-sample weights, and batches
        then come as ``(X, (y, weight))``.
    batch_size : int
    shuffle : bool, default=False
    flip : bool, default=False
        Flip each image horizontally with probability 1/2.
    max_shift : int, default=0
        Shift each image by up to this many pixels in x and y, filling with 0.
    drop_single : bool, default=False
        Drop a final batch of one sample (batch norm cannot train on it).
    generator : callable or None, default=None
        ``generator(device)`` is called at the start of every pass for the
        generator that shuffles and augments, on the data's device; None
        seeds one from torch's global RNG.
    device : str or None, default=None
        Where batches go. Data already there is sliced in place (no copy);
        CPU data bound for a GPU is copied batch by batch from pinned memory,
        without blocking.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        shuffle: bool = False,
        flip: bool = False,
        max_shift: int = 0,
        drop_single: bool = False,
        generator: Callable[[torch.device], torch.Generator] | None = None,
        device: str | None = None,
    ) -> None:
        self.X, self.y = dataset.X, dataset.y
        self.weight = getattr(dataset, "weight", None)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.flip = flip
        self.max_shift = max_shift
        self.drop_single = drop_single
        self.generator = generator
        self.device = device

    def __len__(self) -> int:
        n = len(self.X)
        n_batches = math.ceil(n / self.batch_size)
        if self.drop_single and n % self.batch_size == 1 and n > 1:
            n_batches -= 1
        return n_batches

    def __iter__(self):
        n, here = len(self.X), self.X.device
        if self.generator is not None:
            gen = self.generator(here)
        else:  # evaluation (no shuffling, no augmentation) draws nothing
            gen = torch.Generator(device=here)
            if self.shuffle or self.flip or self.max_shift:
                gen.manual_seed(int(torch.randint(2**62, (1,)).item()))
        order = torch.randperm(n, generator=gen, device=here) if self.shuffle else None
        target = torch.device(self.device) if self.device is not None else here
        copy = target.type == "cuda" and here.type == "cpu"
        for b in range(len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            idx = order[sl] if order is not None else sl
            Xb = self.X[idx]
            yb = self.y[idx] if self.y is not None else None
            wb = self.weight[idx] if self.weight is not None else None
            if copy:  # pinned, so the copy to the GPU need not block
                Xb, yb, wb = (
                    None if t is None else t.pin_memory().to(target, non_blocking=True)
                    for t in (Xb, yb, wb)
                )
            if self.flip or self.max_shift:
                Xb = augment(Xb, self.flip, self.max_shift, gen)
            yield Xb, (yb if wb is None else (yb, wb))


class WeightedTensors(Dataset):
    """A skorch ``Dataset`` of tensors ``X``, ``y`` and per-sample ``weight``."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> None:
        super().__init__(X, y)
        self.weight = weight


def seeded_generator(
    seed: int, *key: int, device: str | torch.device = "cpu"
) -> torch.Generator:
    """Return a generator on ``device`` seeded from ``seed`` and ``key``.

    ``key`` names the epoch and the stream (0: batches, 1: dropout).

    A generator draws only for tensors on its own device: shuffling and
    augmentation use one on the data's device, dropout one on the network's.
    On the CPU the draws are those of every earlier version.
    """
    state = np.random.SeedSequence([seed, *key]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state >> np.uint64(1)))


def augment(
    X: torch.Tensor, flip: bool, max_shift: int, gen: torch.Generator
) -> torch.Tensor:
    """Randomly flip (horizontally) and shift a batch of images ``(N, C, H, W)``."""
    n, c, h, w = X.shape
    dev = X.device  # every draw and index on the images' device
    if flip:
        mask = torch.rand(n, generator=gen, device=dev) < 0.5
        X = torch.where(mask[:, None, None, None], X.flip(-1), X)
    if max_shift:
        s = max_shift
        padded = torch.nn.functional.pad(X, (s, s, s, s))
        dy = torch.randint(0, 2 * s + 1, (n,), generator=gen, device=dev)
        dx = torch.randint(0, 2 * s + 1, (n,), generator=gen, device=dev)
        rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        # rows: (N, 1, H, 1), cols: (N, 1, 1, W)
        X = padded[
            torch.arange(n, device=dev)[:, None, None, None],
            torch.arange(c, device=dev)[None, :, None, None],
            rows,
            cols,
        ]
    return X


class FiniteLoss(Callback):
    """Raise ``FloatingPointError`` naming the epoch when the loss is not finite."""

    def on_epoch_end(self, net, **kwargs) -> None:
        """Check the epoch's mean training loss."""
        loss = net.history[-1].get("train_loss")
        if loss is not None and not np.isfinite(loss):
            raise FloatingPointError(
                f"Training loss became {loss} in epoch {len(net.history)}; expected a "
                "finite loss. Lower lr, check the input scaling (pixel_range) or use "
                "precision='float32'."
            )


class Net(NeuralNetClassifier):
    """``NeuralNetClassifier`` with its own random streams and a few options.

    - ``seed``: every epoch shuffles, augments and drops out with generators
      seeded from ``(seed, epoch)``, never torch's global RNG, so fits in
      parallel threads cannot disturb each other, and a fit resumed at any
      epoch draws what an uninterrupted one would.
    - per-sample weights: batches ``(X, (y, weight))`` (see
      :class:`WeightedTensors`) give the weighted mean of the loss.
    - ``amp_dtype``: autocast to bfloat16 or float16 (float16 through a
      gradient scaler), and ``channels_last`` memory layout.
    - ``frozen_layers``: set by ``freeze='features'`` to the layers outside
      the head, which then stay in evaluation mode in training.
    """

    def __init__(
        self,
        *args,
        amp_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last
        self.seed = seed
        self.frozen_layers: list[torch.nn.Module] = []

    def _set_training(self, training=True):
        """Training or evaluation mode; frozen feature layers stay in evaluation."""
        super()._set_training(training)
        for layer in self.frozen_layers:
            layer.train(False)

    def initialize_module(self):
        """Build the module, then switch it to channels-last if asked."""
        super().initialize_module()
        if self.channels_last:
            self.module_ = self.module_.to(memory_format=torch.channels_last)
        return self

    def get_iterator(self, dataset, training=False):
        """Skorch's iterator; training passes draw from this fit's generators."""
        iterator = super().get_iterator(dataset, training=training)
        if isinstance(iterator, TensorBatches):
            iterator.device = self.device
            if training and self.seed is not None:
                iterator.generator = self._batch_generator
        return iterator

    def _batch_generator(self, data_device: torch.device) -> torch.Generator:
        """Return this epoch's batch generator; give dropout its own.

        Dropout's is on the net's device, the batches' (shuffling and
        augmentation) on the data's.
        """
        assert self.seed is not None  # only set as the generator with a seed
        epoch = len(self.history)
        dropout = seeded_generator(self.seed, epoch, 1, device=self.device)
        for module in self.module_.modules():
            if isinstance(module, Dropout):
                module.generator = dropout
        return seeded_generator(self.seed, epoch, 0, device=data_device)

    def on_train_end(self, net, **kwargs):
        """Detach the generators from the module (they are per epoch)."""
        super().on_train_end(net, **kwargs)
        for module in self.module_.modules():
            if isinstance(module, Dropout):
                module.generator = None

    def infer(self, x, **fit_params):
        """Forward a batch, under autocast if asked; logits come back float32."""
        x = to_tensor(x, device=self.device)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        device_type = torch.device(self.device).type
        amp = self.amp_dtype is not None
        with torch.autocast(device_type, dtype=self.amp_dtype, enabled=amp):
            with shared():
                out = self.module_(x, **fit_params)
        return out.float()

    def train_step(self, batch, **fit_params):
        """One optimisation step; under float16, through a gradient scaler.

        float16 gradients underflow without loss scaling. The scaler unscales
        them before callbacks see them (``on_grad_computed``) and skips steps
        whose gradients are not finite.
        """
        if self.amp_dtype != torch.float16:
            return super().train_step(batch, **fit_params)
        if getattr(self, "grad_scaler_", None) is None:
            self.grad_scaler_ = torch.amp.GradScaler(torch.device(self.device).type)
        scaler = self.grad_scaler_
        self._zero_grad_optimizer()
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler.scale(loss).backward()
        scaler.unscale_(self.optimizer_)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
        )
        scaler.step(self.optimizer_)
        scaler.update()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Return the criterion's loss; with sample weights, their weighted mean.

        The criterion is a module too: its call runs in a shared section
        (:mod:`.locks`), so int8 tracing in another thread, which patches
        ``nn.Module.__call__`` process-wide, never catches it.
        """
        if not isinstance(y_true, tuple | list):
            with shared():
                return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true, weight = (to_tensor(t, device=self.device) for t in y_true)
        losses = torch.nn.functional.cross_entropy(
            y_pred,
            y_true,
            reduction="none",
            label_smoothing=self.criterion_.label_smoothing,
        )
        return (losses * weight).mean()


class EpochSnapshot(Callback):
    """Keep the weights of the last completed epoch; on Ctrl-C roll back to them.

    skorch ends ``partial_fit`` quietly on ``KeyboardInterrupt``; an epoch cut
    short leaves a history row without ``train_loss``. Then the module gets
    the last completed epoch's weights back, the row is dropped and a
    warning says so.
    """

    def on_train_begin(self, net, **kwargs) -> None:
        """Snapshot the weights training starts from."""
        self.state_: dict | None = _copy_state(net.module_)
        self.interrupted_ = False

    def on_epoch_end(self, net, **kwargs) -> None:
        """Snapshot the weights of the epoch just completed."""
        self.state_ = _copy_state(net.module_)

    def on_train_end(self, net, **kwargs) -> None:
        """Roll back an epoch that was interrupted; then drop the snapshot."""
        if net.history and "train_loss" not in net.history[-1]:
            epoch = len(net.history)
            net.module_.load_state_dict(self.state_)
            del net.history[-1]
            self.interrupted_ = True
            warnings.warn(
                f"Training was interrupted during epoch {epoch}; the model keeps the "
                f"weights of the last completed epoch ({epoch - 1}).",
                UserWarning,
                stacklevel=2,
            )
        self.state_ = None  # a copy of the weights: never kept in a fitted model


def _copy_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class EpochTasks(Callback):
    """Report each epoch as a subtask of scikit-learn's callback API.

    Part of every net the classifier builds, idle unless :meth:`open` gave it
    the fit's task context (:mod:`fashionclf._utils.sklearn_callbacks`):
    then each epoch begins and ends a subtask, so ``ProgressBar`` counts
    epochs and ``ScoringMonitor`` scores ``fitted()``'s model after each.
    """

    def __init__(self) -> None:
        self.context = None
        self._fit: tuple | None = None

    def open(self, context, estimator, X, y, fitted: Callable[[], dict]) -> None:
        """Report the coming epochs under ``context`` (None: stay idle).

        ``X``, ``y``: the fit's data as the caller passed it; ``fitted()``:
        the attributes of the estimator as of the last epoch.
        """
        self.context, self._fit = context, (estimator, X, y, fitted)

    def close(self) -> None:
        """Stop reporting and drop every reference to the fit."""
        self.context, self._fit, self._epoch = None, None, None

    def on_epoch_begin(self, net, **kwargs) -> None:
        """Begin the epoch's subtask."""
        if self.context is not None:
            estimator, X, y, _ = self._fit  # type: ignore[misc]
            self._epoch = begin_subtask(self.context, estimator, X, y, "epoch")

    def on_epoch_end(self, net, **kwargs) -> None:
        """End the epoch's subtask."""
        if self.context is not None:
            estimator, X, y, fitted = self._fit  # type: ignore[misc]
            end_task(self._epoch, estimator, X, y, fitted)

    def __getstate__(self) -> dict:
        return {"context": None}  # a fit's context never travels with a net
