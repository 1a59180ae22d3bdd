"""The package's architecture: layers that import downwards only, no cycles, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wordrec"

#: Layers from the bottom up; a module may import from its own layer and those below.
LAYERS = ["wordrec.errors", "wordrec.core", "wordrec.io", "wordrec.jobs", "wordrec.api", "wordrec.cli"]
MAX_LINES = 400


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its text (in functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for t in targets:
            # The longest known module that the target names (a module, or a name in one).
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _layer(name: str) -> int:
    if name == "wordrec":  # the public surface: what `import wordrec` offers
        return LAYERS.index("wordrec.api")
    if name == "wordrec.__main__":
        return len(LAYERS) - 1
    for rank in range(len(LAYERS) - 1, -1, -1):
        if name == LAYERS[rank] or name.startswith(LAYERS[rank] + "."):
            return rank
    raise AssertionError(f"{name} belongs to no layer; add it to LAYERS")


def _graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    mods = _modules(package)
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _upward(graph) -> list[str]:
    """Every import of a module from a higher layer (``wordrec`` itself is only ``__version__``)."""
    return [
        f"{name} ({LAYERS[_layer(name)]}) imports {dep} ({LAYERS[_layer(dep)]})"
        for name, deps in graph.items()
        for dep in sorted(deps)
        if dep != "wordrec" and _layer(dep) > _layer(name)
    ]


def _cycle(graph) -> list[str]:
    """One import cycle as a list of modules (first = last), or [] if there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_every_module_imports_only_from_its_layer_or_below():
    assert not _upward(_graph()), "\n".join(_upward(_graph()))


def test_the_import_graph_has_no_cycle():
    assert _cycle(_graph()) == []


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path):
    # A fake package with both faults, so that the two checks above can fail.
    pkg = tmp_path / "wordrec"
    for sub in ("core", "jobs"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from wordrec.core.b import x\nfrom wordrec.jobs.c import y\n")
    (pkg / "core" / "b.py").write_text("def f():\n    from wordrec.core import a\n")
    (pkg / "jobs" / "c.py").write_text("y = 1\n")
    graph = _graph(pkg)
    assert _upward(graph) == ["wordrec.core.a (wordrec.core) imports wordrec.jobs.c (wordrec.jobs)"]
    assert _cycle(graph) == ["wordrec.core.a", "wordrec.core.b", "wordrec.core.a"]


@pytest.mark.parametrize("name", sorted(_modules()))
def test_no_module_is_over_400_lines(name):
    n = len(_modules()[name].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{name}: {n} lines"
