"""Quickstart: load Fashion-MNIST, fit the CNN, report, save and reload
====================================================================

Run it::

    python examples/quickstart.py            # full data (set FASHIONCLF_DATA)
    FASHIONCLF_SMOKE=1 python examples/quickstart.py   # bundled sample, 1 epoch
"""

import os

from sklearn.metrics import classification_report

from fashionclf import (
    CLASS_NAMES,
    FashionCNNClassifier,
    fetch_fashion_mnist,
    load_sample,
)

SMOKE = os.environ.get("FASHIONCLF_SMOKE") == "1"

if SMOKE:
    X_train, y_train = load_sample(subset="train", return_X_y=True)
    X_test, y_test = load_sample(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(max_epochs=1, width=8, random_state=0)
else:
    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(random_state=0, verbose=1)

clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.4f}")
print(
    classification_report(
        y_test, clf.predict(X_test), target_names=list(CLASS_NAMES), zero_division=0
    )
)

clf.save("quickstart_model.pt")  # weights-only: loading it never runs code
reloaded = FashionCNNClassifier.load("quickstart_model.pt")
assert (reloaded.predict(X_test[:100]) == clf.predict(X_test[:100])).all()
print("saved and reloaded quickstart_model.pt")
