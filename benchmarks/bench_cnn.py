"""Train a CNN preset on the full shared Fashion-MNIST and report the figures.

Usage (from the repository root)::

    FASHIONCLF_DATA=../shared/data/fashion-mnist \
        .venv/bin/python benchmarks/bench_cnn.py --preset default --seeds 0 1 2

Prints test accuracy (also with flip TTA toggled), fit seconds, predict
images/s (batch 256) and single-image latency per seed, then mean ± std and
the ratio to the preset's target; ``--int8`` fits with
``quantize=True`` and reports the int8 figures beside the float32 ones.
Writes ``benchmarks/results/<machine>/<commit>-<date>-cnn-PRESET.json``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from fashionclf import fetch_fashion_mnist
from fashionclf.evaluation.results import write_record
from fashionclf.presets import make_cnn

HERE = Path(__file__).resolve().parent

TARGETS = {"default": (0.940, 600), "fast": (0.925, 120), "best": (0.950, 2700)}


def _evaluate(clf, Xt, yt) -> dict:
    """Test accuracy (as configured and with flip TTA toggled), speed, latency."""
    t0 = time.perf_counter()
    acc = float(clf.score(Xt, yt))
    pred_s = time.perf_counter() - t0
    clf.set_params(tta=not clf.tta)
    other = float(clf.score(Xt, yt))
    clf.set_params(tta=not clf.tta)
    lat = []
    for i in range(20):
        t1 = time.perf_counter()
        clf.predict(Xt[i : i + 1])
        lat.append(time.perf_counter() - t1)
    return {
        "test_accuracy": acc,
        "test_accuracy_no_tta" if clf.tta else "test_accuracy_flip_tta": other,
        "predict_img_per_s": len(Xt) / pred_s,
        "single_image_latency_ms": 1000 * float(np.median(lat)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-epochs", type=int, default=None)
    ap.add_argument(
        "--int8",
        action="store_true",
        help="fit with quantize=True; report int8 accuracy and speed as well",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    runs = []
    for seed in args.seeds:
        over = {"random_state": seed, "verbose": 1, "quantize": args.int8}
        if args.max_epochs:
            over["max_epochs"] = args.max_epochs
        clf = make_cnn(args.preset, **over)
        t0 = time.perf_counter()
        clf.fit(X, y)
        fit_s = time.perf_counter() - t0
        run = {"seed": seed, "fit_s": fit_s, "epochs": len(clf.history_)}
        for int8 in (False, True) if args.int8 else (False,):
            clf.set_params(quantize=int8)
            tag = "int8_" if int8 else ""
            run.update({f"{tag}{k}": v for k, v in _evaluate(clf, Xt, yt).items()})
        print(json.dumps(run), flush=True)
        runs.append(run)
    accs = np.array([r["test_accuracy"] for r in runs])
    fits = np.array([r["fit_s"] for r in runs])
    summary = {
        "preset": args.preset,
        "params": make_cnn(args.preset).get_params(),
        "n": len(runs),
        "accuracy_mean": accs.mean(),
        "accuracy_std": accs.std(),
        "fit_s_mean": fits.mean(),
        "fit_s_std": fits.std(),
        **(
            {"int8_accuracy_mean": np.mean([r["int8_test_accuracy"] for r in runs])}
            if args.int8
            else {}
        ),
        "threads": args.threads,
    }
    print(
        f"{args.preset}: accuracy {100 * accs.mean():.2f} ± {100 * accs.std():.2f}% "
        f"(n={len(runs)}), fit {fits.mean():.0f} ± {fits.std():.0f} s"
    )
    if args.preset in TARGETS:
        acc_t, s_t = TARGETS[args.preset]
        print(
            f"target: >= {100 * acc_t:.1f}% in <= {s_t} s; measured/target: "
            f"accuracy {accs.mean() / acc_t:.4f}, fit time {fits.mean() / s_t:.3f} "
            f"({'met' if accs.mean() >= acc_t and fits.mean() <= s_t else 'missed'})"
        )
    path = write_record(
        f"cnn-{args.preset}", runs, root=HERE / "results", summary=summary
    )
    print("wrote", path)


if __name__ == "__main__":
    main()
