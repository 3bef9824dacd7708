"""Tune the CNN on the shared training data, refit the best, compare with defaults.

Budget: a study of --n-trials trials (median pruning, --max-epochs epochs each)
on a stratified --train-size subset of the 60,000 training images (validation:
20% of it); then the best parameters are refitted on all 60,000 images for the
default 10 epochs and scored on the 10,000 test images, next to the default
classifier's test accuracy from the same benchmark conditions.

    FASHIONCLF_DATA=../shared/data/fashion-mnist .venv/bin/python benchmarks/tune_full.py
"""

import argparse
import time

from sklearn.model_selection import train_test_split

from fashionclf import FashionCNNClassifier, fetch_fashion_mnist
from fashionclf.evaluation.results import write_record
from fashionclf.tuning import best_summary, run_study


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-size", type=int, default=12000)
    ap.add_argument("--n-trials", type=int, default=8)
    ap.add_argument("--max-epochs", type=int, default=5)
    ap.add_argument(
        "--default-accuracy",
        type=float,
        default=0.9378,
        help="test accuracy of FashionCNNClassifier(random_state=0), RESULTS.md",
    )
    args = ap.parse_args()
    X, y = fetch_fashion_mnist(subset="train", return_X_y=True)
    Xt, yt = fetch_fashion_mnist(subset="test", return_X_y=True)
    Xs, _, ys, _ = train_test_split(
        X, y, train_size=args.train_size, stratify=y, random_state=0
    )
    t0 = time.perf_counter()
    study = run_study(
        "cnn-default",
        Xs,
        ys,
        n_trials=args.n_trials,
        max_epochs=args.max_epochs,
        pruner="median",
        random_state=0,
        storage="sqlite:///benchmarks/results/tune-cnn.db",
        study_name="cnn-full",
    )
    tune_s = time.perf_counter() - t0
    print(best_summary(study), f"({tune_s:.0f} s)", flush=True)
    best = FashionCNNClassifier(random_state=0, **study.best_params)
    t0 = time.perf_counter()
    best.fit(X, y)
    fit_s = time.perf_counter() - t0
    acc = best.score(Xt, yt)
    verdict = "beats" if acc > args.default_accuracy else "does not beat"
    print(
        f"best configuration refitted on 60,000 images: test accuracy {acc:.4f} in "
        f"{fit_s:.0f} s; {verdict} the default's {args.default_accuracy:.4f}"
    )
    out = {
        "budget": vars(args),
        "tuning_s": tune_s,
        "best_params": study.best_params,
        "best_validation_accuracy": study.best_value,
        "refit_test_accuracy": acc,
        "refit_fit_s": fit_s,
        "default_test_accuracy": args.default_accuracy,
        "summary": best_summary(study),
    }
    trials = [
        {"number": t.number, "state": t.state.name, "value": t.value, **t.params}
        for t in study.trials
    ]
    print("wrote", write_record("tune-cnn", trials, summary=out))


if __name__ == "__main__":
    main()
