"""Evaluation: the benchmark harness, its results, significance tests, plots, saliency.

- :mod:`~fashionclf.evaluation.harness`: ``run_benchmark`` fits CNN presets
  and baselines on the same data;
- :mod:`~fashionclf.evaluation.results`: ``BenchmarkResult`` (tables, files)
  and the environment record;
- :mod:`~fashionclf.evaluation.significance`: Wilson intervals, paired
  bootstrap, exact McNemar;
- :mod:`~fashionclf.evaluation.plotting`: headless-safe figures;
- :mod:`~fashionclf.evaluation.saliency`: integrated gradients.
"""

from .harness import (
    BENCHMARK_SUITES,
    HeldOutAccuracy,
    model_entries,
    resolve_models,
    run_benchmark,
)
from .results import BenchmarkResult, environment

__all__ = [
    "BENCHMARK_SUITES",
    "BenchmarkResult",
    "HeldOutAccuracy",
    "environment",
    "model_entries",
    "resolve_models",
    "run_benchmark",
]
