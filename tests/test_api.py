"""The Python API: Recognizer on arrays and paths, the same answers and models as the command line."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from conftest import make_tone_corpus, tone

import wordrec
from wordrec.api import TRAIN_OPTIONS, Recognizer, Result
from wordrec.cli import cli
from wordrec.core.train import TrainConfig
from wordrec.errors import WordrecError
from wordrec.io import corpus

SMALL = dict(n_states=3, n_mix=2, jobs=1)


def _tone_arrays(root):
    """The tone corpus as (arrays, words) in the order the CLI reads it."""
    found = corpus.load(make_tone_corpus(root))
    arrays = [sf.read(str(p))[0] for p, _ in found.items]
    return found, arrays, [w for _, w in found.items]


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    found, arrays, words = _tone_arrays(root / "data")
    rec = Recognizer(**SMALL).fit(arrays, words, sample_rate=8000)
    return root, found, arrays, words, rec


def test_the_package_exports_the_api_lazily():
    assert wordrec.Recognizer is Recognizer
    assert wordrec.WordrecError is WordrecError
    assert set(wordrec.__all__) <= set(dir(wordrec))
    with pytest.raises(AttributeError, match="no_such"):
        wordrec.no_such  # noqa: B018


def test_recognizer_defaults_are_train_configs():
    params = inspect.signature(Recognizer).parameters
    defaults = TrainConfig()
    for name in TRAIN_OPTIONS:
        assert params[name].default == getattr(defaults, name), name


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(n_states=0), "n_states"),
        (dict(n_mix=1000), "n_mix"),
        (dict(topology="circular"), "topology"),
        (dict(sample_rate=12.5), "sample_rate"),
        (dict(false_rejection=0.9), "false_rejection"),
        (dict(jobs=-1), "jobs"),
    ],
)
def test_options_are_checked_at_once(options, match):
    with pytest.raises(WordrecError, match=match):
        Recognizer(**options)
    with pytest.raises(TypeError):
        Recognizer(states=3)  # the CLI's name is not the Python one


def test_fit_on_arrays_then_predict_them(tones):
    _, _, arrays, words, rec = tones
    assert rec.words_ == ["high", "low", "mid"]
    assert rec.sample_rate_ == 8000
    assert 0.0 <= rec.threshold_ <= 1.0
    assert rec.predict(arrays, sample_rate=8000) == words
    results = rec.recognize(arrays[:2], sample_rate=8000, nbest=3)
    assert all(isinstance(r, Result) for r in results)
    assert [len(r.nbest) for r in results] == [3, 3]
    assert results[0].best_word == results[0].nbest[0][0] and results[0].log_lik == results[0].nbest[0][1]


def test_the_api_and_the_cli_train_the_same_model(tones, tmp_path):
    root, found, _, _, rec = tones
    cli_model = tmp_path / "cli.model"
    result = CliRunner().invoke(cli, ["train", str(root / "data"), "-o", str(cli_model), "--states", "3", "--mix", "2", "-j", "1"])
    assert result.exit_code == 0, result.output
    api_model = tmp_path / "api.model"
    rec.save(api_model)
    a, b = json.loads(cli_model.read_text()), json.loads(api_model.read_text())
    assert a == b  # every array, the calibration, the front end and the training record


def test_log_likelihoods_match_recognize_json(tones, tmp_path):
    root, found, _, _, rec = tones
    model = tmp_path / "m.model"
    rec.save(model)
    paths = [str(p) for p, _ in found.items[:4]]
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--json", "--nbest", "3", *paths])
    assert result.exit_code == 0, result.output
    lls = Recognizer.load(model).log_likelihoods(paths)
    assert lls.shape == (4, 3)
    for row, answer in zip(lls, json.loads(result.stdout)):
        for entry in answer["nbest"]:
            assert row[rec.words_.index(entry["word"])] == pytest.approx(entry["log_lik"], abs=1e-9)


def test_arrays_of_any_dtype_and_channels_answer_as_their_file_does(tones, tmp_path):
    _, _, _, _, rec = tones
    rate = 44100
    x = np.concatenate([tone([800], 0.3, rate, seed=3), tone([1100], 0.3, rate, seed=4)])
    stereo = np.stack([x, 0.5 * x], axis=1)
    pcm = np.round(stereo * 32767).astype(np.int16)
    path = tmp_path / "mid.wav"
    sf.write(str(path), pcm, rate, subtype="PCM_16")
    by_path = rec.log_likelihoods([path])
    by_array = rec.log_likelihoods([pcm], sample_rate=rate)
    assert np.array_equal(by_path, by_array)
    assert rec.predict([pcm, path], sample_rate=rate) == ["mid", "mid"]
    as_float32 = rec.log_likelihoods([(pcm / 32768.0).astype(np.float32)], sample_rate=rate)
    np.testing.assert_allclose(as_float32, by_path, rtol=1e-6)


def test_a_bad_recording_does_not_stop_the_batch(tones):
    _, _, arrays, words, rec = tones
    bad = [np.zeros(0), np.full(4000, np.nan), np.zeros(4000), arrays[0], np.zeros((2, 4000)), "/no/such.wav"]
    results = rec.recognize(bad, sample_rate=8000)
    assert [r.failure is None for r in results] == [False, False, True, True, False, False]
    assert results[3].word == words[0]
    assert results[2].word == "<silence>" and results[2].best_word is None  # silence is an answer
    assert "recordings[1]" in results[1].failure and "NaN" in results[1].failure
    assert "transpose" in results[4].failure
    assert "/no/such.wav" in results[5].failure
    assert [r.word for r in results] == [None, None, "<silence>", words[0], None, None]
    lls = rec.log_likelihoods(bad, sample_rate=8000)
    assert np.isnan(lls[0]).all() and np.isfinite(lls[3]).all()


def test_arrays_need_a_sample_rate_and_words_one_per_recording(tones):
    _, _, arrays, words, rec = tones
    with pytest.raises(WordrecError, match=r"recordings\[0\] is an array: give its sample_rate"):
        rec.predict(arrays[:1])
    with pytest.raises(WordrecError, match="2 rates for 1 recordings"):
        rec.predict(arrays[:1], sample_rate=[8000, 8000])
    with pytest.raises(WordrecError, match="one word per recording"):
        Recognizer(**SMALL).fit(arrays[:3], words[:2], sample_rate=8000)
    with pytest.raises(WordrecError, match="a sequence"):
        rec.predict(arrays[0], sample_rate=8000)
    with pytest.raises(WordrecError, match="not trained yet"):
        Recognizer().predict(arrays[:1], sample_rate=8000)


def test_fit_reports_unusable_recordings_and_progress(tones):
    _, _, arrays, words, _ = tones
    seen = []
    rec = Recognizer(**SMALL, reject=False).fit(
        arrays + [np.full(100, np.nan)], words + ["low"], sample_rate=8000, progress=lambda *a: seen.append(a)
    )
    assert len(rec.failures_) == 1 and "NaN" in rec.failures_[0]
    stages = [s for s, _, _ in seen]
    assert stages[0] == "Features" and stages[-1] == "Training"
    assert seen[-1][1] == seen[-1][2]  # the last call says the stage is done


def test_adapt_returns_a_new_recognizer_and_leaves_this_one(tones):
    _, _, arrays, words, rec = tones
    before = rec.model_
    means = [m.means.copy() for m in before.models]
    adapted = rec.adapt(arrays[:6], words[:6], sample_rate=8000)
    assert adapted is not rec and adapted.model_ is not before
    assert all(np.array_equal(m.means, k) for m, k in zip(rec.model_.models, means))
    assert any(not np.array_equal(a.means, b.means) for a, b in zip(adapted.model_.models, before.models))
    assert adapted.model_.training["adaptation"][-1]["labelled"] is True
    unlabelled = rec.adapt(arrays, sample_rate=8000)
    assert unlabelled.model_.training["adaptation"][-1]["labelled"] is False


def test_load_and_save_round_trip(tones, tmp_path):
    _, _, arrays, _, rec = tones
    rec.save(tmp_path / "a.model")
    again = Recognizer.load(tmp_path / "a.model")
    again.save(tmp_path / "b.model")
    assert (tmp_path / "a.model").read_bytes() == (tmp_path / "b.model").read_bytes()
    assert again.predict(arrays, sample_rate=8000) == rec.predict(arrays, sample_rate=8000)


def test_fit_folder_matches_fit_on_paths(tmp_path):
    data = make_tone_corpus(tmp_path / "data")
    (data / "notes.txt").write_text("not a recording")  # passed over
    a = Recognizer(**SMALL, reject=False).fit_folder(data)
    found = corpus.load(data)
    b = Recognizer(**SMALL, reject=False).fit([p for p, _ in found.items], [w for _, w in found.items])
    assert [s[0] for s in a.skipped_] == [str(data / "notes.txt")]
    assert all(np.array_equal(x.means, y.means) for x, y in zip(a.model_.models, b.model_.models))
