"""The README's Python examples run, in order, on the bundled sample.

Smoke mode, the same way the examples run: the data loaders return the
bundled sample, every ``FashionCNNClassifier`` trains one small epoch, and
searches try two candidates. The code is otherwise the README's own. The
Dask block needs a scheduler at ``tcp://scheduler:8786``; it runs against a
local in-process cluster instead.
"""

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def readme_blocks() -> list[str]:
    """Every ```python block of the README, dedented."""
    text = README.read_text(encoding="utf-8")
    return [textwrap.dedent(m.group(2)) for m in _BLOCK.finditer(text)]


def test_the_readme_has_python_examples():
    assert len(readme_blocks()) >= 5


def _smoke(source: str) -> str:
    """Cheap settings for the README's expensive calls (the code is the same)."""
    source = source.replace("n_trials=20", "n_trials=2").replace("cv=3", "cv=2")
    source = source.replace('Client("tcp://scheduler:8786")', "Client(processes=False)")
    return source.replace(
        '{"fashioncnnclassifier__width": [16, 32], "fashioncnnclassifier__lr": '
        "[1e-3, 3e-3]}",
        '{"fashioncnnclassifier__width": [8], "fashioncnnclassifier__lr": [3e-3]}',
    )


def test_readme_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="the Dask block needs distributed")
    import fashionclf
    from fashionclf import FashionCNNClassifier as Full
    from fashionclf import load_sample

    def sample(subset="train", return_X_y=False, **_):
        X, y = load_sample(subset=subset, return_X_y=True)
        return X[:600], y[:600]

    class FashionCNNClassifier(Full):  # same name: make_pipeline names steps by it
        """One epoch of a small network: the README's calls, cheaply."""

        def fit(self, X, y, sample_weight=None):
            self.set_params(max_epochs=1, width=8, batch_size=64)
            return super().fit(X, y, sample_weight=sample_weight)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fashionclf, "fetch_fashion_mnist", sample)
    monkeypatch.setattr(fashionclf, "FashionCNNClassifier", FashionCNNClassifier)
    namespace: dict = {"X": sample()[0], "y": sample()[1]}
    try:
        for i, block in enumerate(readme_blocks(), 1):
            try:
                exec(compile(_smoke(block), f"README block {i}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"README block {i} failed:\n{block}") from exc
    finally:
        if "client" in namespace:
            namespace["client"].close()
    assert (tmp_path / "model.pt").is_file()  # the quickstart saved its model
