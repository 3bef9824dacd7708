"""A/B two checkouts of fashionclf: one full-data training epoch and predict_proba.

Each measurement runs in a fresh process with ``PYTHONPATH`` set to the
checkout, alternating A, B, A, B, ... so that drift of the machine's speed
hits both alike. Prints every run and the medians, with the B/A ratios, the
CPU flags, the precision each side trained in and whether the two sides'
test-set probabilities are bit-identical (a digest per run). Run it alone on
the machine.

    python benchmarks/bench_ab.py --a /tmp/before --b . --rounds 2
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import hashlib, json, time, torch
import fashionclf
from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
torch.set_num_threads(2)
X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
clf = FashionCNNClassifier(max_epochs=1, random_state=0, num_threads=2)
t0 = time.perf_counter(); clf.fit(X, y); fit_s = time.perf_counter() - t0
clf.predict_proba(Xt[:512])  # warm-up
t0 = time.perf_counter(); proba = clf.predict_proba(Xt); pred_s = time.perf_counter() - t0
print(json.dumps({"file": fashionclf.__file__, "fit_s": fit_s,
                  "predict_img_s": len(Xt) / pred_s,
                  "acc": float((clf.classes_[proba.argmax(1)] == yt).mean()),
                  "precision": getattr(clf, "precision_", clf.precision),
                  "proba_sha256": hashlib.sha256(proba.tobytes()).hexdigest()[:16]}))
"""


def _flags() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in text.splitlines()
            if ln.startswith("Model name")
        ),
        "?",
    )
    flags = next(
        (
            ln.split(":", 1)[1].split()
            for ln in text.splitlines()
            if ln.startswith("Flags")
        ),
        [],
    )
    keep = [f for f in flags if f.startswith(("avx", "amx", "fma"))]
    return f"{model}; {' '.join(keep)}"


def run(checkout: Path) -> dict:
    # run from inside the checkout: sys.path[0] ('' for -c) is the working
    # folder, which would otherwise win over PYTHONPATH (and an editable
    # install of another checkout would answer for both)
    root = checkout.resolve()
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if not Path(result["file"]).is_relative_to(root):
        raise RuntimeError(f"{root}: imported {result['file']} instead")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="reference checkout")
    parser.add_argument("--b", type=Path, required=True, help="checkout to compare")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("cpu:", _flags())
    runs: dict[str, list[dict]] = {"a": [], "b": []}
    for i in range(args.rounds):
        for key in ("a", "b"):
            result = run(getattr(args, key))
            runs[key].append(result)
            print(f"round {i + 1} {key}: {json.dumps(result)}", flush=True)
    med = {
        k: {m: statistics.median(r[m] for r in v) for m in ("fit_s", "predict_img_s")}
        for k, v in runs.items()
    }
    print(
        f"median epoch: A {med['a']['fit_s']:.1f} s, B {med['b']['fit_s']:.1f} s, "
        f"B/A {med['b']['fit_s'] / med['a']['fit_s']:.3f}"
    )
    print(
        f"median predict_proba: A {med['a']['predict_img_s']:.0f} img/s, "
        f"B {med['b']['predict_img_s']:.0f} img/s, "
        f"B/A {med['b']['predict_img_s'] / med['a']['predict_img_s']:.3f}"
    )
    digests = {k: {r["proba_sha256"] for r in v} for k, v in runs.items()}
    same = len(digests["a"] | digests["b"]) == 1
    print(
        f"precision: A {sorted({r['precision'] for r in runs['a']})}, "
        f"B {sorted({r['precision'] for r in runs['b']})}; test-set probabilities "
        + ("bit-identical in every run" if same else f"differ: {digests}")
    )


if __name__ == "__main__":
    main()
