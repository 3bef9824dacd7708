"""Batch-norm statistics at the end of a fit: running averages vs recomputed.

A fit now ends by recomputing the batch-norm statistics for the final
weights (:func:`fashionclf.networks.settle_batch_norm`). Each fit here is
scored twice, from one training run: with the running averages training
left behind (captured by a callback when training ends, before the
recomputation) and with the recomputed statistics (the fitted model).

- the bundled sample (2,000 training images, 1,000 test): the default
  network for 1, 2, 5 and 10 epochs, seeds 0-2;
- with ``--full``: the default network, 10 epochs, all 60,000 training
  images, scored on the 10,000 test images (about 7 minutes on 2 cores).

    FASHIONCLF_DATA=../shared/data/fashion-mnist python benchmarks/bench_bn_settle.py --full

Writes ``benchmarks/results/<machine>/<commit>-<date>-bn-settle.json`` and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from skorch.callbacks import Callback

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist, load_sample
from fashionclf.evaluation.results import write_record

RESULTS = Path(__file__).resolve().parent / "results"


class RunningStatistics(Callback):
    """Keep a copy of the network as training leaves it (running averages)."""

    def on_train_end(self, net, **kwargs) -> None:
        self.module_ = copy.deepcopy(net.module_).eval()


def _accuracy(module, X, y) -> float:
    images = torch.as_tensor(np.asarray(X), dtype=torch.float32).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        pred = torch.cat([module(b / 255) for b in images.split(2048)]).argmax(1)
    return float((pred.numpy() == np.asarray(y)).mean())


def _row(data, epochs, seed, X, y, Xt, yt) -> dict:
    keep = RunningStatistics()
    clf = FashionCNNClassifier(
        max_epochs=epochs, random_state=seed, callbacks=[("keep", keep)]
    )
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    row = dict(
        data=data,
        epochs=epochs,
        seed=seed,
        running=round(_accuracy(keep.module_, Xt, yt), 4),
        recomputed=round(float(clf.score(Xt, yt)), 4),
        fit_s=round(fit_s, 1),
    )
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="JSON goes here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    X, y = load_sample(return_X_y=True)
    Xt, yt = load_sample(subset="test", return_X_y=True)
    rows = [
        _row("sample (2,000)", epochs, seed, X, y, Xt, yt)
        for epochs in (1, 2, 5, 10)
        for seed in range(3)
    ]
    if args.full:
        X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
        Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
        rows.append(_row("full (60,000)", 10, 0, X, y, Xt, yt))
    table = pd.DataFrame(rows)
    summary = table.groupby(["data", "epochs"], sort=False)[
        ["running", "recomputed"]
    ].agg(["mean", "std"])
    print(summary.round(4).to_markdown())
    print("wrote", write_record("bn-settle", rows, root=args.out_dir))


if __name__ == "__main__":
    main()
