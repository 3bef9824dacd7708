"""The Examples blocks of the public modules' docstrings run and hold."""

import doctest
import importlib

import pytest

MODULES = ["datasets", "preprocessing", "classifier", "presets", "baselines", "tuning"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"fashionclf.{name}")
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
