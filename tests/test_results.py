"""What a benchmark measured (fashionclf.evaluation.results): summaries, spreads, paired tests."""

import re

import numpy as np
import pytest

from fashionclf.evaluation import run_benchmark
from fashionclf.evaluation.significance import mcnemar_exact


@pytest.fixture(scope="module")
def two_seed_result(small):
    X, y, Xt, yt = small
    return run_benchmark(
        ["dummy", "logreg", "cnn-tiny"],
        X,
        y,
        Xt,
        yt,
        random_state=[0, 1],
        verbose=False,
    )


def test_summary_spreads_use_ddof_1_and_single_runs_have_none(two_seed_result):
    res = two_seed_result
    summary = res.summary()
    cnn = res.runs[res.runs["model"] == "cnn-tiny"]
    assert summary.loc["cnn-tiny", "accuracy_std"] == pytest.approx(
        np.std(cnn["accuracy"], ddof=1)
    )
    assert np.isnan(summary.loc["logreg", "accuracy_std"])
    md = res.to_markdown()
    logreg_row = next(line for line in md.splitlines() if line.startswith("| logreg"))
    assert "±" not in logreg_row and re.search(r"\| 1 +\|$", logreg_row)
    cnn_row = next(line for line in md.splitlines() if line.startswith("| cnn-tiny"))
    assert " ± " in cnn_row and re.search(r"\| 2 +\|$", cnn_row)


def test_summary_tests_every_model_against_the_best(two_seed_result, small):
    res = two_seed_result
    summary = res.summary()
    best = summary.index[0]
    assert np.isnan(summary.loc[best, "p_mcnemar"])
    n_train = len(small[1])
    for name in summary.index[1:]:
        first = res.outcomes[(name, 0, n_train)]
        expected = mcnemar_exact(first, res.outcomes[(best, 0, n_train)])
        assert summary.loc[name, "p_mcnemar"] == pytest.approx(expected)
        low, high = summary.loc[name, ["ci_low", "ci_high"]]
        assert low <= first.mean() <= high
        assert summary.loc[name, "diff_ci_low"] <= summary.loc[name, "diff_vs_best"]
    assert summary.loc["dummy", "p_mcnemar"] < 1e-6  # a dummy is far off
    assert summary.loc["cnn-tiny", "larger_noise"] in ("seeds", "test sampling")
    assert summary.loc["logreg", "larger_noise"] == ""
    md = res.to_markdown()
    assert "McNemar p" in md and "paired bootstrap" in md


@pytest.mark.parametrize(
    ("cpu", "flags", "name"),
    [
        ("AMD EPYC 9B45", {"avx2", "avx512f", "avx512_bf16"}, "epyc-avx512bf16"),
        ("Intel(R) Xeon(R) Platinum 8481C", {"avx512f", "amx_tile"}, "xeon-amx"),
        ("Intel(R) Xeon(R) Processor @ 2.80GHz", {"avx2", "avx512f"}, "xeon-avx512"),
        ("AMD EPYC 7B12", {"avx2"}, "epyc-avx2"),
    ],
)
def test_machine_names_say_family_and_widest_instruction_set(cpu, flags, name):
    from fashionclf.evaluation.results import machine_name

    assert machine_name(cpu, flags) == name


def test_a_record_has_one_schema_and_a_dated_path_per_machine(tmp_path, monkeypatch):
    import json
    import sys
    import time

    from fashionclf.evaluation.results import environment, write_record

    monkeypatch.setattr(sys, "argv", ["bench_x.py", "--reps", "3"])
    path = write_record("serving", [{"threads": 1, "img_per_s": 2536.0}], root=tmp_path)
    env = environment()
    assert path.parent == tmp_path / env["machine"]
    assert path.name.endswith(f"-{time.strftime('%Y-%m-%d')}-serving.json")
    record = json.loads(path.read_text())
    assert record["schema"] == "fashionclf-benchmark/1"
    assert record["command"] == "bench_x.py --reps 3"
    assert record["rows"] == [{"threads": 1, "img_per_s": 2536.0}]
    assert record["environment"]["cpu_flags"] == env["cpu_flags"]
    with pytest.raises(ValueError, match="topic='a/b'"):
        write_record("a/b", [], root=tmp_path)
