"""Time to accuracy: presets side by side against the frozen 'reference' preset.

Usage (from the repository root, nothing else running on the machine)::

    FASHIONCLF_DATA=../shared/data/fashion-mnist \\
        .venv/bin/python benchmarks/bench_time_to_accuracy.py \\
        --presets reference default --seeds 0 1 2

Every fit runs in a fresh Python process (so no allocator state, thread pool
or cache carries from one fit to the next), and the order of the presets
alternates from seed to seed. For each preset it prints test accuracy (as
configured and with flip TTA toggled), fit seconds, predict img/s at batch
256, and in machine-independent terms: training FLOPs per image
(``torch.utils.flop_counter``), total training TFLOPs, achieved GFLOP/s and
its share of the conv ceiling of its precision (fp32, or bf16 under
autocast) measured in the same run. Then the fit
time ratio to 'reference' (median over seeds, each seed's pair run back to
back; with ``--reference-seeds`` a seed without a reference fit is compared
to the median reference fit) and the accuracy difference. Writes ``benchmarks/results/<machine>/<commit>-<date>-time-to-accuracy.json``
(``fashionclf.evaluation.results.write_record``).

``--train-size N`` (a stratified subset) and ``--max-epochs E`` make a proxy
run for ablations; a proxy's figures are labelled as such. A preset may
carry overrides, for one ablation row: ``default:precision=bfloat16`` or
``fast:max_epochs=4,lr=0.005`` (values read as Python literals, else text).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def machine() -> dict:
    """CPU model, the flags that matter for torch kernels, versions."""
    import torch

    info = {"cpu": platform.processor() or platform.machine(), "flags": []}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            info["cpu"] = value.strip()
        if key.strip() == "Flags":
            info["flags"] = [f for f in FLAGS if f in value.split()]
    info["torch"] = torch.__version__
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["python"] = platform.python_version()
    return info


def conv_ceiling(threads: int, dtype: str = "float32") -> float:
    """GFLOP/s of a 3x3 64->64 conv, 28x28, batch 256, channels-last.

    ``dtype='bfloat16'`` runs it under CPU autocast, as ``precision='bfloat16'``
    trains.
    """
    import torch

    torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(256, 64, 28, 28).contiguous(memory_format=torch.channels_last)
    flops = 2 * 256 * 64 * 64 * 9 * 28 * 28
    times = []
    bf16 = dtype == "bfloat16"
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        for _ in range(6):
            t0 = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - t0)
    return flops / statistics.median(times[1:]) / 1e9


def train_flops_per_image(clf) -> float:
    """FLOPs of one training step (forward + backward) per image, batch 256."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    module = clf.net_.module_
    module.train()
    x = torch.zeros(256, *clf.image_shape_)
    y = torch.zeros(256, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(module(x), y).backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 256


def parse_preset(spec: str) -> tuple[str, dict]:
    """``'name:key=value,...'`` -> the preset's name and its overrides."""
    import ast

    name, _, rest = spec.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--presets {spec!r}: expected NAME:KEY=VALUE,...")
        try:
            overrides[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key] = text
    return name, overrides


def child(preset: str, seed: int, args) -> dict:
    """One fit and its evaluation, in this (fresh) process."""
    import torch
    from sklearn.model_selection import train_test_split

    from fashionclf import fetch_fashion_mnist
    from fashionclf.presets import make_cnn

    torch.set_num_threads(args.threads)
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    if args.train_size and args.train_size < len(y):
        X, _, y, _ = train_test_split(
            X, y, train_size=args.train_size, stratify=y, random_state=0
        )
    over = {"random_state": seed, "verbose": 0}
    if args.max_epochs:
        over["max_epochs"] = args.max_epochs
    name, extra = parse_preset(preset)
    clf = make_cnn(name, **{**extra, **over})
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float(clf.score(Xt, yt))
    predict_s = time.perf_counter() - t0
    clf.set_params(tta=not clf.tta)
    acc_other = float(clf.score(Xt, yt))
    clf.set_params(tta=not clf.tta)
    epochs = len(clf.history_)
    flops = train_flops_per_image(clf)
    total = flops * len(y) * epochs
    return {
        "preset": preset,
        "precision": clf.precision_,
        "seed": seed,
        "n_train": len(y),
        "epochs": epochs,
        "fit_s": fit_s,
        "epoch_s": [float(r["dur"]) for r in clf.history_],
        "test_accuracy": acc,
        "test_accuracy_tta_toggled": acc_other,
        "tta": bool(clf.tta),
        "predict_img_per_s": len(yt) / predict_s,
        "train_mflop_per_image": flops / 1e6,
        "train_tflop_total": total / 1e12,
        "achieved_gflop_per_s": total / fit_s / 1e9,
        **onnxruntime_predict(clf, Xt, yt, args.threads),
    }


def onnxruntime_predict(clf, Xt, yt, threads: int) -> dict:
    """Accuracy and img/s of ``clf`` exported to ONNX, run by onnxruntime.

    float32 (the exported graph of every precision is float32), batch 256,
    ``threads`` intra-op threads; the best of two passes over ``Xt``. Empty
    when onnxruntime or the exporter is not installed (``fashionclf[onnx]``).
    """
    import importlib.util
    import tempfile

    if not all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnxscript")):
        return {}
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        path = clf.export(Path(tmp) / "model.onnx")
        session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
    X = np.asarray(Xt, dtype=np.float32)
    seconds = []
    for _ in range(2):
        t0 = time.perf_counter()
        proba = np.concatenate(
            [
                session.run(None, {"pixels": X[i : i + 256]})[0]
                for i in range(0, len(X), 256)
            ]
        )
        seconds.append(time.perf_counter() - t0)
    predicted = clf.classes_[proba.argmax(axis=1)]
    return {
        "onnxruntime_test_accuracy": float(np.mean(predicted == np.asarray(yt))),
        "onnxruntime_predict_img_per_s": len(X) / min(seconds),
    }


def run_child(preset: str, seed: int, args) -> dict:
    cmd = [sys.executable, __file__, "--child", preset, str(seed)]
    cmd += ["--threads", str(args.threads)]
    if args.train_size:
        cmd += ["--train-size", str(args.train_size)]
    if args.max_epochs:
        cmd += ["--max-epochs", str(args.max_epochs)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"fit of {preset} seed {seed} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return f"{values.mean():.4g} (n=1)"
    return f"{values.mean():.4g} ± {values.std(ddof=1):.2g} (n={len(values)})"


def summarize(runs: list[dict], presets: list[str], ceilings: dict) -> dict:
    by = {p: [r for r in runs if r["preset"] == p] for p in presets}
    ref = {r["seed"]: r for r in by.get("reference", [])}
    summary = {}
    for p, rs in by.items():
        ceiling = ceilings.get(rs[0].get("precision"), ceilings["float32"])
        ref_median = np.median([r["fit_s"] for r in ref.values()]) if ref else None
        ratios = [
            r["fit_s"] / (ref[r["seed"]]["fit_s"] if r["seed"] in ref else ref_median)
            for r in rs
            if ref
        ]
        accs = [100 * r["test_accuracy"] for r in rs]
        summary[p] = {
            "n": len(rs),
            "accuracy_mean": float(np.mean(accs)),
            "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
            "fit_s_mean": float(np.mean([r["fit_s"] for r in rs])),
            "predict_img_per_s": float(np.mean([r["predict_img_per_s"] for r in rs])),
            "fit_time_ratio_to_reference_median": (
                float(np.median(ratios)) if ratios else None
            ),
            "fit_time_ratios_to_reference": ratios,
            "share_of_conv_ceiling": float(
                np.mean([r["achieved_gflop_per_s"] for r in rs]) / ceiling
            ),
        }
        print(
            f"{p:10s} accuracy {mean_std(accs)} %  fit {mean_std([r['fit_s'] for r in rs])} s"
            f"  TTA toggled {mean_std([100 * r['test_accuracy_tta_toggled'] for r in rs])} %"
        )
        print(
            f"{'':10s} {rs[0]['train_mflop_per_image']:.1f} MFLOP/img/step, "
            f"{np.mean([r['train_tflop_total'] for r in rs]):.1f} TFLOP per fit, "
            f"{np.mean([r['achieved_gflop_per_s'] for r in rs]):.1f} GFLOP/s "
            f"({100 * summary[p]['share_of_conv_ceiling']:.0f}% of the "
            f"{rs[0].get('precision', 'float32')} conv ceiling), "
            f"predict {np.mean([r['predict_img_per_s'] for r in rs]):,.0f} img/s"
        )
        ref_predict = [r["predict_img_per_s"] for r in ref.values()]
        if "onnxruntime_predict_img_per_s" in rs[0]:
            ort_rate = np.mean([r["onnxruntime_predict_img_per_s"] for r in rs])
            summary[p]["onnxruntime_predict_img_per_s"] = float(ort_rate)
            print(
                f"{'':10s} onnxruntime float32: predict {ort_rate:,.0f} img/s, "
                f"accuracy {mean_std([100 * r['onnxruntime_test_accuracy'] for r in rs])} %"
            )
        if ref_predict and p != "reference":
            torch_rate = np.mean([r["predict_img_per_s"] for r in rs])
            line = f"predict / reference's (torch): torch {torch_rate / np.mean(ref_predict):.2f}x"
            if "onnxruntime_predict_img_per_s" in rs[0]:
                line += f", onnxruntime {ort_rate / np.mean(ref_predict):.2f}x"
            print(f"{'':10s} {line}")
        if ratios and p != "reference":
            print(
                f"{'':10s} fit time / reference: median {np.median(ratios):.3f} "
                f"(per seed {', '.join(f'{x:.3f}' for x in ratios)}); accuracy "
                f"{summary[p]['accuracy_mean'] - summary['reference']['accuracy_mean']:+.2f} pt"
            )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["reference", "default"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--reference-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds to fit 'reference' with (default: --seeds); other presets' "
        "seeds without a reference fit are compared to the median reference",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-size", type=int, default=None)
    ap.add_argument("--max-epochs", type=int, default=None)
    ap.add_argument(
        "--out-dir",
        type=Path,
        default=HERE / "results",
        help="results/<machine>/<commit>-<date>-time-to-accuracy.json goes here",
    )
    ap.add_argument(
        "--child", nargs=2, metavar=("PRESET", "SEED"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args)))
        return
    info = machine()
    ceilings = {d: conv_ceiling(args.threads, d) for d in ("float32", "bfloat16")}
    print(
        f"machine: {info}; conv ceilings: fp32 {ceilings['float32']:.0f}, bf16 "
        f"{ceilings['bfloat16']:.0f} GFLOP/s",
        flush=True,
    )
    runs = []
    for i, seed in enumerate(args.seeds):
        order = args.presets if i % 2 == 0 else args.presets[::-1]
        for preset in order:
            if preset == "reference" and seed not in (args.reference_seeds or [seed]):
                continue
            run = run_child(preset, seed, args)
            print(json.dumps(run), flush=True)
            runs.append(run)
    summary = summarize(runs, args.presets, ceilings)
    from fashionclf.evaluation.results import write_record

    proxy = bool(args.train_size or args.max_epochs)
    extra = {
        "proxy": proxy,
        "machine": info,
        "conv_ceiling_gflop_per_s": ceilings,
        "threads": args.threads,
    }
    topic = "time-to-accuracy-proxy" if proxy else "time-to-accuracy"
    path = write_record(topic, runs, root=args.out_dir, summary={**extra, **summary})
    print("wrote", path)


if __name__ == "__main__":
    main()
