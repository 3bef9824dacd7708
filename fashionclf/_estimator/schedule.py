"""The learning-rate schedule: its length, its shape, its callback, its position.

One home for everything about the schedule: the estimator's
``lr_schedule`` choices (:data:`SCHEDULES`), how many batches it spans
(:func:`schedule_steps`), the multiplier at each point
(:func:`schedule_factor`), the per-batch callback (:class:`LRSchedule`,
whose position survives ``partial_fit`` calls: skorch's ``LRScheduler``
rebuilds its scheduler on every ``partial_fit``), and reading and setting
its position on a net (:func:`schedule_position`, :func:`set_schedule_position`)
for model files, checkpoints and pickles.
"""

from __future__ import annotations

import math

from skorch.callbacks import Callback

__all__ = [
    "SCHEDULES",
    "LRSchedule",
    "schedule_callback",
    "schedule_factor",
    "schedule_position",
    "schedule_steps",
    "set_schedule_position",
]

#: The ``lr_schedule`` choices; ``'constant'`` adds no callback.
SCHEDULES = ("onecycle", "cosine", "constant")

#: The callback's name among the net's callbacks.
NAME = "lr_schedule"


def schedule_steps(max_epochs: int, n_rows: int, batch_size: int) -> int:
    """Batches over the whole schedule: ``max_epochs`` epochs of the first fit.

    ``partial_fit`` on a loaded model continues this schedule, not a new one.
    """
    return max_epochs * math.ceil(n_rows / batch_size)


def schedule_factor(kind: str, frac: float) -> float:
    """Learning-rate multiplier at training progress ``frac`` in [0, 1]."""
    frac = min(max(frac, 0.0), 1.0)
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    # one-cycle: cosine warm-up from 1/25 to 1 over 25%, cosine anneal to 1e-4
    start, end, pct = 1 / 25, 1e-4, 0.25
    if frac < pct:
        t = frac / pct
        return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * t))
    t = (frac - pct) / (1 - pct)
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))


class LRSchedule(Callback):
    """Set the learning rate before every training batch.

    Parameters
    ----------
    kind : {'onecycle', 'cosine', 'constant'}
    total_steps : int
        Batches over the whole schedule; later batches keep the final rate.
    """

    def __init__(self, kind: str, total_steps: int) -> None:
        self.kind = kind
        self.total_steps = total_steps

    def initialize(self):
        """Reset the position (called by skorch on ``fit``, not ``partial_fit``)."""
        self.step_ = 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs) -> None:
        """Set ``lr`` for this batch from the schedule."""
        if not training:
            return
        factor = schedule_factor(self.kind, self.step_ / max(self.total_steps, 1))
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * factor
        self.step_ += 1


def schedule_callback(kind: str, total_steps: int) -> LRSchedule | None:
    """Return the callback for ``lr_schedule=kind`` (``None`` for constant)."""
    return None if kind == "constant" else LRSchedule(kind, total_steps)


def schedule_position(net) -> tuple[int, int]:
    """Return ``(total_steps, step)`` of the net's schedule (zeros if constant)."""
    schedule = dict(net.callbacks_).get(NAME)
    return int(getattr(schedule, "total_steps", 0)), int(getattr(schedule, "step_", 0))


def set_schedule_position(net, step: int) -> None:
    """Move the net's schedule to ``step`` (no-op for a constant rate)."""
    schedule = dict(net.callbacks_).get(NAME)
    if schedule is not None:
        schedule.step_ = step
