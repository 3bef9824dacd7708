"""Where the training time goes: torch.profiler over a few steps of a preset's network.

.venv/bin/python benchmarks/profile_training.py --steps 6
"""

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from fashionclf.networks import BlockCNN, Standardized


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
