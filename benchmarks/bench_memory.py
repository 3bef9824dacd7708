"""Memory targets: the full dataset from the cache (<= 0.2 s) and peak RSS while fitting (<= 2 GB).

FASHIONCLF_DATA=../shared/data/fashion-mnist .venv/bin/python benchmarks/bench_memory.py
"""

import argparse
import statistics
import time

from fashionclf import fetch_fashion_mnist
from fashionclf.evaluation.memory import peak_rss_mb, reset_peak_rss
from fashionclf.presets import make_cnn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument(
        "--max-epochs",
        type=int,
        default=1,
        help="memory does not grow per epoch; one epoch shows the peak",
    )
    args = ap.parse_args()
    fetch_fashion_mnist(subset="all")  # make sure the cache exists
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        fetch_fashion_mnist(subset="train", return_X_y=True)
        fetch_fashion_mnist(subset="test", return_X_y=True)
        times.append(time.perf_counter() - t0)
    print(
        f"full dataset (train + test) from the cache: median {statistics.median(times):.3f} s "
        f"over 5 loads (target <= 0.2 s; ratio {statistics.median(times) / 0.2:.2f})"
    )
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    if not reset_peak_rss():
        print(
            "this kernel keeps the old peak: the figure below counts from the process start"
        )
    make_cnn(args.preset, max_epochs=args.max_epochs, random_state=0).fit(X, y)
    peak = peak_rss_mb()
    print(
        f"peak RSS while fitting '{args.preset}' on {len(X)} images: {peak:,.0f} MB "
        f"(target <= 2,048 MB; ratio {peak / 2048:.2f})"
    )


if __name__ == "__main__":
    main()
