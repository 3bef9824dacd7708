"""Train the model that ships with fashionclf, and write its card beside it.

The default network (``FashionCNNClassifier(random_state=0)``, 10 epochs) on
the full 60,000 training images, saved without optimizer state (weights,
standardization, classes: what prediction needs) to
``fashionclf/data/pretrained.safetensors``, and ``pretrained.json`` beside it: the
command, the data files' sha256, the seed, the commit, the machine, torch's
version and the test accuracy.

    FASHIONCLF_DATA=../shared/data/fashion-mnist python benchmarks/train_pretrained.py

With ``--out-dir`` it writes elsewhere (to compare two runs bit for bit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

import fashionclf
from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
from fashionclf.datasets import get_data_home

PACKAGE_DATA = Path(fashionclf.__file__).parent / "data"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cpu() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor()
    lines = dict(ln.split(":", 1) for ln in text.splitlines() if ":" in ln)
    flags = [f for f in lines.get("Flags", "").split() if f.startswith(("avx", "amx"))]
    return f"{lines.get('Model name', '?').strip()}; {' '.join(flags)}"


def _commit() -> str:
    here = Path(__file__).resolve().parent
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=here,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=here,
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + (
        " (with uncommitted changes)" if dirty else ""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=PACKAGE_DATA)
    args = parser.parse_args()
    torch.set_num_threads(2)
    commit = _commit()  # the code that trains: read before any later edit
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(random_state=0)
    t0 = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - t0
    accuracy = float(clf.score(Xt, yt))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / "pretrained.safetensors"
    clf.save(path, training_state=False)
    folder = get_data_home()
    data = {p.name: _sha256(p) for p in sorted(folder.glob("*")) if p.is_file()}
    card = {
        "model": "FashionCNNClassifier(random_state=0): the default network, 10 epochs",
        "command": "FASHIONCLF_DATA=../shared/data/fashion-mnist python "
        "benchmarks/train_pretrained.py",
        "data": "Fashion-MNIST, Kaggle CSV split: 60,000 training images; "
        "accuracy on its 10,000 test images",
        "data_sha256": data,
        "random_state": 0,
        "test_accuracy": round(accuracy, 4),
        "fit_seconds": round(fit_s),
        "commit": commit,
        "machine": f"{_cpu()}; {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "fashionclf": fashionclf.__version__,
        "weights_sha256": _sha256(path),
        "file_bytes": path.stat().st_size,
    }
    (args.out_dir / "pretrained.json").write_text(json.dumps(card, indent=2) + "\n")
    json.dump(card, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
