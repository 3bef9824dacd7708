"""Lookahead weight averaging, as the airbench CIFAR-10 speed runs train.

Every ``every`` training steps the weights move to an exponential moving
average of themselves, ``average <- lerp(average, weights, 1 - decay)``,
and the average is copied back into the network. The decay rises over the
schedule as ``0.95**every * (t / T)**3`` (t: steps so far, T: steps of the
whole schedule), so early training is barely averaged and the last steps
strongly. Averaging the batch-norm running statistics as well leaves them
matching no weights exactly; the estimator recomputes them at the end of
every fit (:func:`fashionclf.networks.settle_batch_norm`).

The callback also averages at the end of every epoch, so at every epoch
boundary the network *is* the average: checkpoints, model files and
``partial_fit`` need no state beyond the weights, and a resumed fit ends
where an uninterrupted one does.
"""

from __future__ import annotations

import torch
from skorch.callbacks import Callback

__all__ = ["Lookahead"]


class Lookahead(Callback):
    """Average the weights every ``every`` steps and copy the average back.

    Parameters
    ----------
    total_steps : int
        Training steps of the whole schedule (``T`` above).
    every : int, default=5
        Steps between averages.
    """

    def __init__(self, total_steps: int, every: int = 5) -> None:
        self.total_steps = total_steps
        self.every = every

    def on_epoch_begin(self, net, dataset_train=None, **kwargs) -> None:
        """Start this epoch's average from the weights; count the steps done."""
        self.step_ = sum(
            1
            for row in net.history[:-1]
            for batch in row.get("batches", [])
            if "train_loss" in batch
        )
        self.since_ = 0
        self.average_ = [t.detach().clone() for t in _averaged(net.module_)]

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        """Every ``every`` training steps: average and copy back."""
        if not training:
            return
        self.step_ += 1
        self.since_ += 1
        if self.since_ == self.every:
            self._average(net)

    def on_epoch_end(self, net, **kwargs) -> None:
        """Average once more, so the epoch ends with the average in the network."""
        if self.since_:
            self._average(net)
        self.average_ = []  # a copy of the weights: never kept in a fitted model

    def _average(self, net) -> None:
        frac = min(self.step_ / max(self.total_steps, 1), 1.0)
        decay = 0.95**self.every * frac**3
        with torch.no_grad():
            for avg, tensor in zip(self.average_, _averaged(net.module_), strict=True):
                avg.lerp_(tensor, 1 - decay)
                tensor.copy_(avg)
        self.since_ = 0


def _averaged(module: torch.nn.Module) -> list[torch.Tensor]:
    """Return the floating-point state tensors: weights and batch-norm statistics."""
    return [t for t in module.state_dict().values() if t.is_floating_point()]
