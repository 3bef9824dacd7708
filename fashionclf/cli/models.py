"""Model subcommands: ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._utils.messages import first_line
from ..datasets.loaders import fashion_class_names
from ..exceptions import DataFormatError
from .options import (
    add_data_args,
    add_random_state_arg,
    add_trusted_module_arg,
    add_user_data_arg,
    load_labelled,
    parse_set,
)

if TYPE_CHECKING:
    import pandas as pd


def add_parsers(sub) -> None:
    """Add ``train``, ``evaluate`` and ``predict``."""
    _add_train_parser(sub)
    _add_evaluate_parser(sub)
    _add_predict_parser(sub)


def _add_train_parser(sub) -> None:
    """Add the ``train`` subcommand."""
    from ..presets import PRESETS

    p = sub.add_parser("train", help="train a CNN preset and save it (weights-only)")
    add_data_args(p)
    add_user_data_arg(p, "train on")
    p.add_argument(
        "--preset",
        default=None,
        choices=sorted(PRESETS),
        help="CNN configuration (default: the 'model' of --params, else 'default')",
    )
    p.add_argument(
        "--params",
        default=None,
        metavar="FILE",
        help="estimator parameters from a JSON file: the one 'fashionclf tune "
        "--best-out' writes, or a plain JSON object",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one estimator parameter (after --params), e.g. --set lr=0.001 "
        "--set width=48; VALUE is read as JSON when it parses (numbers, "
        "true/false, [16, 64]), else as text; repeat for several",
    )
    p.add_argument("--device", default=None, help="'cpu', 'cuda', 'cuda:N' or 'auto'")
    p.add_argument("--num-threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--out", default="model.safetensors", help="model file (default: %(default)s)"
    )
    p.add_argument(
        "--max-epochs", type=int, default=None, help="override the preset's epochs"
    )
    add_random_state_arg(p)
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        help="hold out this fraction to report validation scores per epoch",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no epoch table or progress bar"
    )
    p.set_defaults(func=train)


def _add_evaluate_parser(sub) -> None:
    """Add the ``evaluate`` subcommand."""
    p = sub.add_parser(
        "evaluate", help="score a saved model on the test set, with plots"
    )
    add_data_args(p)
    add_user_data_arg(p, "score on")
    add_trusted_module_arg(p)
    p.add_argument("model", help="model file written by 'fashionclf train'")
    p.add_argument(
        "--out-dir",
        default=None,
        help="write confusion_matrix.png, per_class_metrics.png and "
        "misclassified.png here",
    )
    p.add_argument(
        "--saliency",
        type=int,
        default=0,
        metavar="N",
        help="also write saliency.png to --out-dir: integrated gradients of the "
        "N most confidently misclassified test images",
    )
    p.set_defaults(func=evaluate)


def _add_predict_parser(sub) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser(
        "predict",
        help="predict labels and probabilities to CSV",
        usage="fashionclf predict (MODEL | --pretrained) INPUT [INPUT ...]",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="MODEL INPUT",
        help="a model file written by 'fashionclf train' (not with --pretrained), "
        "then the inputs: CSV files of pixel rows (pixel1..pixel784), PNG/JPEG/"
        "WebP pictures (converted as Fashion-MNIST was made: trimmed, centred, "
        "negated on a light background), folders of pictures, or quoted globs "
        "('shots/*.jpg')",
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="use the model that ships with fashionclf; every path is an input",
    )
    add_trusted_module_arg(p)
    p.add_argument(
        "--out",
        default="predictions.csv",
        help="output CSV (default: %(default)s); an existing file is refused "
        "unless --force",
    )
    p.add_argument(
        "--force", action="store_true", help="replace an existing --out file"
    )
    p.add_argument(
        "--background",
        choices=["auto", "light", "dark"],
        default="auto",
        help="the pictures' background: read from the corners, or forced "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--on-error",
        choices=["skip", "stop"],
        default="skip",
        help="a picture that cannot be read: skip it (listed on stderr, exit "
        "status 1) or stop with status 2 (default: %(default)s)",
    )
    p.set_defaults(func=predict)


def train(args: argparse.Namespace) -> int:
    """Train a CNN preset and save it."""
    from ..presets import make_cnn

    _check_out(args)  # before hours of training, not after
    preset, params = _train_params(args)
    over: dict = {
        "random_state": args.random_state,
        "verbose": 0 if args.quiet else 2,
        "validation_fraction": args.validation_fraction,
    }
    for name in ("max_epochs", "device", "num_threads"):
        if getattr(args, name) is not None:
            over[name] = getattr(args, name)
    clf = make_cnn(preset, **{**over, **params})  # parameters checked before data
    clf._validate_params()
    X, y = load_labelled(args, "train")
    clf.fit(X, y)
    if clf.interrupted_:  # Ctrl-C: never save a half-trained model as done
        raise KeyboardInterrupt
    saved = _save_or_rescue(clf, args.out)
    print(
        f"trained '{preset}' on {len(X)} images in {len(clf.history_)} epochs; "
        f"saved to {saved}"
    )
    return 0 if saved == args.out else 1


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that is an input, a folder or unwritable, before a fit."""
    out = Path(args.out).resolve()
    for flag in ("data", "params"):
        given = getattr(args, flag, None)
        if given is not None and Path(given).resolve() == out:
            raise ValueError(
                f"--out {args.out} is also --{flag} {given}; expected a new file "
                "name, so the input is not overwritten by the model."
            )
    if out.is_dir():
        raise IsADirectoryError(
            f"--out {args.out} is a folder; expected a model file name, e.g. "
            f"{Path(args.out) / 'model.safetensors'}."
        )
    if not out.parent.is_dir():
        raise FileNotFoundError(
            f"--out {args.out}: no such folder {out.parent}; create it first or "
            "choose another path."
        )
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"--out {args.out}: the folder {out.parent} is not writable; choose "
            "another path."
        )


