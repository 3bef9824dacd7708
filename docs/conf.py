"""Sphinx configuration: numpydoc API reference, MyST user guide, example gallery."""

import os
import re
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
# A reference that names nothing fails the build (-W). Names of other
# packages stay unresolved: the docs are built offline, without their
# intersphinx inventories, so they are written as names, not links.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|scipy|numpy|torch|skorch|optuna|pandas|PIL|matplotlib)\..*")
]
# one page per class: its docstring (numpydoc lists every fitted attribute
# from the Attributes section) and its methods; no table of bare annotations
templates_path = ["_templates"]
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

# The gallery runs every example as it is written (each trains on the
# bundled sample: 6-38 s on an AMX Xeon, up to about 2 minutes on an
# AVX2-only CPU): its pages show what the code gives.
os.environ.setdefault("MPLBACKEND", "Agg")
# sphinx-gallery runs each example in the folder it reads it from: a copy
# under _build, so the files the examples write never land in examples/
EXAMPLES = Path(__file__).parent / "_build" / "examples"
shutil.rmtree(EXAMPLES, ignore_errors=True)
shutil.copytree(ROOT / "examples", EXAMPLES)


def written_png_scraper(block, block_vars, gallery_conf, **kwargs):
    """Show the PNG files a code block wrote, as a user running it would see them.

    The examples save their figures with ``fashionclf.evaluation.plotting.save``
    (matplotlib ``Figure`` objects, not pyplot), so the matplotlib scraper
    does not see them; this one picks up every new ``*.png`` in the folder
    the example runs in.
    """
    from sphinx_gallery.scrapers import figure_rst

    folder = Path(block_vars["src_file"]).parent
    seen = gallery_conf.setdefault("_fashionclf_seen_png", set())
    new = sorted(p for p in folder.glob("*.png") if p not in seen)
    seen.update(new)
    paths = []
    for png, target in zip(new, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(png, target)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"])


sphinx_gallery_conf = {
    "image_scrapers": (written_png_scraper,),
    "examples_dirs": str(EXAMPLES),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/.*\.py$",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
    # A block ending in save(...) would print the returned path: show only
    # what the code prints and the figure it writes.
    "capture_repr": (),
    # sphinx-gallery's memory column needs memory_profiler and read 0.0 MB
    # for every example without it: not shown
    "show_memory": False,
}

QUICK_BUILD_NOTE = """
.. note::

   This is a quick build of the documentation (``make docs GALLERY=0``, as
   ``make test`` builds it): the examples were not run, so this page shows
   their code without its output and figures. ``make docs`` runs them.

"""


def _say_quick_build(app, docname, source):
    """Put the quick-build note on every gallery page the build did not run."""
    if docname.startswith("auto_examples/") and not _gallery_runs(app):
        # after any leading field list (":orphan:"), which must come first
        head, body = re.match(r"(\s*(?::\w+:.*\n)*)(.*)", source[0], re.DOTALL).groups()
        source[0] = head + QUICK_BUILD_NOTE + body


def _gallery_runs(app) -> bool:
    value = app.config.sphinx_gallery_conf.get("plot_gallery", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "")
    return bool(value)


def setup(app):
    """Connect the quick-build note."""
    app.connect("source-read", _say_quick_build)


html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["fashionclf.css"]
html_title = "fashionclf"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
suppress_warnings = ["config.cache"]
