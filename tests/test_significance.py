import numpy as np
import pytest
from scipy import stats

from fashionclf.evaluation.significance import (
    compare_to_best,
    mcnemar_exact,
    paired_bootstrap_diff,
    wilson_interval,
)


def test_wilson_interval_matches_the_closed_form():
    # Wilson: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    k, n, z = 90, 100, stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)


def test_mcnemar_exact_by_hand():
    # 3 images only A gets right, 1 only B: p = 2 * P(X <= 1), X ~ Bin(4, 1/2)
    a = [1, 1, 1, 0, 1, 0]
    b = [0, 0, 0, 1, 1, 0]
    assert mcnemar_exact(a, b) == pytest.approx(2 * (1 + 4) / 16)
    assert mcnemar_exact(a, b) == mcnemar_exact(b, a)
    assert mcnemar_exact(a, a) == 1.0


def test_mcnemar_needs_paired_outcomes():
    with pytest.raises(ValueError, match="correct_a has 3 entries, correct_b has 2"):
        mcnemar_exact([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="1-D array"):
        mcnemar_exact([[1, 0]], [[1, 0]])


def test_paired_bootstrap_matches_scipy_resampling_the_images():
    rng = np.random.default_rng(1)
    a = rng.random(2000) < 0.9
    b = np.where(rng.random(2000) < 0.8, a, ~a)
    diff, low, high = paired_bootstrap_diff(a, b, n_resamples=4000)
    assert diff == pytest.approx(a.mean() - b.mean())
    ref = stats.bootstrap(
        (a.astype(float) - b,),
        np.mean,
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(2),
    ).confidence_interval
    assert low == pytest.approx(ref.low, abs=0.003)
    assert high == pytest.approx(ref.high, abs=0.003)
    assert low < diff < high


def test_paired_bootstrap_of_identical_models_is_zero():
    a = np.array([1, 0, 1, 1], bool)
    assert paired_bootstrap_diff(a, a) == (0.0, 0.0, 0.0)


def test_paired_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.random(500) < 0.7, rng.random(500) < 0.6
    assert paired_bootstrap_diff(a, b, random_state=3) == paired_bootstrap_diff(
        a, b, random_state=3
    )


def test_compare_to_best_orders_and_tests_against_the_best():
    truth = np.ones(400, bool)
    best = truth.copy()
    best[:20] = False  # 95%
    worse = truth.copy()
    worse[:60] = False  # 85%, wrong wherever best is wrong, and 40 more
    table = compare_to_best({"worse": worse, "best": best})
    assert list(table.index) == ["best", "worse"]
    assert np.isnan(table.loc["best", "p_mcnemar"])
    assert table.loc["worse", "diff_vs_best"] == pytest.approx(-0.10)
    assert table.loc["worse", "p_mcnemar"] == pytest.approx(2 * 0.5**40)
    assert table.loc["worse", "diff_ci_high"] < 0
    low, high = wilson_interval(380, 400)
    assert table.loc["best", ["ci_low", "ci_high"]].tolist() == [low, high]


def test_compare_to_best_can_be_told_the_best():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([1, 1, 1, 0], bool)
    table = compare_to_best({"a": a, "b": b}, best="a")
    assert table.loc["b", "diff_vs_best"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="best='c' is not among"):
        compare_to_best({"a": a}, best="c")