def _save_or_rescue(clf, out: str) -> str:
    """Save to ``out``; if that fails, to a new file in the temp folder. Return where.

    A fit that took hours is not thrown away because the disk filled up
    meanwhile: the error is said in one line with where the model went.
    """
    import tempfile

    try:
        clf.save(out)
        return out
    except Exception as exc:  # a full disk: safetensors raises its own error
        reason = f"{type(exc).__name__}: {first_line(exc)}"
    fd, rescue = tempfile.mkstemp(prefix="fashionclf-unsaved-", suffix=".safetensors")
    os.close(fd)
    try:
        clf.save(rescue)
    except Exception as exc:  # whatever failed, say it
        os.unlink(rescue)
        raise OSError(
            f"could not save the trained model to {out} ({reason}) nor to {rescue} "
            f"({type(exc).__name__}: {first_line(exc)}); it is lost."
        ) from exc
    print(
        f"fashionclf train: error: could not save to {out} ({reason}); the trained "
        f"model was written to {rescue} instead",
        file=sys.stderr,
    )
    return rescue


def _train_params(args: argparse.Namespace) -> tuple[str, dict]:
    """Return the preset and the parameters of ``--params`` and ``--set``."""
    import json

    from ..classifier import FashionCNNClassifier

    params: dict = {}
    model = None
    if args.params is not None:
        try:
            given = json.loads(Path(args.params).read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise ValueError(
                f"--params {args.params}: {first_line(exc)}; expected a JSON file "
                "('fashionclf tune --best-out' writes one)."
            ) from exc
        if isinstance(given, dict) and isinstance(given.get("params"), dict):
            model, given = given.get("model"), given["params"]
        if not isinstance(given, dict):
            raise ValueError(
                f"--params {args.params}: holds {type(given).__name__}; expected a "
                "JSON object of parameter names and values."
            )
        params.update(given)
    for item in args.set:
        name, value = parse_set(item)
        params[name] = value
    for name, value in params.items():
        if _depth(value) > _MAX_DEPTH:
            raise ValueError(
                f"train received {name} nested more than {_MAX_DEPTH} levels deep; "
                "expected a number, text, or a short list or object."
            )
    objects = sorted(set(params) & {"callbacks", "module"})
    if objects:
        raise ValueError(
            f"train received {objects[0]}={params[objects[0]]!r}; {objects[0]} "
            "takes Python objects (a skorch callback, a torch.nn.Module), which a "
            "command line cannot give: use the Python API for it."
        )
    known = FashionCNNClassifier().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"train received the parameter {unknown[0]!r}, which "
            f"FashionCNNClassifier does not have; expected one of {sorted(known)}."
        )
    for name in ("width", "convs_per_block", "image_shape", "pixel_range"):
        if isinstance(params.get(name), list):  # JSON has no tuples
            params[name] = tuple(params[name])
    if args.preset is not None:
        preset = args.preset
    elif isinstance(model, str) and model.startswith("cnn-"):
        preset = model.removeprefix("cnn-")
    else:
        preset = "default"
    return preset, params


