"""A model file written before the package moved into layers loads and answers as it did then.

``tests/data/before_layout.model`` was written by ``wordrec train`` at
commit abf2709 (the flat package, before issue 20) on three words of
data/demo/train (``--states 3 --mix 1 -j 1``); ``before_layout.answers.json``
holds that version's ``wordrec recognize --json`` answers for four test
recordings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wordrec import Recognizer
from wordrec.cli import cli

HERE = Path(__file__).resolve().parent
OLD = HERE / "data" / "before_layout.model"
ANSWERS = json.loads((HERE / "data" / "before_layout.answers.json").read_text())
DATA = HERE.parent / "data"


def test_an_old_model_file_answers_as_the_old_code_did():
    paths = [str(DATA / a["path"]) for a in ANSWERS]
    result = CliRunner().invoke(cli, ["recognize", "-m", str(OLD), "--json", *paths])
    assert result.exit_code == 0, result.output
    now = json.loads(result.stdout)
    assert [a["word"] for a in now] == [a["word"] for a in ANSWERS]
    for new, old in zip(now, ANSWERS):
        assert new["log_lik"] == pytest.approx(old["log_lik"], rel=1e-12)
        assert new["confidence"] == pytest.approx(old["confidence"], abs=1e-9)


def test_an_old_model_file_loads_in_the_api_with_its_words():
    rec = Recognizer.load(OLD)
    assert rec.words_ == ["go", "stop", "yes"]
    assert 0.0 < rec.threshold_ < 1.0
