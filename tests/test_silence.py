"""Silence is an answer: recordings without speech are answered <silence>, in every output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_tone_corpus, tone, train_tone_model, write_wav

from wordrec.api import Recognizer
from wordrec.cli import cli
from wordrec.io.validate import word_problem


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return train_tone_model(tmp_path_factory.mktemp("tones"))


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_silence_in_an_open_set_eval_is_a_false_rejection_for_a_word_and_no_acceptance_for_oov(tones, tmp_path):
    data, model, _ = tones
    test = make_tone_corpus(tmp_path / "test", n_per_word=2)
    write_wav(test / "mid" / "nothing.wav", np.zeros(8000))
    oov = tmp_path / "oov"
    write_wav(oov / "hiss.wav", 0.01 * np.random.default_rng(1).standard_normal(16000))
    write_wav(oov / "buzz.wav", np.concatenate([tone([2500], 0.3, seed=1), tone([2900], 0.3, seed=2)]))
    result = run("eval", "-m", model, test, "--oov", oov, "--json")
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    answers = {e["path"]: e["recognized"] for e in rep["errors"]}
    assert answers[str(test / "mid" / "nothing.wav")] == "<silence>"
    assert rep["labels"][-1] == "<silence>"
    silent_row = rep["confusion"][rep["labels"].index("<unknown>")][rep["labels"].index("<silence>")]
    assert silent_row == 1  # the hiss: an unknown recording answered <silence>
    recognized = json.loads(run("recognize", "-m", model, *sorted(test.rglob("*.wav")), "--json").stdout)
    rejected = sum(not a["accepted"] for a in recognized)
    assert rep["n_false_rejections"] == rejected >= 1
    assert rep["n_in_vocabulary"] == 7 and rep["n_failed"] == 0


def test_silence_cannot_be_a_word(tmp_path):
    assert "without speech" in word_problem("<silence>")
    data = make_tone_corpus(tmp_path / "data")
    write_wav(data / "<silence>" / "s.wav", np.zeros(800))
    result = run("train", data, "-o", tmp_path / "m.model", "--states", "3", "--mix", "1", "-j", "1", "-q", "--no-reject")
    assert result.exit_code == 0, result.output
    assert "folder name cannot be a word: <silence> is the answer for recordings without speech" in result.stderr


def test_the_api_answers_silence_for_arrays_and_files(tones, tmp_path):
    _, model, _ = tones
    rec = Recognizer.load(model)
    rng = np.random.default_rng(3)
    hum = np.full(8000, 0.2)
    hiss = 0.003 * rng.standard_normal(8000)
    word = np.concatenate([tone([800], 0.3, seed=1), tone([1100], 0.3, seed=2)])
    path = write_wav(tmp_path / "quiet.wav", np.zeros(4000))
    assert rec.predict([np.zeros(8000, np.int16), hum, hiss, word, path], sample_rate=8000) == [
        "<silence>", "<silence>", "<silence>", "mid", "<silence>"
    ]


def test_a_model_that_does_not_trim_still_answers_silence(tmp_path):
    data = make_tone_corpus(tmp_path / "data")
    result = run("train", data, "-o", tmp_path / "m.model", "--states", "3", "--mix", "1", "-j", "1", "-q", "--no-trim")
    assert result.exit_code == 0, result.output
    rec = Recognizer.load(tmp_path / "m.model")
    assert not rec.model_.features.trim
    word = np.concatenate([tone([800], 0.3, seed=1), tone([1100], 0.3, seed=2)])
    assert rec.predict([np.zeros(8000), word], sample_rate=8000) == ["<silence>", "mid"]
