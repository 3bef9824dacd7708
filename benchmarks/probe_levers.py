"""Proxy ablation of speed-run levers that are not library parameters (issue 26).

Usage (from the repository root, nothing else running on the machine)::

    FASHIONCLF_DATA=../shared/data/fashion-mnist \\
        .venv/bin/python benchmarks/probe_levers.py --train-size 15000 \\
        --max-epochs 5 --seeds 0 1 --rows base whiten bn_bias_lr=8 ...

Each row is one lever on top of a preset (``--preset``, default
``default:lr=0.006``), applied by patching the library inside a fresh child
process of :mod:`bench_time_to_accuracy` (the same subset, fit, evaluation
and FLOP count), so a lever can be measured before it earns a parameter.
Levers (``NAME`` or ``NAME=VALUE``; several joined with ``+``):

- ``base``: nothing patched.
- ``whiten``: the stem convolution frozen to patch whitening: the top 8
  eigenvectors of the 3x3 patch covariance of the training images, both
  signs (16 filters), scaled by ``1/sqrt(eigenvalue + 1e-2)``. (Commit
  4764d65 had it as a parameter, ``stem='whitened'``, removed again because
  it did not pay: ``benchmarks/RESULTS.md``.)
- ``bn_noscale``: batch-norm scales frozen at 1 (only their biases train).
- ``bn_bias_lr=K``: batch-norm biases at K times the learning rate, no
  weight decay.
- ``linear``: warm-up over the first 10% of steps, then a linear decay to 0
  (instead of one-cycle's 25% cosine warm-up and cosine anneal).
- ``warmup=P``: one-cycle with a warm-up over fraction P of the steps.
- ``resize=K/S``: the first K epochs on random SxS crops of each batch.
- ``preset=SPEC``: this row fits ``SPEC`` instead of ``--preset`` (for
  example ``preset=default:lr=0.012,batch_size=512``, or
  ``preset=reference`` for the ratio's denominator in the same run).

Writes JSON lines of the children's results to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def parse_levers(row: str) -> dict[str, str]:
    """``'whiten+bn_bias_lr=8'`` -> ``{'whiten': '', 'bn_bias_lr': '8'}``."""
    levers = {}
    for item in filter(None, row.split("+")):
        key, _, value = item.partition("=")
        levers[key] = value
    return levers


def whitening_filters(X: np.ndarray, n_pairs: int = 8, eps: float = 1e-2):
    """``(2 * n_pairs, 1, 3, 3)`` whitening filters of the images ``X``."""
    import torch

    images = torch.as_tensor(X[:10000], dtype=torch.float32).reshape(-1, 1, 28, 28)
    images = (images / 255 - images.mean() / 255) / (images.std() / 255)
    patches = torch.nn.functional.unfold(images, 3).transpose(1, 2).reshape(-1, 9)
    patches = patches - patches.mean(0)
    cov = patches.T @ patches / len(patches)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    values, vectors = values.flip(0)[:n_pairs], vectors.flip(1)[:, :n_pairs]
    filters = (vectors / torch.sqrt(values + eps)).T.reshape(n_pairs, 1, 3, 3)
    return torch.cat([filters, -filters])


def install(levers: dict[str, str]) -> None:
    """Patch the library for ``levers`` (in this child process only)."""
    import torch

    from fashionclf import FashionCNNClassifier
    from fashionclf._estimator import schedule, training

    if "whiten" in levers:
        fit = FashionCNNClassifier.fit
        initialize = training.Net.initialize_module

        def fit_capturing(self, X, y=None, **kw):
            training.Net._probe_filters = whitening_filters(np.asarray(X))
            return fit(self, X, y, **kw)

        def initialize_whitened(self):
            initialize(self)
            stem = self.module_.net.features[0]
            with torch.no_grad():
                stem.weight.copy_(training.Net._probe_filters)
            stem.weight.requires_grad_(False)
            return self

        FashionCNNClassifier.fit = fit_capturing
        training.Net.initialize_module = initialize_whitened

    bn_scale = float(levers.get("bn_bias_lr") or 1)
    if "bn_noscale" in levers or "bn_bias_lr" in levers:
        init_opt = training.Net.initialize_optimizer

        def initialize_optimizer(self, *args, **kwargs):
            init_opt(self, *args, **kwargs)
            norms = [
                m for m in self.module_.modules() if isinstance(m, torch.nn.BatchNorm2d)
            ]
            if "bn_noscale" in levers:
                for m in norms:
                    torch.nn.init.ones_(m.weight)
                    m.weight.requires_grad_(False)
            biases = {id(m.bias) for m in norms}
            rest = [
                p
                for p in self.module_.parameters()
                if p.requires_grad and id(p) not in biases
            ]
            self.optimizer_.param_groups[0]["params"] = rest
            self.optimizer_.add_param_group(
                {
                    "params": [m.bias for m in norms],
                    "lr_scale": bn_scale,
                    "weight_decay": 0.0,
                }
            )
            return self

        training.Net.initialize_optimizer = initialize_optimizer

        set_lr = schedule.LRSchedule.on_batch_begin

        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            set_lr(self, net, batch=batch, training=training, **kwargs)
            if training:
                for group in net.optimizer_.param_groups:
                    group["lr"] *= group.get("lr_scale", 1.0)

        schedule.LRSchedule.on_batch_begin = on_batch_begin

    if "linear" in levers:

        def linear(kind, frac):
            frac = min(max(frac, 0.0), 1.0)
            if frac < 0.1:
                return 1 / 25 + (1 - 1 / 25) * frac / 0.1
            return max(1e-4, (1 - frac) / 0.9)

        schedule.schedule_factor = linear
    if "warmup" in levers:
        pct = float(levers["warmup"])

        def onecycle(kind, frac):
            frac = min(max(frac, 0.0), 1.0)
            start, end = 1 / 25, 1e-4
            if frac < pct:
                t = frac / pct
                return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * t))
            t = (frac - pct) / (1 - pct)
            return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))

        schedule.schedule_factor = onecycle

    if "resize" in levers:
        k, s = (int(v) for v in levers["resize"].split("/"))
        state = {"epoch": 0}
        generator = training.Net._batch_generator
        augment = training.augment

        def batch_generator(self, device):
            state["epoch"] = len(self.history) - 1  # skorch opened the row
            return generator(self, device)

        def augment_cropped(X, flip, max_shift, gen):
            X = augment(X, flip, max_shift, gen)
            if state["epoch"] >= k:
                return X
            h = X.shape[-2]
            i, j = (int(v) for v in torch.randint(0, h - s + 1, (2,), generator=gen))
            return X[:, :, i : i + s, j : j + s].contiguous()

        training.Net._batch_generator = batch_generator
        training.augment = augment_cropped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", nargs="+", default=["base"])
    ap.add_argument("--preset", default="default:lr=0.006")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-size", type=int, default=15000)
    ap.add_argument("--max-epochs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "levers.jsonl")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    import bench_time_to_accuracy as bench

    if args.child:
        row, seed = args.child
        levers = parse_levers(row)
        preset = levers.pop("preset", args.preset)
        install(levers)
        result = bench.child(preset, int(seed), args)
        print(json.dumps({**result, "row": row}))
        return
    print("machine:", bench.machine(), flush=True)
    results = []
    for seed in args.seeds:
        rows = args.rows if seed % 2 == 0 else args.rows[::-1]
        for row in rows:
            cmd = [sys.executable, __file__, "--child", row, str(seed)]
            for flag in ("preset", "threads", "train_size", "max_epochs"):
                cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise SystemExit(f"row {row} seed {seed} failed:\n{out.stderr}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(result)
            print(json.dumps(result), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in results))
    for row in args.rows:
        rs = [r for r in results if r["row"] == row]
        accs = [100 * r["test_accuracy"] for r in rs]
        tta = [100 * r["test_accuracy_tta_toggled"] for r in rs]
        fit = [r["fit_s"] for r in rs]
        print(
            f"{row:24s} accuracy {np.mean(accs):.2f} ({', '.join(f'{a:.2f}' for a in accs)})"
            f"  flip TTA {np.mean(tta):.2f}  fit {np.median(fit):.1f} s"
            f"  (n={len(rs)}, {args.preset}, {args.train_size} images, "
            f"{args.max_epochs} epochs)"
        )


if __name__ == "__main__":
    main()
