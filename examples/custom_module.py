"""Train your own PyTorch network with FashionCNNClassifier
========================================================

The estimator keeps everything around the network (pixel scaling,
standardization, augmentation, the learning-rate schedule, early stopping,
model files, scikit-learn searches); ``module`` swaps the network itself.

Run it::

    python examples/custom_module.py

On the 2,000 bundled training images, 5 epochs per fit.
"""

import tempfile
from pathlib import Path

import torch
from sklearn.model_selection import GridSearchCV

from fashionclf import FashionCNNClassifier, load_sample
from fashionclf.evaluation.plotting import plot_learning_curves, save
from fashionclf.networks import Dropout


class WideShallow(torch.nn.Module):
    """One wide convolution, max-pooling, dropout and a linear layer.

    ``input_shape`` and ``n_classes`` are filled in by the estimator (the
    signature asks for them); ``channels`` comes from ``module_params``.
    """

    def __init__(self, input_shape, n_classes, channels=32):
        super().__init__()
        c, h, w = input_shape
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(c, channels, 5, padding=2),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(4),
        )
        # fashionclf's Dropout draws from the fit's own generator, so fits in
        # parallel threads stay reproducible (torch.nn.Dropout works too)
        self.head = torch.nn.Sequential(
            torch.nn.Flatten(),
            Dropout(0.2),
            torch.nn.Linear(channels * (h // 4) * (w // 4), n_classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


def main() -> None:
    # the class imported by name, so a model file can refer to it
    from custom_module import WideShallow

    X, y = load_sample(return_X_y=True)
    Xt, yt = load_sample(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(module=WideShallow, max_epochs=5, random_state=0)
    search = GridSearchCV(
        clf, {"module_params": [{"channels": 8}, {"channels": 32}]}, cv=2
    ).fit(X, y)
    best = search.best_estimator_
    print(f"best module_params: {search.best_params_['module_params']}")
    print(f"test accuracy: {best.score(Xt, yt):.3f}")
    save(plot_learning_curves(best.history_, title="WideShallow"), "wide_shallow.png")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide_shallow.safetensors"
        best.save(path)  # weights + the import path 'custom_module:WideShallow'
        loaded = FashionCNNClassifier.load(
            path, trusted_modules=["custom_module:WideShallow"]
        )
        same = (loaded.predict(Xt) == best.predict(Xt)).all()
        print(f"reloaded from {path.name} (weights only, no pickle): same = {same}")


if __name__ == "__main__":
    main()
