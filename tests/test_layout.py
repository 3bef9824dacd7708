"""The package's import graph: one direction, no circle, private names kept home.

Read statically from the source (imports inside functions count too), so the
test sees the design, not just what one import happens to load.
"""

import ast
from pathlib import Path

import fashionclf

ROOT = Path(fashionclf.__file__).parent

#: Private homes every family may use: shared helpers.
#: (``from fashionclf import __version__`` reads the root face, which imports
#: its names lazily, so it makes no edge.)
SHARED_PRIVATE = {"_utils"}
#: The classifier's private machinery, and the modules it serves.
OWNERS = {"_estimator": {"_estimator", "classifier", "serialization"}}


def _module_name(path: Path) -> str:
    parts = ["fashionclf", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every fashionclf import in ``path``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    tree = ast.parse(path.read_text())
    typing_only = {  # imports under `if TYPE_CHECKING:` never run
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for n in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "fashionclf":
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            out += [(f"{target}.{n}", []) for n in submodules]  # from . import mod
            if len(submodules) < len(names):
                out.append((target, [n for n in names if n not in submodules]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.startswith("fashionclf")]
    return out


FILES = sorted(ROOT.rglob("*.py"))
MODULES = {_module_name(p) for p in FILES}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in FILES:
        here = _module_name(path)
        graph[here] = {t for t, _ in _imports(path) if t in MODULES and t != here}
    return graph


def _family(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    # a package face imports its own submodules; those may not import it back
    graph = _graph()
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def test_no_family_reaches_into_another_s_private_names():
    offences = []
    for path in FILES:
        here = _module_name(path)
        for target, names in _imports(path):
            family = _family(target)
            if family == _family(here) or family in SHARED_PRIVATE:
                continue
            private_module = any(p.startswith("_") for p in target.split(".")[1:])
            if private_module and _family(here) not in OWNERS.get(family, ()):
                offences.append(f"{here} imports {target}")
            offences += [
                f"{here} imports {target}.{n}"
                for n in names
                if n.startswith("_") and n != "__version__"
            ]
    assert offences == []


def test_the_data_family_and_shared_helpers_import_no_torch_at_module_level():
    for path in FILES:
        family = _family(_module_name(path))
        if family not in {"datasets", "_utils"}:
            continue
        top = ast.parse(path.read_text()).body  # imports inside functions are lazy
        names = [
            a.name if isinstance(node, ast.Import) else node.module
            for node in top
            if isinstance(node, ast.Import | ast.ImportFrom)
            for a in (node.names if isinstance(node, ast.Import) else [node])
        ]
        assert not [n for n in names if n and n.split(".")[0] in {"torch", "skorch"}]


def _group(family: str) -> str:
    """The family, or the family whose private machinery it is (OWNERS)."""
    return next((owner for owner, users in OWNERS.items() if family in users), family)


def _private_names(tree: ast.AST) -> tuple[set[str], list[ast.Attribute]]:
    """Private names a module defines, and its ``obj._name`` reads of other objects."""
    defined, reads = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                if isinstance(node.ctx, ast.Store):
                    defined.add(node.attr)
            elif not (isinstance(base, ast.Call) and ast.unparse(base.func) == "super"):
                reads.append(node)
    return defined, reads


def test_no_family_reads_another_s_private_attributes():
    # obj._name, where _name is defined by another family (its private API):
    # such a caller needs a public way instead
    trees = {path: ast.parse(path.read_text()) for path in FILES}
    defined_by: dict[str, set[str]] = {}
    reads = []
    for path, tree in trees.items():
        group = _group(_family(_module_name(path)))
        names, attributes = _private_names(tree)
        defined_by.setdefault(group, set()).update(names)
        reads += [(path, group, a) for a in attributes]
    offences = [
        f"{path.relative_to(ROOT.parent)}:{a.lineno} reads {ast.unparse(a)}, "
        f"private to {sorted(g for g, n in defined_by.items() if a.attr in n)}"
        for path, group, a in reads
        if a.attr not in defined_by[group]
        and any(a.attr in n for g, n in defined_by.items() if g != group)
    ]
    assert offences == []


def test_the_attribute_check_sees_a_cross_family_read(tmp_path):
    tree = ast.parse("def f(clf):\n    return clf._to_images(1) + self._mine\n")
    _, reads = _private_names(tree)
    assert [ast.unparse(r) for r in reads] == ["clf._to_images"]


def test_the_layout_page_names_every_module():
    """docs/user_guide/layout.md's table lists each module of the tree."""
    import re

    page = (ROOT.parents[0] / "docs" / "user_guide" / "layout.md").read_text()
    rows = dict(re.findall(r"^\| (.+?) \| (.+) \|$", page, re.MULTILINE))
    named = {w for where in rows for w in re.findall(r"`([\w/.]+)`", where)}
    for path in sorted(FILES):
        rel = path.relative_to(ROOT)
        if rel.name in ("__init__.py", "__main__.py"):
            continue
        if len(rel.parts) == 1:
            assert rel.name in named, f"{rel} is not on the layout page"
        else:
            row = next((v for k, v in rows.items() if f"`{rel.parts[0]}/`" in k), "")
            assert f"`{rel.stem}`" in row, f"{rel} is not in the {rel.parts[0]}/ row"
