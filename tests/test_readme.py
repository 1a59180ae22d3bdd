"""Every example in the README runs: the `$ wordrec ...` command lines on the demo data, and the Python blocks."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def commands(text: str) -> list[str]:
    """The command lines of the README's examples: indented lines starting with ``$ ``."""
    return [m.group(1) for m in re.finditer(r"^ {4,}\$ (.+)$", text, flags=re.M)]


def python_blocks(text: str) -> list[str]:
    """The fenced ```python blocks of the README."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_the_readme_is_a_short_guide():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


def test_the_extractors_find_examples():
    text = "intro\n\n    $ wordrec train a -o b\n    out\n```python\nx = 1\n```\n"
    assert commands(text) == ["wordrec train a -o b"]
    assert python_blocks(text) == ["x = 1\n"]


@pytest.mark.slow
def test_every_command_in_the_readme_runs_on_the_demo_data(tmp_path):
    """In the README's order, in a folder where ``data/`` is the repository's (the examples' paths)."""
    (tmp_path / "data").symlink_to(REPO / "data")
    found = commands(README.read_text(encoding="utf-8"))
    assert len(found) >= 6 and any(c.startswith("wordrec train ") for c in found)
    wordrec = Path(sys.executable).parent / "wordrec"
    for line in found:
        argv = shlex.split(line)
        assert argv[0] == "wordrec", line
        done = subprocess.run([str(wordrec), *argv[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert done.stdout.strip(), f"{line}: printed nothing on stdout"


@pytest.mark.slow
def test_every_python_example_in_the_readme_runs(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    for code in blocks:
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{code}\n{done.stderr}"
