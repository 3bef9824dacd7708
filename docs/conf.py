"""Sphinx configuration: numpydoc API reference, MyST user guide, example gallery."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fashionclf

project = "fashionclf"
author = "fashionclf developers"
copyright = "2026, fashionclf developers"
release = version = fashionclf.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
myst_heading_anchors = 3

autosummary_generate = True
# scikit-learn generates set_*_request methods whose docstrings link into
# its own glossary; the classes' docstrings say when to use them
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "exclude-members": ", ".join(
        f"set_{method}_request"
        for method in (
            "fit",
            "partial_fit",
            "score",
            "predict",
            "predict_proba",
            "transform",
            "inverse_transform",
        )
    ),
}
autodoc_typehints = "none"  # numpydoc renders the types from the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# the gallery runs every example in smoke mode (bundled sample, one small
# epoch), as tests/test_examples.py does, so the build stays short
os.environ.setdefault("FASHIONCLF_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# sphinx-gallery runs each example in the folder it reads it from: a copy
# under _build, so the files the examples write never land in examples/
EXAMPLES = Path(__file__).parent / "_build" / "examples"
shutil.rmtree(EXAMPLES, ignore_errors=True)
shutil.copytree(ROOT / "examples", EXAMPLES)
sphinx_gallery_conf = {
    "examples_dirs": str(EXAMPLES),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/.*\.py$",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "pydata_sphinx_theme"
html_title = "fashionclf"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
suppress_warnings = ["config.cache"]
