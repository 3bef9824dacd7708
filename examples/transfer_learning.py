"""Transfer the shipped model to a shop's own labels
===================================================

A shop sorts its catalogue into four categories (tops, bottoms, footwear,
bags). Starting from the model that ships with fashionclf
(``init_from=``), only the last layer is trained (``freeze='features'``),
against a network trained from scratch on the same few images.

Run it::

    python examples/transfer_learning.py
"""

import numpy as np
from matplotlib.figure import Figure

from fashionclf import FashionCNNClassifier, load_sample
from fashionclf.evaluation.plotting import save

X, y = load_sample(return_X_y=True)
X_test, y_test = load_sample(subset="test", return_X_y=True)

# the shop's categories for the ten Fashion-MNIST classes
TOPS, BOTTOMS, FOOTWEAR, BAGS = "tops", "bottoms", "footwear", "bags"
SHOP = np.array(
    [TOPS, BOTTOMS, TOPS, TOPS, TOPS, FOOTWEAR, TOPS, FOOTWEAR, BAGS, FOOTWEAR]
)
labels, labels_test = SHOP[np.asarray(y)], SHOP[np.asarray(y_test)]

# a few labelled pictures per category
rng = np.random.default_rng(0)
per_category = 25
rows = np.concatenate(
    [
        rng.choice(np.flatnonzero(labels == c), per_category, replace=False)
        for c in np.unique(labels)
    ]
)

common = dict(max_epochs=20, batch_size=64, random_state=0)
scratch = FashionCNNClassifier(**common).fit(X[rows], labels[rows])
# the last layer alone learns fast only at a higher rate
transfer = FashionCNNClassifier(
    init_from=FashionCNNClassifier.pretrained(), freeze="features", **common, lr=0.03
).fit(X[rows], labels[rows])

print(f"{len(rows)} training pictures, classes {transfer.classes_.tolist()}")
print(f"from scratch: {scratch.score(X_test, labels_test):.3f}")
accuracy = transfer.score(X_test, labels_test)
print(f"from the shipped model, last layer only: {accuracy:.3f}")

# %%
fig = Figure(figsize=(5, 2.4))
ax = fig.add_subplot()
scores = [scratch.score(X_test, labels_test), accuracy]
ax.barh(["from scratch", "from the shipped model"], [100 * a for a in scores])
for k, a in enumerate(scores):
    ax.text(100 * a + 1, k, f"{100 * a:.1f}%", va="center")
ax.set_xlim(0, 110)
ax.set_xlabel(f"test accuracy, 4 categories (%), {len(rows)} training pictures")
fig.tight_layout()
save(fig, "transfer.png")