#: Deepest nesting of a parameter value read from --params or --set.
_MAX_DEPTH = 16


def _depth(value) -> int:
    """Nesting depth of a JSON value (lists and objects), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > _MAX_DEPTH:
            break
        if isinstance(item, list | tuple):
            stack += [(v, level + 1) for v in item]
        elif isinstance(item, dict):
            stack += [(v, level + 1) for v in item.values()]
    return deepest


def evaluate(args: argparse.Namespace) -> int:
    """Score a saved model on the test set, with plots."""
    from sklearn.metrics import classification_report

    from ..classifier import load_model
    from ..evaluation import plotting

    if args.saliency and not args.out_dir:
        raise SystemExit(
            "fashionclf evaluate: --saliency needs --out-dir for saliency.png"
        )
    model = load_model(args.model, trusted_modules=args.trusted_module)
    X, y = load_labelled(args, "test")
    unknown = sorted(set(np.asarray(y).tolist()) - set(model.classes_.tolist()))
    if unknown:
        raise ValueError(
            f"evaluate received the label {unknown[0]!r}, which {args.model} never "
            f"saw in training; expected its classes {model.classes_.tolist()}."
        )
    proba = model.predict_proba(X)
    pred = model.classes_[proba.argmax(axis=1)]
    print(
        classification_report(
            y,
            pred,
            labels=model.classes_,
            target_names=_class_names(model.classes_),
            digits=4,
            zero_division=0,
        )
    )
    if args.out_dir:
        out = args.out_dir
        plotting.save(
            plotting.plot_confusion_matrix(y, pred), f"{out}/confusion_matrix.png"
        )
        plotting.save(
            plotting.plot_per_class_metrics(y, pred), f"{out}/per_class_metrics.png"
        )
        plotting.save(
            plotting.plot_misclassified(X, y, proba, classes=model.classes_),
            f"{out}/misclassified.png",
        )
        if args.saliency:
            plotting.save(
                plotting.plot_saliency(model, X, y, n=args.saliency),
                f"{out}/saliency.png",
            )
        print(f"plots written to {out}/")
    return 0


def _class_names(classes: np.ndarray) -> list[str]:
    """Fashion-MNIST names for exactly the labels 0-9, else the labels as text."""
    return fashion_class_names(classes) or [str(c) for c in classes]


def predict(args: argparse.Namespace) -> int:
    """Predict labels and probabilities to CSV."""
    import pandas as pd

    from .._utils.atomic import atomic_write
    from ..classifier import FashionCNNClassifier, load_model
    from ..datasets.formats import read_pixel_csv
    from ..datasets.images import read_images

    model_path, inputs = (
        (None, args.paths)
        if args.pretrained
        else (
            args.paths[0],
            args.paths[1:],
        )
    )
    if not inputs:
        raise ValueError(
            f"predict received the model {model_path} and no input; expected "
            "MODEL INPUT [INPUT ...], or --pretrained INPUT [INPUT ...]."
        )
    out_path = Path(args.out).resolve()
    for given in args.paths:
        if Path(given).resolve() == out_path:
            raise ValueError(
                f"--out {args.out} is also an input ({given}); expected a new file "
                "name, so no input is overwritten."
            )
    if out_path.exists() and not args.force:
        raise ValueError(
            f"--out {args.out} exists; expected a new file name, or --force to "
            "replace it."
        )
    if model_path is None:
        import json
        from importlib.resources import files

        model = FashionCNNClassifier.pretrained()
        card_file = files("fashionclf").joinpath("data/pretrained.json")
        card = json.loads(card_file.read_text())
        who = (
            f"the pretrained model shipped with fashionclf ({card['model']}; "
            f"{card['test_accuracy']:.2%} on the Fashion-MNIST test set)"
        )
    else:
        model = load_model(model_path, trusted_modules=args.trusted_module)
        who = model_path
    csvs, pictures = _inputs(inputs)
    repeated = len(csvs) + len(pictures)
    csvs, pictures = _once(csvs), _once(pictures)
    repeated -= len(csvs) + len(pictures)
    frames = []
    for path in csvs:
        X, _ = read_pixel_csv(path)
        frames.append((pd.DataFrame({"source": _text(path), "row": range(len(X))}), X))
    rows, read, skipped = [], [], []
    for path in pictures:  # one at a time: a bad file need not stop the batch
        try:
            rows.append(read_images([path], background=args.background)[0])
            read.append(path)
        except (DataFormatError, FileNotFoundError, IsADirectoryError) as exc:
            if args.on_error == "stop":
                raise
            reason = first_line(exc)  # most readers' messages start with the path
            named = reason.startswith(_text(path))
            skipped.append(reason if named else f"{_text(path)}: {reason}")
    if read:
        source = pd.DataFrame({"source": [_text(p) for p in read], "row": 0})
        frames.append((source, np.stack(rows)))
    if not frames:
        raise ValueError(
            f"none of the {len(pictures)} pictures could be read: "
            + "; ".join(skipped[:3])
        )
    out = []
    names = fashion_class_names(model.classes_)  # exactly the labels 0-9
    for meta, X in frames:
        proba = model.predict_proba(X)
        codes = proba.argmax(axis=1)
        meta["label"] = model.classes_[codes]
        if names is not None:
            meta["class_name"] = [names[k] for k in codes]
        for j, c in enumerate(model.classes_):
            name = c if names is None else names[j]  # proba_Dress, ...
            meta[f"proba_{name}"] = proba[:, j].round(6)
        out.append(meta)
    result = _escape_cells(pd.concat(out, ignore_index=True))
    atomic_write(out_path, lambda tmp: result.to_csv(tmp, index=False))
    print(f"{len(result)} predictions written to {args.out}")
    print(f"fashionclf predict: model: {who}", file=sys.stderr)
    if repeated:
        print(
            f"fashionclf predict: {repeated} input(s) named more than once "
            "(directly, in a folder or by a pattern) predicted once",
            file=sys.stderr,
        )
    for line in skipped:
        print(f"fashionclf predict: skipped {line}", file=sys.stderr)
    return 1 if skipped else 0


def _inputs(given: list[str]) -> tuple[list[str], list[str]]:
    """Split the inputs into CSV files and pictures; expand folders and globs.

    A folder gives its pictures (by file name ending, sorted); a pattern with
    ``*``, ``?`` or ``[`` that names no existing file is expanded with
    :mod:`glob` (for shells that pass it on quoted).
    """
    import glob

    from ..datasets.images import SUFFIXES

    csvs: list[str] = []
    pictures: list[str] = []
    for item in given:
        if os.path.isdir(item):
            found = sorted(
                os.path.join(item, n)
                for n in os.listdir(item)
                if n.lower().endswith(SUFFIXES)
            )
            if not found:
                raise FileNotFoundError(
                    f"{item}: a folder with no pictures ({', '.join(SUFFIXES)})."
                )
            pictures += found
            continue
        matches = [item]
        if not os.path.exists(item) and any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item))
            if not matches:
                raise FileNotFoundError(f"{item}: no file matches this pattern.")
        for path in matches:
            (csvs if _is_csv(path) else pictures).append(path)
    return csvs, pictures


def _once(paths: list[str]) -> list[str]:
    """``paths`` without repeats of one file (however named), in order."""
    seen: set[str] = set()
    out = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _is_csv(path: str) -> bool:
    return str(path).lower().endswith((".csv", ".csv.gz"))


def _text(path) -> str:
    """Return a file name or label as text: bytes that are not UTF-8 become escapes.

    A class folder named in Latin-1 gives a label holding a surrogate escape,
    which UTF-8 cannot write; it is written as a backslash escape.
    """
    text = path if isinstance(path, str) else os.fsdecode(path)
    try:
        return text.encode("utf-8", "surrogateescape").decode(
            "utf-8", "backslashreplace"
        )
    except UnicodeEncodeError:  # a lone surrogate no file name decodes to
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells (and column names) a spreadsheet would run with ``'``.

    Labels come from the model file and names from the file system: neither
    may plant a formula in ``predictions.csv``. Numbers are left as they are.
    """
    import pandas as pd

    def escape(value):
        if not isinstance(value, str):
            return value
        value = _text(value)  # labels from a folder may hold undecodable bytes
        return "'" + value if value.startswith(_FORMULA_START) else value

    frame.columns = [escape(str(c)) for c in frame.columns]
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(escape)
    return frame
