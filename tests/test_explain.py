"""explain, inspect and the confusable pairs: the numbers behind the pictures."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import tone, train_tone_model, write_wav
from wordrec.cli import cli
from wordrec.core import confusable
from wordrec.core.explain import emissions, explain, inspect, path_terms, state_segments
from wordrec.core.features import FeatureConfig
from wordrec.core.gmm import logsumexp
from wordrec.core.hmm import viterbi
from wordrec.core.model import ModelSet, Outlier, WordModel
from wordrec.core.score import score
from wordrec.errors import WordrecError
from wordrec.io import audio, modelfile, validate_held_out
from wordrec.jobs import recognition


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """The tone corpus and a 3-state, 2-Gaussian model trained on it by the CLI."""
    data, model, _ = train_tone_model(tmp_path_factory.mktemp("tones"))
    return data, model, modelfile.load(model)


def _word(name, rng, n_states, n_features, left_to_right=True, n_mix=2):
    if left_to_right:
        stay = rng.uniform(0.3, 0.8, n_states)
        trans = np.diag(stay) + np.diag(1 - stay[:-1], 1)
        trans[-1, -1] = 1.0
        start = np.eye(n_states)[0]
        final = np.arange(n_states) == n_states - 1
    else:
        trans = rng.dirichlet(np.ones(n_states), n_states)
        start = rng.dirichlet(np.ones(n_states))
        final = np.ones(n_states, dtype=bool)
    return WordModel(name, start, trans, final, rng.dirichlet(np.ones(n_mix), n_states),
                     rng.normal(size=(n_states, n_mix, n_features)), rng.uniform(0.5, 2.0, (n_states, n_mix, n_features)))


def _tiny_set(rng, left_to_right=True):
    words = tuple(_word(w, rng, 3, 2, left_to_right) for w in ("a", "b"))
    outlier = Outlier(0.05, np.zeros(2), np.full(2, 9.0))  # large enough to matter in the sums
    return ModelSet(FeatureConfig(), words, outlier=outlier)


def _brute_force(wm, log_b):
    """Log probability of every state path: (paths, log_probs)."""
    n_frames, n_states = log_b.shape
    paths = np.array(list(itertools.product(range(n_states), repeat=n_frames)))
    lp = wm.log_start[paths[:, 0]] + log_b[0, paths[:, 0]] + wm.log_end[paths[:, -1]]
    for t in range(1, n_frames):
        lp = lp + wm.log_trans[paths[:, t - 1], paths[:, t]] + log_b[t, paths[:, t]]
    return paths, lp


@pytest.mark.parametrize("left_to_right", [True, False])
def test_viterbi_and_its_per_frame_terms_match_a_brute_force_search(rng, left_to_right):
    models = _tiny_set(rng, left_to_right)
    feats = rng.normal(size=(6, 2)) * 2.0
    for wm in models.models:
        log_b = emissions(models, wm, feats)
        path, v = viterbi(log_b, wm.log_start, wm.log_trans, wm.log_end)
        paths, lp = _brute_force(wm, log_b)
        assert np.isclose(v, lp.max(), rtol=0, atol=1e-9)
        np.testing.assert_array_equal(path, paths[np.argmax(lp)])
        emission, transition = path_terms(wm, log_b, path)
        assert np.isclose((emission + transition).sum(), v, rtol=0, atol=1e-9)
        # The sum over all paths is recognition's score: the emissions are the ones it uses.
        assert np.isclose(logsumexp(lp, axis=0), score(models, [feats])[0, models.words.index(wm.word)], rtol=1e-12)


def test_emissions_include_the_outlier_as_recognition_does(rng):
    models = _tiny_set(rng)
    without = ModelSet(models.features, models.models)
    feats = rng.normal(size=(5, 2)) * 6.0  # far from the states: the outlier decides
    wm = models.models[0]
    log_b, plain = emissions(models, wm, feats), emissions(without, wm, feats)
    w = models.outlier.weight
    expected = np.logaddexp(np.log1p(-w) + plain, models.outlier.log_density(np.vstack([feats.T**2, feats.T]))[:, None])
    np.testing.assert_allclose(log_b, expected, rtol=1e-12)


def test_state_segments_tile_the_frames():
    times = 0.1 + 0.01 * np.arange(7)
    segs = state_segments(np.array([0, 0, 1, 1, 1, 3, 3]), times, 0.01)
    assert [s["state"] for s in segs] == [0, 1, 3]
    assert [s["n_frames"] for s in segs] == [2, 3, 2]
    assert np.isclose(segs[0]["start_s"], 0.095) and np.isclose(segs[-1]["end_s"], 0.165)
    assert all(np.isclose(a["end_s"], b["start_s"]) for a, b in zip(segs, segs[1:]))


def _padded_recording(tmp_path, data):
    """A tone-corpus recording with 0.4 s of faint noise before and after (something to trim)."""
    import soundfile as sf

    word, rate = sf.read(str(next((data / "mid").glob("*.wav"))))
    quiet = 0.001 * np.random.default_rng(3).standard_normal(int(0.4 * rate))
    path = write_wav(tmp_path / "padded.wav", np.concatenate([quiet, word, quiet]), rate)
    return path, audio.read(path)[0], rate  # as stored (16-bit)


def test_explain_gives_what_recognition_gives_and_consistent_alignments(tones, tmp_path):
    data, _, models = tones
    path, signal, rate = _padded_recording(tmp_path, data)
    e = explain(models, signal, rate, nbest=3)
    answer = recognition.recognize_files(models, [path], nbest=3)[0]
    assert [w["word"] for w in e["nbest"]] == list(answer.ranked.words)
    np.testing.assert_allclose([w["log_lik"] for w in e["nbest"]], answer.ranked.log_liks, rtol=1e-12)
    assert e["answer"] == answer.word and e["n_frames"] == answer.n_frames
    assert np.isclose(e["confidence"], answer.confidence, rtol=1e-12)
    # Endpointing cut the faint noise: the endpoints lie inside it, around the word.
    assert 0.2 < e["endpoints"]["start_s"] < 0.45 and len(signal) / rate - 0.45 < e["endpoints"]["end_s"]
    assert e["endpoints"]["end_s"] < len(signal) / rate - 0.2
    times = np.array(e["frame_times_s"])
    assert len(times) == e["n_frames"] and np.all(np.diff(times) > 0)
    by_word = {wm.word: wm for wm in models.models}
    for w in e["nbest"]:
        states = np.array(w["states"])
        wm = by_word[w["word"]]
        assert len(states) == e["n_frames"]  # every trimmed frame has a state
        assert states[0] == 0 and wm.final[states[-1]]
        assert set(np.diff(states)) <= {0, 1}  # left to right, no skips
        assert sum(s["n_frames"] for s in w["segments"]) == e["n_frames"]
        assert np.isclose(sum(w["frame_log_lik"]), w["viterbi_log_lik"], rtol=0, atol=1e-8)
        assert w["viterbi_log_lik"] <= w["log_lik"]
    d = e["difference"]
    assert (d["best"], d["runner_up"]) == (e["nbest"][0]["word"], e["nbest"][1]["word"])
    total = e["nbest"][0]["viterbi_log_lik"] - e["nbest"][1]["viterbi_log_lik"]
    assert np.isclose(sum(d["per_frame"]), total, rtol=0, atol=1e-8)
    assert np.isclose(d["running"][-1], total, rtol=0, atol=1e-8) and np.isclose(d["total"], total)


def test_explain_a_span_of_a_take_as_a_file_holding_it(tones, tmp_path):
    data, _, models = tones
    _, word, rate = _padded_recording(tmp_path, data)
    other = tone([300], 0.5, rate, seed=9)
    take = np.concatenate([other, np.zeros(rate // 2), word])
    start = (len(other) + rate // 2) / rate
    e = explain(models, take, rate, start=start, end=len(take) / rate)
    alone = explain(models, word, rate)
    assert e["answer"] == alone["answer"]
    assert [w["word"] for w in e["nbest"]] == [w["word"] for w in alone["nbest"]]
    assert np.isclose(e["endpoints"]["start_s"], alone["endpoints"]["start_s"] + start, atol=1.5 / rate)
    assert np.isclose(e["span"]["start_s"], start, atol=1.0 / rate)
    # Offsets carry every time along.
    shifted = explain(models, word, rate, offset=7.0)
    np.testing.assert_allclose(np.array(shifted["frame_times_s"]) - 7.0, alone["frame_times_s"], atol=1e-9)


def test_explain_refuses_empty_spans_silence_and_no_word(tones):
    _, _, models = tones
    rate = models.features.sample_rate
    signal = tone([800, 1100], 0.6, rate)
    with pytest.raises(WordrecError, match="empty or outside"):
        explain(models, signal, rate, start=0.5, end=0.4)
    with pytest.raises(WordrecError, match="empty or outside"):
        explain(models, signal, rate, start=2.0)
    noise = 0.01 * np.random.default_rng(0).standard_normal(rate)
    with pytest.raises(WordrecError, match="no speech"):
        explain(models, noise, rate)


def test_near_counts_and_the_record_of_close_pairs():
    # Recordings of word 0 (10 frames each): the second comes within 1 nat/frame of word 1.
    scores = np.array([[-100.0, -130.0, -200.0], [-100.0, -105.0, -200.0], [-150.0, -100.0, -120.0]])
    near = confusable.near_counts(scores, np.array([0, 0, 1]), np.array([10, 10, 10]))
    np.testing.assert_array_equal(near, [[2, 1, 0], [0, 1, 0], [0, 0, 0]])
    assert confusable.record(near, ["a", "b", "c"])["confusable"] == []  # one close recording is no pattern
    rec = confusable.record(3 * near, ["a", "b", "c"])
    assert rec["confusable"] == [{"word": "a", "close_to": "b", "n_close": 3, "share": 0.5}]
    assert rec["recordings"] == {"a": 6, "b": 3, "c": 0}
    validate_held_out.check(rec, ["a", "b", "c"])
    lines = confusable.warnings(ModelSet(FeatureConfig(), (), diagnostics={"held_out": rec}))
    assert lines == ["Warning: 'a' and 'b' are close: 50 % of held-out 'a' within 1 nat per frame of 'b'; "
                     "consider other command words"]


def test_model_files_with_and_without_the_record_load(tones, tmp_path):
    _, model, models = tones
    raw = json.loads(model.read_text())
    assert raw["diagnostics"]["held_out"]["recordings"] == {w: 6 for w in models.words}
    old = dict(raw, diagnostics={k: v for k, v in raw["diagnostics"].items() if k != "held_out"})
    (tmp_path / "old.model").write_text(json.dumps(old))
    info = inspect(modelfile.load(tmp_path / "old.model"))
    assert info["confusable"] is None
    # The expected rates live in the calibration, per operating point.
    assert info["calibration"]["held_out_false_rejection"] == models.calibration.expected_false_rejection is not None
    assert info["calibration"]["new_voices"]["held_out_false_acceptance"] == models.calibration.new_voices.expected_false_acceptance
    # Files from before kept them in the held-out record: they are read from there.
    older = dict(raw, calibration={k: v for k, v in raw["calibration"].items() if not k.startswith("expected_")})
    older["diagnostics"]["held_out"] = dict(raw["diagnostics"]["held_out"], false_rejection=0.02, false_acceptance=0.3)
    (tmp_path / "older.model").write_text(json.dumps(older))
    info = inspect(modelfile.load(tmp_path / "older.model"))
    assert (info["calibration"]["held_out_false_rejection"], info["calibration"]["held_out_false_acceptance"]) == (0.02, 0.3)
    bad = [("confusable", [{"word": "nope", "close_to": "low", "n_close": 1, "share": 0.5}], "confusable\\[0\\].word"),
           ("confusable", [{"word": "mid", "close_to": "low", "n_close": 1, "share": 2}], "confusable\\[0\\].share"),
           ("recordings", {"mid": -1}, "recordings"), ("close_nats_per_frame", 0, "close_nats_per_frame")]
    for key, value, field in bad:
        damaged = json.loads(model.read_text())
        damaged["diagnostics"]["held_out"][key] = value
        (tmp_path / "bad.model").write_text(json.dumps(damaged))
        with pytest.raises(WordrecError, match=f"diagnostics.held_out.{field}"):
            modelfile.load(tmp_path / "bad.model")


def test_train_warns_about_close_pairs(tmp_path, monkeypatch):
    # Counted as close from any distance, every ordered pair of the three words is listed.
    monkeypatch.setattr(confusable, "CLOSE_NATS", 1e6)
    _, model, result = train_tone_model(tmp_path)
    warned = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warned) == 6 and all("100 % of held-out" in line for line in warned)
    pairs = inspect(modelfile.load(model))["confusable"]["pairs"]
    assert {(p["word"], p["close_to"]) for p in pairs} == {(a, b) for a in ("high", "low", "mid") for b in ("high", "low", "mid") if a != b}


def test_inspect_reports_the_model(tones):
    _, _, models = tones
    info = inspect(models)
    assert info["words"] == models.words
    for wm in models.models:
        d, record = info["per_word"][wm.word], models.diagnostics["words"][wm.word]
        assert (d["n_states"], d["n_mix"], d["n_gaussians"]) == (wm.n_states, wm.n_mix, wm.n_states * wm.n_mix)
        assert d["n_recordings"] == record["n_recordings"] == 6
        assert [len(s) for s in d["em"]] == [len(s) for s in record["log_lik"]]
        assert np.isclose(d["em"][-1][-1], record["log_lik_per_frame"])
    assert info["calibration"]["threshold"] == models.calibration.threshold
    assert info["features"]["sample_rate"] == models.features.sample_rate
    json.dumps(info, allow_nan=False)


def test_explain_and_inspect_commands(tones, tmp_path):
    data, model, models = tones
    path, _, _ = _padded_recording(tmp_path, data)
    runner = CliRunner()
    out = runner.invoke(cli, ["explain", "-m", str(model), str(path), "--json", "--nbest", "2"])
    assert out.exit_code == 0, out.output
    e = json.loads(out.stdout)
    assert e["path"] == str(path) and len(e["nbest"]) == 2
    text = runner.invoke(cli, ["explain", "-m", str(model), str(path)])
    assert text.exit_code == 0 and f"answer\t{e['answer']}" in text.stdout and "decided\t" in text.stdout
    usage = runner.invoke(cli, ["explain", "-m", str(model), str(path), "--start", "0.1"])
    assert usage.exit_code == 2 and "--start and --end" in usage.stderr
    missing = runner.invoke(cli, ["explain", "-m", str(model), str(tmp_path / "none.wav")])
    assert missing.exit_code == 1 and "none.wav: no such file" in missing.stderr
    info = runner.invoke(cli, ["inspect", str(model)])
    assert info.exit_code == 0 and info.stdout.startswith("words\t3\thigh low mid")
    assert "rejection\tknown voices (default): threshold" in info.stdout and "confusable\t" in info.stdout
    as_json = runner.invoke(cli, ["inspect", str(model), "--json"])
    assert json.loads(as_json.stdout)["words"] == models.words
