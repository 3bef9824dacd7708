"""Every example runs as a user would run it: quietly, writing its figure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


def test_the_examples_have_no_smoke_mode():
    for script in EXAMPLES:
        assert "SMOKE" not in script.read_text(), script.name


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip()
    assert "Warning" not in r.stderr, r.stderr[-3000:]
    assert list(tmp_path.glob("*.png")), "each example shows a figure"
