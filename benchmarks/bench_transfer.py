"""Transfer to a shop's own labels: a trained network against a fit from scratch.

Two tasks, each learnt from 50, 200 and 1,000 training images per class
(a seeded random draw), scored on all test images of those classes:

- **new classes**: the default network pretrained on the training images of
  classes 0-4 (T-shirt/top ... Coat); then classes 5-9 (Sandal ... Ankle
  boot), which it never saw;
- **coarse labels**: the shipped model (``FashionCNNClassifier.pretrained()``,
  all ten classes) learns four coarse ones: tops (T-shirt/top, Pullover,
  Dress, Coat, Shirt), bottoms (Trouser), footwear (Sandal, Sneaker, Ankle
  boot), bags (Bag).

Each is fitted three ways with the same data and epochs (20 epochs, batch
64): from scratch and ``init_from=`` the trained model (all layers train),
both at the default rate 3e-3; and ``init_from=..., freeze='features'``
(only the last layer trains) at 3e-2. The rates were chosen, not tuned.

    FASHIONCLF_DATA=../shared/data/fashion-mnist python benchmarks/bench_transfer.py

Writes ``benchmarks/results/<machine>/<commit>-<date>-transfer.json`` and prints a
Markdown table.
Fit times are wall-clock seconds on this machine, with 2 torch threads.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
from fashionclf.evaluation.results import write_record

RESULTS = Path(__file__).resolve().parent / "results"
COARSE = {
    0: "tops",
    2: "tops",
    3: "tops",
    4: "tops",
    6: "tops",
    1: "bottoms",
    5: "footwear",
    7: "footwear",
    9: "footwear",
    8: "bags",
}
#: The small fits: the same for every variant.
SMALL_FIT = dict(max_epochs=20, batch_size=64, random_state=0)


def _draw(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), per_class, replace=False)
            for c in np.unique(y)
        ]
    )


def _variants(source):
    """The three fits; each at one learning rate, chosen, not tuned."""
    yield "scratch", {}
    yield "init_from", {"init_from": source}
    # the last layer alone takes few steps of a small rate to move: 10x the rate
    yield "init_from + freeze", {"init_from": source, "freeze": "features", "lr": 0.03}


def _task(name, source, X, y, Xt, yt, sizes, seed) -> list[dict]:
    rows = []
    for per_class in sizes:
        idx = _draw(y, per_class, seed)
        for variant, params in _variants(source):
            clf = FashionCNNClassifier(**SMALL_FIT, **params)
            t0 = time.perf_counter()
            clf.fit(X[idx], y[idx])
            fit_s = time.perf_counter() - t0
            acc = float(clf.score(Xt, yt))
            rows.append(
                dict(
                    task=name,
                    per_class=per_class,
                    n_train=len(idx),
                    variant=variant,
                    accuracy=round(acc, 4),
                    fit_s=round(fit_s, 1),
                )
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="JSON goes here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    X, y, Xt, yt = (np.asarray(a) for a in (X, y, Xt, yt))

    low, low_t = y < 5, yt < 5
    t0 = time.perf_counter()
    five = FashionCNNClassifier(max_epochs=args.pretrain_epochs, random_state=0)
    five.fit(X[low], y[low])
    pretrain = {
        "classes": "0-4",
        "n_train": int(low.sum()),
        "epochs": args.pretrain_epochs,
        "fit_s": round(time.perf_counter() - t0, 1),
        "accuracy_on_0_4": round(float(five.score(Xt[low_t], yt[low_t])), 4),
    }
    print("pretrained on classes 0-4:", pretrain, flush=True)
    rows = _task(
        "new classes 5-9",
        five,
        X[~low],
        y[~low],
        Xt[~low_t],
        yt[~low_t],
        args.sizes,
        args.seed,
    )
    coarse, coarse_t = (np.vectorize(COARSE.get)(a) for a in (y, yt))
    rows += _task(
        "coarse labels (4)",
        FashionCNNClassifier.pretrained(),
        X,
        coarse,
        Xt,
        coarse_t,
        args.sizes,
        args.seed,
    )
    table = pd.DataFrame(rows).pivot_table(
        index=["task", "per_class"],
        columns="variant",
        values=["accuracy", "fit_s"],
        sort=False,
    )
    print(table.to_markdown())
    summary = {"small_fit": SMALL_FIT, "pretrain": pretrain}
    print("wrote", write_record("transfer", rows, root=args.out_dir, summary=summary))


if __name__ == "__main__":
    main()
