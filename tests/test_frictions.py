"""What a newcomer met: messages whose counts did not match, and errors said late or not at all."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_tone_corpus, tone, train_tone_model, write_wav

from wordrec.cli import cli


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return train_tone_model(tmp_path_factory.mktemp("tones"))


def test_open_set_counts_say_how_many_files_of_how_many(tones, tmp_path):
    data, model, _ = tones
    oov = tmp_path / "oov"
    for k in range(6):  # two unknown "words": one close to "low", one far from every word
        f = (310, 480) if k % 2 else (3000, 3500)
        write_wav(oov / f"x{k}.wav", np.concatenate([tone([f[0]], 0.3, seed=40 + k), tone([f[1]], 0.3, seed=50 + k)]))
    text = run("eval", "-m", model, data, "--oov", oov)
    rep = json.loads(run("eval", "-m", model, data, "--oov", oov, "--json").stdout)
    answers = json.loads(run("recognize", "-m", model, oov, "--json").stdout)
    given = sum(a["word"] != "<unknown>" for a in answers)
    assert rep["n_false_acceptances"] == given
    assert f"({given} of 6 out-of-vocabulary files given a word)" in text.stdout
    rejected = rep["n_false_rejections"]
    assert f"({rejected} of {rep['n_in_vocabulary']} in-vocabulary files answered <unknown>)" in text.stdout


def test_the_train_summary_counts_what_it_listed(tmp_path):
    data = make_tone_corpus(tmp_path / "data")
    (data / "low" / "notes.txt").write_text("not audio")
    (data / "mid" / "readme.md").write_text("not audio")
    (data / "high" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = run("train", data, "-o", tmp_path / "m.model", "--states", "3", "--mix", "1", "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("Skipped:")]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert (len(skipped), len(errors)) == (2, 1)
    assert "3 words at 8000 Hz from 18 recordings; 2 files skipped and 1 error, listed above." in result.stderr


def test_one_of_a_thing_is_singular(tmp_path):
    data = tmp_path / "data"
    for k in range(4):
        write_wav(data / "hum" / f"h{k}.wav", np.concatenate([tone([300], 0.3, seed=k), tone([700], 0.3, seed=9 + k)]))
    (data / "hum" / "notes.txt").write_text("not audio")
    result = run("train", data, "-o", tmp_path / "m.model", "--states", "3", "--mix", "1", "-j", "1", "-q", "--no-reject")
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr and ": 1 word at 8000 Hz from 4 recordings; 1 file skipped, listed above." in result.stderr


def test_a_group_pattern_that_matches_nothing_is_said_first_and_once(tmp_path):
    data = make_tone_corpus(tmp_path / "data")
    result = run("eval", data, "--group-by", "_(zzz)_", "-q")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --group-by '_(zzz)_': found no file name matching it")


def test_eval_says_up_front_which_words_the_model_lacks(tones, tmp_path):
    data, model, _ = tones
    test = make_tone_corpus(tmp_path / "test", n_per_word=2)
    for k in range(3):
        write_wav(test / "buzz" / f"b{k}.wav", np.concatenate([tone([2500], 0.3, seed=k), tone([2900], 0.3, seed=5 + k)]))
    result = run("eval", "-m", model, test)
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert notes == ["Note: the model has no word 'buzz' (3 files): those files can only count as errors"]
    assert json.loads(run("eval", "-m", model, test, "--json").stdout)["per_word"]["buzz"]["n_correct"] == 0


def test_a_recording_of_several_words_gets_a_hint_at_segment(tones, tmp_path):
    data, model, _ = tones
    word = np.concatenate([tone([800], 0.3, seed=1), tone([1100], 0.3, seed=2)])
    pause = 0.002 * np.random.default_rng(0).standard_normal(4000)
    take = write_wav(tmp_path / "take.wav", np.concatenate([word, pause, word, pause, word, pause, word]))
    single = write_wav(tmp_path / "one.wav", word)
    result = run("recognize", "-m", model, take, single)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("Note:")]
    assert len(notes) == 1 and str(take) in notes[0] and "use --segment" in notes[0]
