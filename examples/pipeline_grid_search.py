"""Pipeline and GridSearchCV, for the CNN and a baseline alike
===========================================================

A search over preprocessing, architecture and training parameters.

Run it::

    python examples/pipeline_grid_search.py

On the 2,000 bundled training images, 5 epochs per fit: under a minute.
"""

import pandas as pd
from matplotlib.figure import Figure
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from fashionclf import FashionCNNClassifier, ImageReshaper, PixelScaler, load_sample
from fashionclf.evaluation.plotting import save

X, y = load_sample(return_X_y=True)

cnn = Pipeline(
    [
        ("scale", PixelScaler()),
        ("images", ImageReshaper()),
        (
            "cnn",
            FashionCNNClassifier(pixel_range=None, max_epochs=5, random_state=0),
        ),
    ]
)
grid = {
    "scale__standardize": [False, True],
    "cnn__width": [8, 16],
    "cnn__lr": [1e-2],
}
# n_jobs=2 runs two fits at once; each worker gets one torch thread (joblib's
# loky backend limits threads per worker), so 2 workers x 1 thread = 2 cores.
search = GridSearchCV(cnn, grid, cv=2, n_jobs=2).fit(X, y)
print("CNN best:", search.best_params_, f"cv accuracy {search.best_score_:.4f}")

logreg = Pipeline(
    [("scale", PixelScaler()), ("clf", LogisticRegression(max_iter=1000))]
)
search_lr = GridSearchCV(logreg, {"clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
print(
    "LogReg best:", search_lr.best_params_, f"cv accuracy {search_lr.best_score_:.4f}"
)

# %%
# Cross-validated accuracy of every candidate:
cv = pd.DataFrame(search.cv_results_)
labels = [
    f"standardize={p['scale__standardize']}, width={p['cnn__width']}"
    for p in cv["params"]
]
fig = Figure(figsize=(6, 2.6))
ax = fig.add_subplot()
ax.barh(labels, 100 * cv["mean_test_score"], xerr=100 * cv["std_test_score"])
ax.set_xlim(0, 100)
ax.set_xlabel("cross-validated accuracy (%), 2 folds of 1,000 images")
fig.tight_layout()
save(fig, "grid_search.png")
