"""The learning-rate schedule: length, shape, callback and position."""

import pytest

from fashionclf._estimator.schedule import (
    SCHEDULES,
    schedule_callback,
    schedule_factor,
    schedule_position,
    schedule_steps,
    set_schedule_position,
)

from .helpers import tiny_cnn


def test_length_is_epochs_times_batches_of_the_first_fit():
    assert schedule_steps(10, 60_000, 256) == 10 * 235
    assert schedule_steps(1, 1, 256) == 1


@pytest.mark.parametrize("kind", SCHEDULES)
def test_shapes_start_and_end_where_documented(kind):
    start, end = schedule_factor(kind, 0.0), schedule_factor(kind, 1.0)
    expected = {"constant": (1, 1), "cosine": (1, 0), "onecycle": (1 / 25, 1e-4)}
    assert (start, end) == pytest.approx(expected[kind])
    assert schedule_factor(kind, 2.0) == pytest.approx(end)  # later: the final rate


def test_one_cycle_peaks_after_a_quarter():
    assert schedule_factor("onecycle", 0.25) == pytest.approx(1.0)
    assert schedule_factor("onecycle", 0.1) < 1 > schedule_factor("onecycle", 0.5)


def test_constant_rate_has_no_callback_and_no_position(small):
    assert schedule_callback("constant", 100) is None
    X, y, _, _ = small
    net = tiny_cnn(lr_schedule="constant").fit(X[:200], y[:200]).net_
    assert schedule_position(net) == (0, 0)
    set_schedule_position(net, 5)  # no-op
    assert schedule_position(net) == (0, 0)


def test_position_counts_training_batches_and_can_be_set(small):
    X, y, _, _ = small
    clf = tiny_cnn(batch_size=50, max_epochs=2).fit(X[:200], y[:200])
    total, step = schedule_position(clf.net_)
    assert (total, step) == (2 * 4, 2 * 4)
    set_schedule_position(clf.net_, 3)
    assert schedule_position(clf.net_) == (8, 3)
