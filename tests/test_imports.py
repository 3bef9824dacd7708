"""Lazy package imports: the data layer loads without torch or skorch."""

import subprocess
import sys

import fashionclf


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_the_data_layer_does_not_import_torch():
    loaded = _modules_after("from fashionclf.datasets import fetch_fashion_mnist")
    assert "torch" not in loaded and "skorch" not in loaded
    loaded = _modules_after("import fashionclf")
    assert "torch" not in loaded and "fashionclf.classifier" not in loaded


def test_the_command_line_imports_a_subcommand_s_modules_only_when_it_runs():
    loaded = _modules_after("from fashionclf.cli import build_parser; build_parser()")
    assert not {"torch", "skorch", "optuna", "fashionclf.classifier"} & loaded


def test_every_public_name_resolves_lazily():
    assert set(fashionclf.__all__) - {"__version__"} == set(fashionclf._LAZY)
    for name in fashionclf.__all__:
        assert getattr(fashionclf, name) is not None
    assert fashionclf.FashionCNNClassifier.__module__ == "fashionclf.classifier"
    assert set(fashionclf.__all__) <= set(dir(fashionclf))


def test_unknown_names_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        fashionclf.nope  # noqa: B018
