"""Where the inference time goes: torch.profiler over predict, float32 and int8.

Fits the default network for one epoch on the bundled sample (the weights do
not change the speed), then profiles ``predict_proba`` on 10,000 images at
batch 256 with ``quantize=False`` and ``quantize=True``.

    .venv/bin/python benchmarks/profile_inference.py
"""

import argparse

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from fashionclf import FashionCNNClassifier, load_sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_sample(subset="all", return_X_y=True)
    Xt = np.tile(X, (4, 1))[:10000]
    clf = FashionCNNClassifier(max_epochs=1, random_state=0, quantize=True)
    clf.fit(X[:512], y[:512])
    for quantize in (False, True):
        clf.set_params(quantize=quantize)
        clf.predict_proba(Xt[:512])  # warm up (and build the int8 graph)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            clf.predict_proba(Xt)
        print(f"== predict_proba, 10,000 images, {'int8' if quantize else 'float32'}")
        print(
            prof.key_averages().table(
                sort_by="self_cpu_time_total", row_limit=args.rows
            )
        )


if __name__ == "__main__":
    main()
