"""The ``benchmark`` subcommand."""

from __future__ import annotations

import argparse

from .options import VERBOSE, add_data_args, add_progress_arg, load_data, parse_set


def add_parsers(sub) -> None:
    """Add ``benchmark``."""
    _add_benchmark_parser(sub)


def _add_benchmark_parser(sub) -> None:
    """Add the ``benchmark`` subcommand."""
    from ..registry import BENCHMARK_SUITES

    p = sub.add_parser(
        "benchmark", help="CNN vs classic baselines: table, JSON and plots"
    )
    add_data_args(p)
    p.add_argument(
        "--suite",
        default="quick",
        choices=sorted(BENCHMARK_SUITES),
        help="named model list (default: %(default)s)",
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="explicit models, e.g. logreg random_forest cnn-fast",
    )
    p.add_argument(
        "--random-state",
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="seeds; stochastic models run once per seed (default: 0)",
    )
    p.add_argument(
        "--run-once",
        "--one-seed",
        nargs="+",
        default=[],
        help="slow stochastic models to run with the first seed only",
    )
    p.add_argument(
        "--max-epochs", type=int, default=None, help="override every CNN's epochs"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL.NAME=VALUE",
        help="set one parameter of one model of --models, e.g. --set "
        "logreg.logisticregression__C=0.5 --set cnn-fast.max_epochs=3; VALUE is "
        "read as JSON when it parses, else as text; repeat for several",
    )
    p.add_argument(
        "--train-sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="also train every model on stratified subsets of these sizes "
        "(e.g. 1000 5000 20000 60000) for sample_efficiency.png",
    )
    add_progress_arg(p)
    p.add_argument(
        "--out-dir",
        default="results/benchmark",
        help="output folder (default: %(default)s)",
    )
    p.set_defaults(func=benchmark)


def benchmark(args: argparse.Namespace) -> int:
    """Run the benchmark and write its table, JSON and plots."""
    from ..evaluation.harness import run_benchmark

    X, y = load_data(args, "train")
    Xt, yt = load_data(args, "test")
    over = {"max_epochs": args.max_epochs} if args.max_epochs else {}
    command = "fashionclf " + " ".join(args.argv)
    result = run_benchmark(
        args.models or [args.suite],
        X,
        y,
        Xt,
        yt,
        random_state=args.random_state,
        cnn_params=over,
        model_params=_model_params(args.set),
        run_once=args.run_once,
        train_sizes=args.train_sizes,
        verbose=VERBOSE[args.progress],
        command=command,
    )
    result.save(args.out_dir, X_test=Xt, y_test=yt)
    print(result.to_markdown())
    if args.train_sizes:
        print("\nTest accuracy by training-set size:\n")
        print(result.sample_efficiency_markdown())
    print(f"results and plots written to {args.out_dir}/")
    return 0


def _model_params(items: list[str]) -> dict[str, dict]:
    """``--set MODEL.NAME=VALUE`` options as ``{model: {name: value}}``."""
    params: dict[str, dict] = {}
    for item in items:
        key, value = parse_set(item, "logreg.logisticregression__C=0.5")
        model, dot, name = key.partition(".")
        if not dot or not model or not name:
            raise ValueError(
                f"--set {item!r}: expected MODEL.NAME=VALUE, e.g. "
                "logreg.logisticregression__C=0.5 (MODEL one of --models)."
            )
        params.setdefault(model, {})[name] = value
    return params
