"""CNN vs classic baselines, with an accuracy-vs-fit-time plot
===========================================================

The benchmark harness fits each model, times it and tests the differences
(paired McNemar tests against the best). Here on the 2,000 bundled training
images, where the classic baselines are close to the CNN; from about 5,000
images on the CNN leads by more with more data. The full-data figures (the
CNN at 94%, logistic regression at 85.7%, commands, dates, machines) are on
the benchmarks page of the user guide; ``fashionclf benchmark`` reruns them.

Run it::

    python examples/cnn_vs_baselines.py
"""

from fashionclf import load_sample
from fashionclf.evaluation import run_benchmark
from fashionclf.evaluation.plotting import plot_accuracy_vs_time, save

X, y = load_sample(subset="train", return_X_y=True)
X_test, y_test = load_sample(subset="test", return_X_y=True)

models = ["dummy", "logreg", "random_forest", "knn", "cnn-fast", "cnn-default"]
result = run_benchmark(models, X, y, X_test, y_test, random_state=0)
print(result.to_markdown())

# %%
save(plot_accuracy_vs_time(result.summary()), "cnn_vs_baselines.png")
