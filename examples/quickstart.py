"""Quickstart: fit the CNN, compare with the shipped model, save and reload
========================================================================

The 2,000 training and 500 test images bundled with fashionclf are real
Fashion-MNIST images, so this runs anywhere in under a minute. With the full
data (``fetch_fashion_mnist``, 60,000 images) the same default fit takes
minutes and scores about 94%; the shipped model was trained that way.

Run it::

    python examples/quickstart.py
"""

from sklearn.metrics import classification_report

from fashionclf import CLASS_NAMES, FashionCNNClassifier, load_sample
from fashionclf.evaluation.plotting import plot_misclassified, save

# the full data instead: fetch_fashion_mnist(subset="train", return_X_y=True)
X_train, y_train = load_sample(subset="train", return_X_y=True)
X_test, y_test = load_sample(subset="test", return_X_y=True)

clf = FashionCNNClassifier(random_state=0)  # the default: 10 epochs
clf.fit(X_train, y_train)
print(f"fitted here on {len(X_train):,} images: {clf.score(X_test, y_test):.4f}")

# %%
# The shipped model was fitted the same way on all 60,000 training images.
model = FashionCNNClassifier.pretrained()
print(f"the shipped model: {model.score(X_test, y_test):.4f}")
print(
    classification_report(
        y_test, model.predict(X_test), target_names=list(CLASS_NAMES), digits=3
    )
)

# %%
# Its most confident mistakes on these 500 test images:
save(
    plot_misclassified(X_test, y_test, model.predict_proba(X_test), n=16),
    "mistakes.png",
)

# %%
# Model files hold weights and parameters only: loading one never runs code.
clf.save("quickstart_model.safetensors")
reloaded = FashionCNNClassifier.load("quickstart_model.safetensors")
assert (reloaded.predict(X_test) == clf.predict(X_test)).all()
print("saved and reloaded quickstart_model.safetensors")
