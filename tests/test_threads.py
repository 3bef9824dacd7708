"""torch_threads: torch's process-wide thread count, set without racing."""

import threading
import time

import torch

from fashionclf._utils.threads import torch_threads


def test_sets_and_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(2):
        assert torch.get_num_threads() == 2
        with torch_threads(1):  # nested in the same thread: the outer count holds
            assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def test_a_thread_asking_for_another_count_waits_until_the_others_are_done():
    seen, inside = [], threading.Event()
    release = threading.Event()

    def holder():
        with torch_threads(2):
            inside.set()
            release.wait(5)
            seen.append(("holder", torch.get_num_threads()))

    def other():
        with torch_threads(1):
            seen.append(("other", torch.get_num_threads()))

    first = threading.Thread(target=holder)
    first.start()
    inside.wait(5)
    second = threading.Thread(target=other)
    second.start()
    time.sleep(0.2)
    assert seen == []  # waiting: the count in force is the holder's
    release.set()
    first.join(5)
    second.join(5)
    assert seen == [("holder", 2), ("other", 1)]


def test_threads_asking_for_the_same_count_share_it():
    before, counts = torch.get_num_threads(), []
    barrier = threading.Barrier(3)

    def run():
        with torch_threads(2):
            barrier.wait(5)  # all three inside at once
            counts.append(torch.get_num_threads())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert counts == [2, 2, 2]
    assert torch.get_num_threads() == before
