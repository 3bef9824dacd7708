"""Where the training time goes: torch.profiler over training steps or a real epoch.

Steps of the reference network on a fixed batch (no data pipeline):

    .venv/bin/python benchmarks/profile_training.py --steps 6

One epoch of a preset as ``fit`` runs it (batches, augmentation, optimizer,
callbacks), on the first ``--train-size`` training images:

    FASHIONCLF_DATA=../shared/data/fashion-mnist .venv/bin/python \\
        benchmarks/profile_training.py --epoch --preset default \\
        --precision bfloat16 --train-size 20000
"""

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from fashionclf.networks import BlockCNN, Standardized


def _steps(args) -> profile:
    torch.manual_seed(0)
    model = Standardized(BlockCNN()).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    x = torch.rand(256, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (256,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    return prof


def _epoch(args) -> profile:
    from fashionclf import fetch_fashion_mnist
    from fashionclf.presets import make_cnn

    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    X, y = X[: args.train_size], y[: args.train_size]
    over = {"max_epochs": 1, "random_state": 0, "num_threads": args.threads}
    if args.precision:
        over["precision"] = args.precision
    make_cnn(args.preset, **over).fit(X[:512], y[:512])  # warm-up (kernels, caches)
    clf = make_cnn(args.preset, **over)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        clf.fit(X, y)
    print(
        f"one epoch of '{args.preset}' ({clf.precision_}) on {len(y):,} images: "
        f"{time.perf_counter() - t0:.1f} s under the profiler "
        f"({clf.history_[-1]['dur']:.1f} s by skorch's clock)"
    )
    return prof


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument(
        "--epoch", action="store_true", help="profile one epoch of --preset's fit"
    )
    ap.add_argument("--preset", default="default")
    ap.add_argument("--precision", default=None, help="override the preset's")
    ap.add_argument("--train-size", type=int, default=20000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prof = _epoch(args) if args.epoch else _steps(args)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
