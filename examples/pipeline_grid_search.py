"""Pipeline and GridSearchCV, for the CNN and a baseline alike
===========================================================

A search over preprocessing, architecture and training parameters.

Run it::

    python examples/pipeline_grid_search.py
    FASHIONCLF_SMOKE=1 python examples/pipeline_grid_search.py
"""

import os

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from fashionclf import FashionCNNClassifier, ImageReshaper, PixelScaler, load_sample

SMOKE = os.environ.get("FASHIONCLF_SMOKE") == "1"
X, y = load_sample(return_X_y=True)
if SMOKE:
    X, y = X[:400], y[:400]

cnn = Pipeline(
    [
        ("scale", PixelScaler()),
        ("images", ImageReshaper()),
        (
            "cnn",
            FashionCNNClassifier(
                pixel_range=None, max_epochs=1 if SMOKE else 5, random_state=0
            ),
        ),
    ]
)
grid = {
    "scale__standardize": [False, True],
    "cnn__width": [8, 16],
    "cnn__lr": [3e-3] if SMOKE else [1e-3, 3e-3],
}
# n_jobs=2 runs two fits at once; each worker gets one torch thread (joblib's
# loky backend limits threads per worker), so 2 workers x 1 thread = 2 cores.
search = GridSearchCV(cnn, grid, cv=2, n_jobs=2).fit(X, y)
print("CNN best:", search.best_params_, f"cv accuracy {search.best_score_:.4f}")

logreg = Pipeline([("scale", PixelScaler()), ("clf", LogisticRegression(max_iter=200))])
search_lr = GridSearchCV(logreg, {"clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
print(
    "LogReg best:", search_lr.best_params_, f"cv accuracy {search_lr.best_score_:.4f}"
)
