"""CNN vs classic baselines, with an accuracy-vs-fit-time plot
===========================================================

Run it::

    python examples/cnn_vs_baselines.py             # full data, a few minutes
    FASHIONCLF_SMOKE=1 python examples/cnn_vs_baselines.py
"""

import os

from fashionclf import fetch_fashion_mnist, load_sample
from fashionclf.benchmark import run_benchmark
from fashionclf.benchmark.plotting import plot_accuracy_vs_time, save

SMOKE = os.environ.get("FASHIONCLF_SMOKE") == "1"
if SMOKE:
    X, y = load_sample(subset="train", return_X_y=True)
    Xt, yt = load_sample(subset="test", return_X_y=True)
    models = ["dummy", "logreg", "knn", "cnn-tiny"]
else:
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    models = ["dummy", "logreg", "random_forest", "knn", "cnn-fast"]

result = run_benchmark(models, X, y, Xt, yt, random_state=0)
print(result.to_markdown())
print("plot:", save(plot_accuracy_vs_time(result.summary()), "cnn_vs_baselines.png"))
