"""Integration on real recordings (skipped where the dataset is absent)."""

import json

from click.testing import CliRunner

from wordrec.cli import cli


def test_fsdd_default_training_reaches_99_percent(fsdd, tmp_path):
    model = tmp_path / "fsdd.model"
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(fsdd / "train"), "-o", str(model), "-q"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["eval", "-m", str(model), str(fsdd / "test"), "--json", "-q"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    assert rep["n_files"] == 250
    assert rep["accuracy"] >= 0.99, rep["errors"]
