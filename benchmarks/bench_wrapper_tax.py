"""The wrapper's cost: FashionCNNClassifier vs an identical plain-PyTorch loop, back to back.

Same network (Standardized BlockCNN, channels-last), same data tensors, batch
size, epochs, AdamW, one-cycle schedule and the same batched augmentation
function. Runs A/B/A/B... and prints the median time ratio (target <= 1.05).

    .venv/bin/python benchmarks/bench_wrapper_tax.py --n-images 12000 --epochs 2 --reps 2
"""

import argparse
import statistics
import time

import numpy as np
import torch

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
from fashionclf._estimator.schedule import schedule_factor
from fashionclf._estimator.training import augment
from fashionclf.networks import BlockCNN, Standardized


def plain_loop(
    X: np.ndarray, y: np.ndarray, epochs: int, batch: int, seed: int
) -> float:
    torch.manual_seed(seed)
    Xt = torch.from_numpy(X.astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    yt = torch.from_numpy(y.astype(np.int64))
    t0 = time.perf_counter()
    model = Standardized(BlockCNN(), Xt.mean().item(), Xt.std().item())
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps, total = 0, epochs * -(-len(yt) // batch)
    for _ in range(epochs):
        model.train()
        gen = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        order = torch.randperm(len(yt), generator=gen)
        for b in range(0, len(yt), batch):
            idx = order[b : b + batch]
            xb = augment(Xt[idx], True, 2, gen).contiguous(
                memory_format=torch.channels_last
            )
            for g in opt.param_groups:
                g["lr"] = 3e-3 * schedule_factor("onecycle", steps / total)
            loss = loss_fn(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # skorch records every batch loss; so does the plain loop
            steps += 1
    return time.perf_counter() - t0


def wrapped(X: np.ndarray, y: np.ndarray, epochs: int, batch: int, seed: int) -> float:
    t0 = time.perf_counter()
    FashionCNNClassifier(max_epochs=epochs, batch_size=batch, random_state=seed).fit(
        X, y
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-images", type=int, default=12000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    X, y = X[: args.n_images], y[: args.n_images]
    plain_loop(X[:512], y[:512], 1, 256, 0)  # warm up oneDNN kernels once
    ratios, tw, tp = [], [], []
    for rep in range(args.reps):
        a = wrapped(X, y, args.epochs, 256, rep)
        b = plain_loop(X, y, args.epochs, 256, rep)
        tw.append(a)
        tp.append(b)
        ratios.append(a / b)
        print(
            f"rep {rep}: FashionCNNClassifier {a:.1f} s, plain loop {b:.1f} s, "
            f"ratio {a / b:.3f}",
            flush=True,
        )
    print(
        f"wrapper tax: median ratio {statistics.median(ratios):.3f} "
        f"(n={len(ratios)}; wrapper median {statistics.median(tw):.1f} s, "
        f"plain median {statistics.median(tp):.1f} s; target <= 1.05)"
    )


if __name__ == "__main__":
    main()
