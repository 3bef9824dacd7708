"""Forward passes against process-wide torch state: who waits for whom."""

import threading
import time

import pytest
import torch

from fashionclf._estimator.locks import exclusive, seeded_torch_rng, shared


def _in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "first, second",
    [(shared, exclusive), (exclusive, shared), (exclusive, exclusive)],
    ids=["exclusive waits for a forward", "forward waits", "exclusive waits"],
)
def test_the_second_thread_waits_for_the_first(first, second):
    events = []
    entered, release = threading.Event(), threading.Event()

    def hold():
        with first():
            entered.set()
            release.wait(5)
            events.append("first done")

    def follow():
        with second():
            events.append("second")

    holder = _in_thread(hold)
    entered.wait(5)
    follower = _in_thread(follow)
    time.sleep(0.2)
    assert events == []  # the second thread is still waiting
    release.set()
    holder.join(5), follower.join(5)
    assert events == ["first done", "second"]


def test_forward_passes_overlap():
    inside = threading.Barrier(2, timeout=5)

    def forward():
        with shared():
            inside.wait()  # both threads inside at once, or BrokenBarrierError

    threads = [_in_thread(forward) for _ in range(2)]
    for thread in threads:
        thread.join(5)
    assert not inside.broken


def test_a_thread_nests_its_own_sections_without_deadlock():
    with exclusive(), shared(), exclusive(), shared():
        pass
    with shared(), shared():
        pass


def test_seeded_rng_is_restored_for_the_caller():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded_torch_rng(7):
        inside = torch.rand(3)
    np_after = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(inside, torch.rand(3))
    assert torch.equal(np_after, expected)
