"""Is an accuracy difference real? Intervals and paired tests on one test set.

Every model in a benchmark is scored on the same test images, so two models
can be compared image by image (paired), which is far more sensitive than
comparing two accuracies with their own intervals. Three figures:

- :func:`wilson_interval`: a 95% interval of one model's accuracy, from the
  test-set sampling alone (Wilson score interval, via
  :func:`scipy.stats.binomtest`).
- :func:`mcnemar_exact`: the exact McNemar test on the paired predictions:
  of the images exactly one of the two models gets right, is the split
  compatible with 50/50? (:func:`scipy.stats.binomtest`, two-sided.)
- :func:`paired_bootstrap_diff`: a 95% interval of the accuracy difference,
  resampling test images with both models' outcomes kept together
  (percentile method; 2,000 resamples of 10,000 images in milliseconds).

:func:`compare_to_best` puts the three together for a set of models.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "compare_to_best",
    "mcnemar_exact",
    "paired_bootstrap_diff",
    "wilson_interval",
]


def _outcomes(correct, name: str = "correct") -> np.ndarray:
    out = np.asarray(correct)
    if out.ndim != 1 or out.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of per-image outcomes "
            f"(True where the prediction is right); got shape {out.shape}."
        )
    return out.astype(bool)


def _pair(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _outcomes(correct_a, "correct_a"), _outcomes(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(
            f"paired outcomes need the same test images: correct_a has "
            f"{a.size} entries, correct_b has {b.size}."
        )
    return a, b


def wilson_interval(
    n_correct: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval of an accuracy of ``n_correct / n``.

    Parameters
    ----------
    n_correct : int
        Test images classified correctly.
    n : int
        Test images.
    confidence : float, default=0.95

    Returns
    -------
    (low, high) : tuple of float
        Bounds as fractions in [0, 1].

    Examples
    --------
    >>> low, high = wilson_interval(90, 100)
    >>> round(low, 4), round(high, 4)
    (0.8256, 0.9448)
    """
    ci = stats.binomtest(int(n_correct), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)


def mcnemar_exact(correct_a, correct_b) -> float:
    """Two-sided exact McNemar p-value for two models on the same images.

    Only the discordant images count: ``b`` where only model A is right and
    ``c`` where only model B is. Under the null hypothesis (equal accuracy)
    ``b ~ Binomial(b + c, 1/2)``.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_images,)
        Per-image outcomes of the two models, in the same image order.

    Returns
    -------
    float
        The p-value; 1.0 when the models never disagree.

    Examples
    --------
    >>> mcnemar_exact([1, 1, 1, 1, 0], [0, 0, 0, 0, 0])  # b=4, c=0
    0.125
    """
    a, b = _pair(correct_a, correct_b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_bootstrap_diff(
    correct_a,
    correct_b,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    random_state: int | None = 0,
) -> tuple[float, float, float]:
    """Accuracy of A minus accuracy of B, with a paired bootstrap interval.

    The test images are resampled with replacement, each image keeping both
    models' outcomes; the interval is the percentile interval of the
    resampled differences. (:func:`scipy.stats.bootstrap` computes the same
    interval far more slowly, about 16 s for 10,000 images on a 2-core CPU;
    the resampled difference only depends on how many images of each kind
    were drawn, so those counts are drawn from a multinomial instead.)

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_images,)
        Per-image outcomes of the two models, in the same image order.
    confidence : float, default=0.95
    n_resamples : int, default=2000
    random_state : int or None, default=0
        Seed of the resampling.

    Returns
    -------
    (difference, low, high) : tuple of float
        As fractions (0.01 is one percentage point).
    """
    a, b = _pair(correct_a, correct_b)
    # Each image contributes +1 (only A right), -1 (only B right) or 0, so a
    # resample's mean difference depends only on how many of each it drew:
    # drawing those counts from a multinomial is the same bootstrap as
    # resampling the images, without materialising n_resamples x n indices.
    n = a.size
    counts = np.array([np.sum(a & ~b), np.sum(~a & b)], dtype=np.float64)
    probs = np.append(counts / n, 1.0 - counts.sum() / n)
    rng = np.random.default_rng(random_state)
    draws = rng.multinomial(n, probs, size=n_resamples)
    diffs = (draws[:, 0] - draws[:, 1]) / n
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float((counts[0] - counts[1]) / n), float(low), float(high)


def compare_to_best(
    outcomes: Mapping[str, np.ndarray],
    *,
    best: str | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Accuracy intervals and paired tests of every model against the best one.

    Parameters
    ----------
    outcomes : mapping of str to array of bool
        Model name -> per-image outcomes on the same test images.
    best : str, optional
        The model to compare against (e.g. the best mean over seeds); by
        default the one with the highest accuracy in ``outcomes``.
    confidence : float, default=0.95
    n_resamples : int, default=2000
        Bootstrap resamples for the difference intervals.
    random_state : int or None, default=0

    Returns
    -------
    DataFrame
        Indexed by model, sorted by accuracy (best first), with columns
        ``accuracy``, ``ci_low``, ``ci_high`` (Wilson), ``diff_vs_best``,
        ``diff_ci_low``, ``diff_ci_high`` (paired bootstrap, model minus
        best) and ``p_mcnemar`` (exact; NaN for the best model itself).
    """
    if not outcomes:
        raise ValueError("compare_to_best needs at least one model's outcomes.")
    arrays = {name: _outcomes(c, name) for name, c in outcomes.items()}
    if best is None:
        best = max(arrays, key=lambda name: arrays[name].mean())
    elif best not in arrays:
        raise ValueError(f"best={best!r} is not among the models {list(arrays)}.")
    rows = []
    for name, correct in arrays.items():
        low, high = wilson_interval(correct.sum(), correct.size, confidence)
        row = {
            "model": name,
            "accuracy": correct.mean(),
            "ci_low": low,
            "ci_high": high,
        }
        if name == best:
            row.update(diff_vs_best=0.0, diff_ci_low=0.0, diff_ci_high=0.0)
            row["p_mcnemar"] = np.nan
        else:
            diff, d_low, d_high = paired_bootstrap_diff(
                correct,
                arrays[best],
                confidence=confidence,
                n_resamples=n_resamples,
                random_state=random_state,
            )
            row.update(diff_vs_best=diff, diff_ci_low=d_low, diff_ci_high=d_high)
            row["p_mcnemar"] = mcnemar_exact(correct, arrays[best])
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    return table.sort_values("accuracy", ascending=False)
