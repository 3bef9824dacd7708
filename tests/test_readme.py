"""The Python snippets of the README and of the user guide run, page by page.

Smoke mode, the same way the examples run: the data loaders return the
bundled sample, every ``FashionCNNClassifier`` trains one small epoch (a
transfer fit keeps the network of the model it starts from), and searches
try two candidates. The code is otherwise the pages' own; each page runs in
order in a namespace of its own. The Dask block needs a scheduler at
``tcp://scheduler:8786``; it runs against a local in-process cluster instead.
"""

import re
import textwrap
from pathlib import Path

import pytest

from fashionclf import FashionCNNClassifier as _Full

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PYPI = ROOT / "PYPI.md"  # the long description on a package index
PAGES = [README, PYPI, *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    """Every ```python block of a Markdown page, dedented."""
    text = page.read_text(encoding="utf-8")
    return [textwrap.dedent(m.group(2)) for m in _BLOCK.finditer(text)]


def test_the_front_pages_show_code_that_runs():
    # test_page_examples_run runs these; a page without blocks would test nothing
    assert python_blocks(README) and python_blocks(PYPI)


def test_the_readme_is_a_front_page():
    assert len(README.read_text(encoding="utf-8")) < 10_000
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text(encoding="utf-8"))
    assert links and all((ROOT / link).is_file() for link in links), links


def test_the_package_and_its_metadata_say_one_version():
    import tomllib

    import fashionclf

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["version"] == fashionclf.__version__


def test_the_package_index_page_has_no_links_into_the_repository():
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["readme"] == PYPI.name and meta["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    text = PYPI.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    assert all(t.startswith("https://") for t in targets), targets
    assert "--index-url https://download.pytorch.org/whl/cpu" in text


#: Cheap settings for the pages' expensive calls (the code is otherwise the same).
SMOKE_EDITS = {
    "n_trials=20": "n_trials=2",
    # the pruned search trains by partial_fit, which the smoke class's fit
    # does not reach: its epochs (max_iter) and rows are set here instead
    "FashionCNNClassifier(pixel_range=None))": (
        "FashionCNNClassifier(pixel_range=None, max_epochs=2))"
    ),
    "X, y = load_sample(return_X_y=True)  # 2,000 images": (
        "X, y = (a[:600] for a in load_sample(return_X_y=True))  #"
    ),
    "cv=3": "cv=2",
    'Client("tcp://scheduler:8786")': 'Client(processes=False, dashboard_address=":0")',
    '{"fashioncnnclassifier__width": [16, 32], "fashioncnnclassifier__lr": '
    "[1e-3, 3e-3]}": '{"fashioncnnclassifier__width": [8], '
    '"fashioncnnclassifier__lr": [3e-3]}',
}


class FashionCNNClassifier(_Full):  # same name: make_pipeline names steps by it
    """One epoch of a small network: the pages' calls, cheaply.

    At module level, so skops and MLflow can load it by name.
    """

    def fit(self, X, y, sample_weight=None):
        self.set_params(max_epochs=1, batch_size=64)
        if self.init_from is None and self.module is None:
            self.set_params(width=8)
        return super().fit(X, y, sample_weight=sample_weight)


def _smoke(source: str) -> str:
    for old, new in SMOKE_EDITS.items():
        source = source.replace(old, new)
    return source


def test_every_smoke_edit_still_finds_its_text():
    # a page reworded under an edit would otherwise run at full cost, or not at all
    code = "\n".join(b for p in PAGES for b in python_blocks(p))
    assert [old for old in SMOKE_EDITS if old not in code] == []


@pytest.mark.slow
# deprecations inside MLflow 3.18 (the deployment page), which we cannot fix:
# its database store and its input-example writer under pandas 3
@pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
)
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated")
# MLflow's hint that integer columns cannot hold missing values: pixels never miss
@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_page_examples_run(page, tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="the Dask block needs distributed")
    import fashionclf
    from fashionclf import load_sample

    def sample(subset="train", return_X_y=False, **_):
        X, y = load_sample(subset=subset, return_X_y=True)
        return X[:600], y[:600]

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fashionclf, "fetch_fashion_mnist", sample)
    monkeypatch.setattr(fashionclf, "FashionCNNClassifier", FashionCNNClassifier)
    # skops and MLflow load the smoke class by its name: trusted beside the rest
    trusted = [*fashionclf.SKOPS_TRUSTED_TYPES, f"{__name__}.FashionCNNClassifier"]
    monkeypatch.setattr(fashionclf, "SKOPS_TRUSTED_TYPES", trusted)
    namespace: dict = {"X": sample()[0], "y": sample()[1]}
    try:
        for i, block in enumerate(python_blocks(page), 1):
            try:
                exec(
                    compile(_smoke(block), f"{page.name} block {i}", "exec"), namespace
                )
            except Exception as exc:
                raise AssertionError(f"{page.name} block {i} failed:\n{block}") from exc
    finally:
        if "client" in namespace:
            namespace["client"].close()
    if page == README:
        assert (
            tmp_path / "model.safetensors"
        ).is_file()  # the quickstart saved its model
