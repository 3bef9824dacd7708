"""device='auto' with 0, 1 or several GPUs, simulated (no GPU here)."""

import pytest
import torch

from fashionclf._estimator import devices as _devices


def _gpus(monkeypatch, free_bytes):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(free_bytes))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(free_bytes))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free_bytes[i], 2**34))


def test_no_gpu_means_cpu(monkeypatch):
    _gpus(monkeypatch, [])
    assert _devices.resolve_device("auto", "test") == "cpu"


def test_one_gpu_is_cuda(monkeypatch):
    _gpus(monkeypatch, [2**33])
    assert _devices.resolve_device("auto", "test") == "cuda"


def test_fits_take_the_gpu_with_the_most_free_memory(monkeypatch):
    _gpus(monkeypatch, [1 * 2**30, 9 * 2**30, 5 * 2**30])
    assert {_devices.resolve_device("auto", "test") for _ in range(4)} == {"cuda:1"}


def test_equal_gpus_are_taken_round_robin(monkeypatch):
    _gpus(monkeypatch, [2**33] * 3)
    monkeypatch.setattr(_devices, "_turn", iter(range(100)))
    picked = [_devices.resolve_device("auto", "test") for _ in range(6)]
    assert picked == ["cuda:0", "cuda:1", "cuda:2"] * 2


def test_parallel_workers_spread_over_gpus(monkeypatch):
    """Two threads of a search, each starting a fit: not both on cuda:0."""
    from concurrent.futures import ThreadPoolExecutor

    _gpus(monkeypatch, [2**33] * 2)
    with ThreadPoolExecutor(2) as pool:
        picked = list(
            pool.map(lambda _: _devices.resolve_device("auto", "test"), range(2))
        )
    assert sorted(picked) == ["cuda:0", "cuda:1"]


@pytest.mark.parametrize("device", ["cuda:1", "cpu"])
def test_an_explicit_device_is_kept(monkeypatch, device):
    _gpus(monkeypatch, [2**33] * 2)
    assert _devices.resolve_device(device, "test") == device


def test_worker_processes_start_on_different_gpus(monkeypatch):
    """The first turn comes from the pid: consecutive worker pids, other GPUs."""
    import importlib

    _gpus(monkeypatch, [2**33] * 2)
    picked = []
    for pid in (4242, 4243):
        monkeypatch.setattr("os.getpid", lambda pid=pid: pid)
        fresh = importlib.reload(_devices)
        picked.append(fresh.auto_device())
    importlib.reload(_devices)
    assert sorted(picked) == ["cuda:0", "cuda:1"]
