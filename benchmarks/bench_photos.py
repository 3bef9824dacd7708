"""Photos of garments: accuracy of `fashionclf predict` on product shots vs rows.

Renders product shots from the test set (each article coloured, on a light
or dark background of varying shade, with margins, on portrait, square or
landscape canvases of varying size, saved as JPEG of varying quality or as
PNG), then compares:

- the model on the same test images as rows (the reference);
- ``fashionclf predict MODEL shots/`` with no option (the dataset's
  conversion, background read from the corners);
- the conversion's steps one at a time (resampling filter, contrast
  stretch, sharpening) and
  the old plain resize, through :func:`fashionclf.datasets.images.
  fashion_mnist_image` / :func:`read_images`.

It also draws ``benchmarks/results/photos/photo_example.png``: shot -> the
28x28 the model sees -> top-3 probabilities.

    FASHIONCLF_DATA=../shared/data/fashion-mnist python benchmarks/bench_photos.py \
        --model model.pt --n 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fashionclf import CLASS_NAMES, fetch_fashion_mnist, load_model
from fashionclf.cli import main as cli
from fashionclf.datasets.images import fashion_mnist_image, read_images

ASPECTS = [(3, 4), (1, 1), (4, 3), (16, 9), (2, 3)]


def render(img28: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, dict]:
    """A product shot of one Fashion-MNIST article (light on black, 28x28)."""
    side = int(rng.integers(96, 420))
    art = Image.fromarray(img28.reshape(28, 28)).resize(
        (side, side), Image.Resampling.LANCZOS
    )
    a = np.asarray(art, dtype=np.float64)[..., None] / 255  # coverage 0-1
    aw, ah = ASPECTS[rng.integers(len(ASPECTS))]
    margin = rng.uniform(0.05, 0.35)
    base = side / (1 - 2 * margin)
    W = int(base * max(1, aw / ah))
    H = int(base * max(1, ah / aw))
    light = rng.random() < 0.8
    if light:  # off-white, slightly tinted; a dark-ish coloured article
        bg = rng.integers(222, 256) - rng.integers(0, 10, 3)
        colour = rng.integers(0, 90, 3) * rng.uniform(0.2, 1.0)
    else:  # a dark backdrop; a light-coloured article
        bg = rng.integers(0, 35) + rng.integers(0, 8, 3)
        colour = 255 - rng.integers(0, 70, 3) * rng.uniform(0.2, 1.0)
    canvas = np.ones((H, W, 3)) * bg
    x0 = int(rng.integers(0, W - side + 1))
    y0 = int(rng.integers(0, H - side + 1))
    x0 = (x0 + (W - side) // 2) // 2  # towards the centre, not always on it
    y0 = (y0 + (H - side) // 2) // 2
    patch = canvas[y0 : y0 + side, x0 : x0 + side]
    canvas[y0 : y0 + side, x0 : x0 + side] = patch * (1 - a) + colour * a
    noise = rng.normal(0, 1.5, canvas.shape)
    shot = Image.fromarray(np.clip(canvas + noise, 0, 255).astype(np.uint8))
    info = {"size": f"{W}x{H}", "light": light, "margin": round(margin, 2)}
    return shot, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default="benchmarks/results/photos")
    args = parser.parse_args()
    model = load_model(args.model)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    rng = np.random.default_rng(args.seed)
    idx = rng.choice(len(Xt), args.n, replace=False)
    X, y = Xt[idx], yt[idx]
    rows_acc = model.score(X, y)
    shots_dir = Path(tempfile.mkdtemp(prefix="shots-"))
    shots, kinds = [], []
    for k, (img, _) in enumerate(zip(X, y, strict=True)):
        shot, info = render(img, rng)
        if rng.random() < 0.5:
            path = shots_dir / f"{k:05d}.jpg"
            shot.save(path, quality=int(rng.integers(60, 96)))
        else:
            path = shots_dir / f"{k:05d}.png"
            shot.save(path)
        shots.append(path)
        kinds.append(info["light"])
    kinds = np.array(kinds)
    out_csv = shots_dir / "p.csv"
    t0 = time.perf_counter()
    status = cli(["predict", args.model, str(shots_dir), "--out", str(out_csv)])
    cli_s = time.perf_counter() - t0
    assert status == 0, status
    pred = pd.read_csv(out_csv)
    order = np.array([int(Path(s).stem) for s in pred["source"]])
    cli_correct = pred["label"].to_numpy() == y[order]
    print(f"shots: {args.n} in {shots_dir} ({(~kinds).sum()} on dark backgrounds)")
    print(f"model on the same images as rows:        {rows_acc:.4f}")
    print(
        f"fashionclf predict, no option:            {cli_correct.mean():.4f} "
        f"(gap {100 * (rows_acc - cli_correct.mean()):+.2f} pt; {cli_s:.1f} s)"
    )
    light = kinds[order]
    print(
        f"  light backgrounds {cli_correct[light].mean():.4f}, "
        f"dark {cli_correct[~light].mean():.4f}"
    )
    pictures = [Image.open(p) for p in shots]
    variants = {
        "nearest, contrast stretch (the default)": {},
        "nearest, stretch + sharpen (the paper's step)": {"sharpen": True},
        "nearest, no stretch, sharpen (the old default)": {
            "sharpen": True,
            "stretch": False,
        },
        "nearest, no stretch, no sharpening": {"stretch": False},
        "box, stretch": {"resample": "box"},
        "lanczos, stretch": {"resample": "lanczos"},
    }
    for label, kw in variants.items():
        rows = np.stack([fashion_mnist_image(p, **kw).ravel() for p in pictures])
        print(f"  {label:48s} {model.score(rows, y):.4f}")
    for label, kw in {
        "old plain resize, no option": {"method": "resize", "background": "dark"},
        "old plain resize, --background light": {
            "method": "resize",
            "background": "light",
        },
    }.items():
        print(f"  {label:48s} {model.score(read_images(shots, **kw), y):.4f}")
    _picture(model, pictures[:4], y[:4], args.out_dir)


def _picture(model, pictures, truth, out_dir) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(pictures), 3, figsize=(9, 2.6 * len(pictures)))
    for row, (pic, label) in zip(axes, zip(pictures, truth, strict=True), strict=True):
        seen = fashion_mnist_image(pic)
        proba = model.predict_proba(seen.reshape(1, -1))[0]
        top = np.argsort(proba)[::-1][:3]
        row[0].imshow(pic)
        row[0].set_title(f"product shot {pic.size[0]}x{pic.size[1]}", fontsize=9)
        row[1].imshow(seen, cmap="gray", vmin=0, vmax=255)
        row[1].set_title("what the model sees (28x28)", fontsize=9)
        names = [CLASS_NAMES[int(model.classes_[k])] for k in top]
        row[2].barh(names[::-1], proba[top][::-1], color="tab:blue")
        row[2].set_xlim(0, 1)
        row[2].set_title(f"top 3 (true: {CLASS_NAMES[int(label)]})", fontsize=9)
        for ax in row[:2]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(Path(out_dir) / "photo_example.png", dpi=90)
    print(f"picture: {Path(out_dir) / 'photo_example.png'}")


if __name__ == "__main__":
    main()
