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


# ------------------------------------------------------------- the GPU path
def test_a_gpu_choice_reads_nvml_and_opens_no_context_on_other_gpus(monkeypatch):
    used = {0: 30, 1: 10, 2: 20}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "device_memory_used", lambda i: used[i])
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda i: type("P", (), {"total_memory": 100})(),
    )

    def no_context(i):
        raise AssertionError(f"mem_get_info opens a CUDA context on GPU {i}")

    monkeypatch.setattr(torch.cuda, "mem_get_info", no_context)
    assert _devices.auto_device() == "cuda:1"


def test_placement_moves_data_once_when_it_fits():
    mb = 2**20
    assert _devices.data_placement(188 * mb, "cpu") == "cpu"
    assert _devices.data_placement(188 * mb, "cuda", free_bytes=80_000 * mb) == "device"
    assert _devices.data_placement(188 * mb, "cuda:1", free_bytes=300 * mb) == "pinned"


def test_unpickling_onto_a_machine_with_fewer_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert _devices.available_device("cuda:0") == ("cuda:0", None)
    device, reason = _devices.available_device("cuda:5")
    assert device == "cuda" and "'cuda:5' does not exist here (1 GPU)" in reason
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _devices.available_device("cuda:5")[0] == "cpu"
    assert _devices.available_device("cpu") == ("cpu", None)


def test_precision_auto_and_float16_on_each_device(monkeypatch):
    import pytest

    resolve = _devices.resolve_precision
    monkeypatch.setattr(_devices, "cpu_has_native_bf16", lambda: False)
    assert resolve("auto", "cpu", "X") == "float32"
    monkeypatch.setattr(_devices, "cpu_has_native_bf16", lambda: True)
    assert resolve("auto", "cpu", "X") == "bfloat16"
    assert resolve("bfloat16", "cpu", "X") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve("auto", "cuda", "X") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve("auto", "cuda:0", "X") == "float16"
    assert resolve("float16", "cuda", "X") == "float16"
    with pytest.raises(ValueError, match=r"precision='float16' on device='cpu'"):
        resolve("float16", "cpu", "X")


def test_bf16_probe_answers_a_bool_even_without_torch_s_probes(monkeypatch):
    assert isinstance(_devices.cpu_has_native_bf16(), bool)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert _devices.cpu_has_native_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert _devices.cpu_has_native_bf16() is True  # AVX512-BF16 without AMX
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    assert _devices.cpu_has_native_bf16() is False


def test_float16_on_the_cpu_is_refused_before_training(small):
    import pytest

    from .helpers import tiny_cnn

    X, y, _, _ = small
    model = tiny_cnn(precision="float16")
    with pytest.raises(ValueError, match=r"a CUDA device for float16"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_a_cpu_fit_never_reseeds_any_gpu(monkeypatch):
    from fashionclf._estimator.locks import seeded_torch_rng

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda s: calls.append(s))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda s: calls.append(s))
    with seeded_torch_rng(7, "cpu"):
        first = torch.rand(3)
    with seeded_torch_rng(7, "cpu"):
        assert torch.equal(torch.rand(3), first)
    assert calls == []
