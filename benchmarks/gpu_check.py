"""GPU checks (run where CUDA is available; under 5 minutes on one GPU).

1. The CUDA path of FashionCNNClassifier: fit and predict on the GPU, pickle
   there, then unpickle in a CPU-only process (CUDA hidden) and compare.
2. Time to 94% test accuracy on the GPU for the default network.

    FASHIONCLF_DATA=../shared/data/fashion-mnist python benchmarks/gpu_check.py
"""

import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist, load_sample


def cuda_path() -> None:
    X, y = load_sample(return_X_y=True)
    Xt, _ = load_sample(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    assert clf.device_ == "cuda", clf.device_
    proba = clf.predict_proba(Xt)
    path = os.path.join(tempfile.mkdtemp(), "gpu.pkl")
    with open(path, "wb") as fh:
        pickle.dump(clf, fh)
    np.save(path + ".npy", proba)
    code = (
        "import pickle, numpy as np; from fashionclf import load_sample; "
        f"m = pickle.load(open({path!r}, 'rb')); Xt, _ = load_sample(subset='test', return_X_y=True); "
        f"p = m.predict_proba(Xt); ref = np.load({path!r} + '.npy'); "
        "print(m.device_, float(np.abs(p - ref).max()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        check=True,
    )
    device, diff = out.stdout.split()
    print(
        f"CUDA path: fit/predict on {clf.device_}; unpickled on {device}, "
        f"max |proba difference| {float(diff):.2e}"
    )


def time_to_94() -> None:
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    clf = FashionCNNClassifier(max_epochs=20, random_state=0)
    t0 = time.perf_counter()
    for epoch in range(1, clf.max_epochs + 1):
        clf.partial_fit(X, y)
        acc = clf.score(Xt, yt)
        print(
            f"epoch {epoch}: {acc:.4f} at {time.perf_counter() - t0:.1f} s", flush=True
        )
        if acc >= 0.94:
            print(f"time to 94%: {time.perf_counter() - t0:.1f} s ({epoch} epochs)")
            return
    print("94% not reached in 20 epochs")


if __name__ == "__main__":
    if not torch.cuda.is_available():
        sys.exit("no CUDA device here: run this where a GPU is available")
    print(torch.cuda.get_device_name(0))
    cuda_path()
    time_to_94()
