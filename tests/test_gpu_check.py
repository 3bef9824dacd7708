"""benchmarks/gpu_check.py, the prepared GPU check, runs to the end on the CPU."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.slow
def test_dry_run_runs_every_check_on_the_cpu():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")]
    passed = [line for line in lines if line.startswith("PASS")]
    assert len(passed) == 12
    assert "SKIP float16: float16 (autocast + grad scaler) needs CUDA" in out.stdout
    assert "13 of 13 checks passed or skipped" in out.stdout
    assert "training:" in out.stdout and "prediction:" in out.stdout


def test_without_a_gpu_the_real_run_says_so():
    if torch.cuda.is_available():  # a GPU machine runs the real thing instead
        return
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "no CUDA device here" in out.stdout
