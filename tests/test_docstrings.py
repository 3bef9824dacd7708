"""Docstrings: the Examples blocks run and hold; every parameter is described."""

import doctest
import importlib
import inspect

import pytest

MODULES = [
    "datasets.loaders",
    "preprocessing",
    "classifier",
    "presets",
    "baselines",
    "registry",
    "tuning.search",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"fashionclf.{name}")
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0


def _documented(doc: str, section: str) -> set[str]:
    """Names of the entries of a numpydoc ``section`` ('Parameters', ...)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    names: set[str] = set()
    inside = False
    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
        if underline:
            inside = line.strip() == section
            continue
        if inside and line and not line[0].isspace() and set(line) != {"-"}:
            names.update(n.strip() for n in line.split(" : ")[0].split(","))
    return names


def _estimators():
    from fashionclf import (
        FashionCNNClassifier,
        ImageFileReader,
        ImageFlattener,
        ImageReshaper,
        PixelScaler,
    )
    from fashionclf.tuning import PartialFitPipeline

    from .helpers import tiny_cnn

    return [
        (tiny_cnn(quantize=True), True),
        (PixelScaler(), False),
        (ImageReshaper(), False),
        (ImageFlattener(), False),
        (ImageFileReader(), False),  # fit takes pictures but reads none
        (PartialFitPipeline([("scale", PixelScaler())]), False),
    ], FashionCNNClassifier


def test_every_public_estimator_documents_its_parameters_and_attributes(small):
    X, y, _, _ = small
    estimators, classifier = _estimators()
    for est, _ in estimators:
        doc = type(est).__doc__
        missing = set(est.get_params(deep=False)) - _documented(doc, "Parameters")
        assert not missing, f"{type(est).__name__} parameters {sorted(missing)}"
        est.fit(X[:200], y[:200])
        fitted = {k for k in vars(est) if k.endswith("_") and not k.startswith("_")}
        missing = fitted - _documented(doc, "Attributes")
        assert not missing, f"{type(est).__name__} attributes {sorted(missing)}"
    for method in ("predict", "predict_proba", "score", "save", "load"):
        doc = getattr(classifier, method).__doc__
        assert _documented(doc, "Parameters"), method
        assert _documented(doc, "Returns") or method == "save", method
