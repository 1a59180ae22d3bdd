"""--scheduler: the same work on a dask.distributed cluster (a LocalCluster of 2 workers here) gives the same results."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import make_tone_corpus

from wordrec.cli import cli

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_tone_corpus(tmp_path_factory.mktemp("dask") / "data", n_per_word=6)


def _run(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result


def test_a_local_cluster_trains_the_same_model_bytes_and_gives_the_same_answers(corpus, tmp_path):
    small = ["--states", "3", "--mix", "2", "-q"]
    _run(["train", str(corpus), "-o", str(tmp_path / "j1.model"), "-j", "1", *small])
    _run(["train", str(corpus), "-o", str(tmp_path / "dask.model"), "--scheduler", "local:2", *small])
    assert (tmp_path / "dask.model").read_bytes() == (tmp_path / "j1.model").read_bytes()
    model = str(tmp_path / "j1.model")
    alone = _run(["recognize", "-m", model, str(corpus), "-q", "-j", "1"]).stdout
    assert _run(["recognize", "-m", model, str(corpus), "-q", "--scheduler", "local:2"]).stdout == alone
    assert len(alone.splitlines()) == 18


def test_a_scheduler_that_is_not_local_n_or_reachable_is_one_error_line(corpus, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(corpus), "-o", str(tmp_path / "m"), "--scheduler", "local:x", "-q"])
    assert result.exit_code == 1 and "local:N needs N from 1 to 256" in result.output
