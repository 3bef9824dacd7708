"""The one prepared check of fashionclf on a GPU machine (under 5 minutes).

Every check prints one line, ``PASS``, ``FAIL`` (with the error) or ``SKIP``
(with the reason), and the run ends with the measurements: time to 94% test
accuracy for the default recipe (fit time only, data already loaded), GPU
utilisation and memory, training and prediction images/s. Exit status 1 if
any check failed.

Correctness checks use the bundled 2,000-image sample; the timings use the
full data. On a lent GPU machine the shared data does not travel with the
checkout: copy ``../shared/data/fashion-mnist`` into an ignored folder of
the repository, carry it, and pass it as ``--data-home``:

    python benchmarks/gpu_check.py --data-home .gpu-data

``--dry-run`` runs the same code on the CPU with tiny data and one epoch
(float16 is skipped there: it needs CUDA); the test suite runs it so the
script cannot rot.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist, load_sample
from fashionclf.presets import PRESETS, make_cnn


@dataclass
class Context:
    device: str
    dry_run: bool
    X: np.ndarray
    y: np.ndarray
    Xt: np.ndarray
    yt: np.ndarray
    tmp: str

    def cnn(self, preset: str = "default", **params) -> FashionCNNClassifier:
        """A preset on this device, shortened for a dry run."""
        params = {"device": self.device, "random_state": 0, **params}
        if self.dry_run:
            params.setdefault("max_epochs", 1)
            if preset not in ("small", "tiny"):
                params.setdefault("width", 8)
        return make_cnn(preset, **params)


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


class Skip(Exception):
    """A check that cannot run here, with the reason."""


def _fit_score(ctx: Context, clf) -> str:
    clf.fit(ctx.X, ctx.y)
    assert clf.device_.startswith(ctx.device), clf.device_
    proba = clf.predict_proba(ctx.Xt)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)
    return f"{clf.score(ctx.Xt, ctx.yt):.3f} on {clf.device_}"


@check
def every_preset(ctx: Context) -> str:
    out = []
    for preset in PRESETS:  # default, fast, best, reference, seed, tiny
        epochs = {"max_epochs": 2} if preset == "best" and not ctx.dry_run else {}
        out.append(f"{preset} {_fit_score(ctx, ctx.cnn(preset, **epochs))}")
    return "; ".join(out)


@check
def dropout(ctx: Context) -> str:
    # a CPU generator on CUDA activations crashed every dropout > 0
    clf = ctx.cnn("default", dropout=0.3, augment=True)
    first = _fit_score(ctx, clf)
    again = ctx.cnn("default", dropout=0.3, augment=True).fit(ctx.X, ctx.y)
    same = np.array_equal(clf.predict_proba(ctx.Xt), again.predict_proba(ctx.Xt))
    return f"{first}; same seed twice identical: {same} (cuDNN may differ)"


@check
def early_stopping(ctx: Context) -> str:
    clf = ctx.cnn(
        "default",
        validation_fraction=0.2,
        early_stopping=True,
        n_iter_no_change=1,
        max_epochs=3,
    )
    score = _fit_score(ctx, clf)
    return f"{score}, {len(clf.history_)} epochs, valid_acc in history"


@check
def weights(ctx: Context) -> str:
    w = np.where(ctx.y == 0, 3.0, 1.0)
    clf = ctx.cnn("default", class_weight="balanced")
    clf.fit(ctx.X, ctx.y, sample_weight=w)
    return f"sample + class weights: {clf.score(ctx.Xt, ctx.yt):.3f}"


@check
def tta(ctx: Context) -> str:
    clf = ctx.cnn("default").fit(ctx.X, ctx.y)
    plain = clf.score(ctx.Xt, ctx.yt)
    flipped = clf.set_params(tta=True).score(ctx.Xt, ctx.yt)
    return f"plain {plain:.3f}, flip TTA {flipped:.3f}"


@check
def bfloat16(ctx: Context) -> str:
    if ctx.device == "cuda" and not torch.cuda.is_bf16_supported():
        raise Skip("this GPU has no bfloat16")
    return _fit_score(ctx, ctx.cnn("default", precision="bfloat16"))


@check
def float16(ctx: Context) -> str:
    if ctx.device != "cuda":
        raise Skip("float16 (autocast + grad scaler) needs CUDA")
    clf = ctx.cnn("default", precision="float16")
    score = _fit_score(ctx, clf)
    auto = ctx.cnn("default", precision="auto").fit(ctx.X, ctx.y)
    return f"{score}; precision='auto' fits too ({auto.score(ctx.Xt, ctx.yt):.3f})"


@check
def checkpoint_resume(ctx: Context) -> str:
    path = os.path.join(ctx.tmp, "ckpt")
    os.makedirs(path, exist_ok=True)
    whole = ctx.cnn("default", max_epochs=2, augment=False).fit(ctx.X, ctx.y)
    first = ctx.cnn("default", max_epochs=2, augment=False, checkpoint_path=path)
    first.set_params(max_epochs=2)
    first.partial_fit(ctx.X, ctx.y)  # one epoch, checkpointed
    resumed = ctx.cnn("default", max_epochs=2, augment=False, checkpoint_path=path)
    resumed.fit(ctx.X, ctx.y)  # resumes from the checkpoint: one epoch left
    diff = np.abs(resumed.predict_proba(ctx.Xt) - whole.predict_proba(ctx.Xt)).max()
    return f"{len(resumed.history_)} epochs; max |proba - uninterrupted| {diff:.2e}"


@check
def save_and_load(ctx: Context) -> str:
    clf = ctx.cnn("default").fit(ctx.X, ctx.y)
    path = os.path.join(ctx.tmp, "m.pt")
    clf.save(path)
    ref = clf.predict_proba(ctx.Xt)
    on_gpu = FashionCNNClassifier.load(path, device=ctx.device)
    on_cpu = FashionCNNClassifier.load(path)
    moved = FashionCNNClassifier.load(path).set_params(device=ctx.device)
    diffs = [
        np.abs(m.predict_proba(ctx.Xt) - ref).max() for m in (on_gpu, on_cpu, moved)
    ]
    return (
        f"loaded on {on_gpu.device_} / {on_cpu.device_} / moved to {moved.device_}: "
        f"max |proba diff| {max(diffs):.2e}"
    )


@check
def pickle_to_cpu_process(ctx: Context) -> str:
    clf = ctx.cnn("default", dropout=0.2).fit(ctx.X, ctx.y)
    path = os.path.join(ctx.tmp, "m.pkl")
    with open(path, "wb") as fh:
        pickle.dump(clf, fh)
    np.save(path + ".npy", clf.predict_proba(ctx.Xt))
    np.save(path + ".x.npy", ctx.Xt)
    code = (
        "import pickle, warnings, numpy as np; warnings.simplefilter('ignore'); "
        f"m = pickle.load(open({path!r}, 'rb')); "
        f"p = m.predict_proba(np.load({path!r} + '.x.npy')); "
        f"print(m.device_, float(np.abs(p - np.load({path!r} + '.npy')).max()))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    device, diff = out.stdout.split()
    return (
        f"fitted on {clf.device_}, unpickled on {device}: max |diff| {float(diff):.2e}"
    )


@check
def int8_from_a_gpu_fit(ctx: Context) -> str:
    clf = ctx.cnn("default", quantize=True).fit(ctx.X, ctx.y)
    float_acc = clf.set_params(quantize=False).score(ctx.Xt, ctx.yt)
    int8_acc = clf.set_params(quantize=True).score(ctx.Xt, ctx.yt)
    return f"trained on {clf.device_}: float {float_acc:.3f}, int8 (CPU) {int8_acc:.3f}"


@check
def grid_search_two_jobs(ctx: Context) -> str:
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        ctx.cnn("default", max_epochs=1), {"lr": [1e-3, 3e-3]}, cv=2, n_jobs=2
    ).fit(ctx.X, ctx.y)
    return f"best {search.best_params_}, {search.best_score_:.3f}"


@check
def study_three_trials(ctx: Context) -> str:
    from fashionclf.tuning import run_study

    study = run_study(
        "cnn-fast",
        ctx.X,
        ctx.y,
        n_trials=3,
        max_epochs=1 if ctx.dry_run else 2,
        random_state=0,
    )  # CNN trials take device='auto': the GPU when there is one
    states = sorted({t.state.name for t in study.trials})
    return (
        f"{len(study.trials)} trials ({', '.join(states)}), best {study.best_value:.3f}"
    )


def measure(ctx: Context, X, y, Xt, yt) -> None:
    """Time to 94% for the default recipe, utilisation, images/s."""
    target = 0.5 if ctx.dry_run else 0.94
    clf = FashionCNNClassifier(
        device=ctx.device, random_state=0, max_epochs=2 if ctx.dry_run else 10
    )
    fit_s, reached, utilisation = 0.0, None, []
    for epoch in range(1, clf.max_epochs + 1):
        t0 = time.perf_counter()
        clf.partial_fit(X, y)
        if ctx.device == "cuda":
            torch.cuda.synchronize()
            utilisation.append(_utilisation())
        fit_s += time.perf_counter() - t0
        acc = clf.score(Xt, yt)
        print(f"  epoch {epoch}: test accuracy {acc:.4f}, fit time {fit_s:.1f} s")
        if reached is None and acc >= target:
            reached = (epoch, fit_s)
    if reached:
        print(f"time to {target:.0%}: {reached[1]:.1f} s ({reached[0]} epochs)")
    else:
        print(f"{target:.0%} not reached in {clf.max_epochs} epochs")
    print(f"training: {len(X) * clf.max_epochs / fit_s:,.0f} images/s")
    clf.set_params(predict_batch_size=4096 if ctx.device == "cuda" else 256)
    clf.predict_proba(Xt[:512])  # warm-up
    t0 = time.perf_counter()
    clf.predict_proba(Xt)
    print(f"prediction: {len(Xt) / (time.perf_counter() - t0):,.0f} images/s")
    if ctx.device == "cuda":
        seen = [u for u in utilisation if u is not None]
        print(
            "GPU utilisation after each epoch: "
            + (", ".join(f"{u}%" for u in seen) if seen else "n/a (needs pynvml)")
        )
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB")


def _utilisation() -> int | None:
    try:
        return int(torch.cuda.utilization())
    except Exception:  # no pynvml
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny data")
    parser.add_argument("--data-home", default=None, help="the Fashion-MNIST files")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device here: run this where a GPU is available, or --dry-run")
        return 2
    device = "cpu" if args.dry_run else "cuda"
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, device {device}", end="")
    if device == "cuda":
        print(f": {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}")
    else:
        print()
    X, y = load_sample(return_X_y=True)
    Xt, yt = load_sample(subset="test", return_X_y=True)
    if args.dry_run:
        X, y, Xt, yt = X[:400], y[:400], Xt[:200], yt[:200]
    started, failed = time.perf_counter(), 0
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(device, args.dry_run, X, y, Xt, yt, tmp)
        for fn in CHECKS:
            t0 = time.perf_counter()
            try:
                line = f"PASS {fn.__name__}: {fn(ctx)}"
            except Skip as why:
                line = f"SKIP {fn.__name__}: {why}"
            except Exception as exc:
                failed += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                line = (
                    f"FAIL {fn.__name__}: {type(exc).__name__}: {exc} "
                    f"({os.path.basename(where.filename)}:{where.lineno})"
                )
            print(f"{line} [{time.perf_counter() - t0:.1f} s]", flush=True)
        if args.dry_run:
            full = (X, y, Xt, yt)
        else:
            full = (
                *fetch_fashion_mnist(
                    subset="train", data_home=args.data_home, return_X_y=True
                ),
                *fetch_fashion_mnist(
                    subset="test", data_home=args.data_home, return_X_y=True
                ),
            )
        measure(ctx, *full)
    print(
        f"{len(CHECKS) - failed} of {len(CHECKS)} checks passed or skipped, "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
