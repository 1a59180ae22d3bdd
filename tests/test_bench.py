"""The bench/ scripts still fit the package: every name they import from wordrec (or from a sibling script) exists.

The benchmarks are long and are not run here; what breaks them when the
package moves or renames something is an import, which this finds without
running them (imports inside functions included).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def _imports(tree: ast.AST):
    """(module, name or None, line) for every import in ``tree``, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.module, alias.name, node.lineno


def _top_level_names(path: Path) -> set:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_there_are_bench_scripts():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_what_a_bench_script_imports_exists(script):
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    siblings = {p.stem: p for p in SCRIPTS}
    missing = []
    for module, name, line in _imports(tree):
        root = module.split(".")[0]
        if root == "wordrec":
            mod = importlib.import_module(module)
            if name is not None and not hasattr(mod, name):
                try:
                    importlib.import_module(f"{module}.{name}")
                except ImportError:
                    missing.append(f"line {line}: {module}.{name}")
        elif root in siblings and name is not None and name not in _top_level_names(siblings[root]):
            missing.append(f"line {line}: {module}.{name}")
    assert not missing, f"{script.name} imports what does not exist: {missing}"


def test_a_bench_script_with_options_prints_its_help():
    # One that imports most of the package at start-up.
    done = subprocess.run([sys.executable, str(BENCH / "scale.py"), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr
