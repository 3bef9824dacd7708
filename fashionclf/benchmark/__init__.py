"""Evaluation: the benchmark harness, its results, significance tests, plots, saliency.

- :mod:`~fashionclf.benchmark.harness`: ``run_benchmark`` fits CNN presets
  and baselines on the same data;
- :mod:`~fashionclf.benchmark.results`: ``BenchmarkResult`` (tables, files)
  and the environment record;
- :mod:`~fashionclf.benchmark.significance`: Wilson intervals, paired
  bootstrap, exact McNemar;
- :mod:`~fashionclf.benchmark.plotting`: headless-safe figures;
- :mod:`~fashionclf.benchmark.saliency`: integrated gradients.
"""

from .harness import BENCHMARK_PRESETS, HeldOutAccuracy, resolve_models, run_benchmark
from .results import BenchmarkResult, environment

__all__ = [
    "BENCHMARK_PRESETS",
    "BenchmarkResult",
    "HeldOutAccuracy",
    "environment",
    "resolve_models",
    "run_benchmark",
]
