"""Untrimmed recordings and long takes, built from FSDD at test time.

Two models are trained for the whole module: one on fsdd/train as it is,
one on fsdd/train padded with noise.  Skipped when FSDD is absent.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import soundfile as sf
from pathlib import Path
from click.testing import CliRunner
from conftest import REPO, fsdd_root, write_wav

sys.path.insert(0, str(REPO / "bench"))
# Where a word is in a clean recording: the same definition the long-take bench scores against.
from longtake import word_extent  # noqa: E402

from wordrec.cli import cli
from wordrec.core.augment import NoiseCopies
from wordrec.core.features import FeatureConfig
from wordrec.core.train import TrainConfig
from wordrec.io import corpus, modelfile
from wordrec.jobs import featurise, segmenting
from wordrec.jobs.training import fit_all, train_with_rejection

pytestmark = pytest.mark.fsdd

RATE = 8000
SNR_DB = 30.0


@pytest.fixture(scope="module")
def root():
    r = fsdd_root()
    if not (r / "train").is_dir() or not (r / "test").is_dir():
        pytest.skip(f"FSDD not found at {r} (set WORDREC_FSDD)")
    return r


def _noise(rng, n):
    """White or pink noise, unit RMS."""
    w = rng.standard_normal(n)
    if rng.random() < 0.5:
        spec = np.fft.rfft(w)
        spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
        w = np.fft.irfft(spec, n)
    return w / w.std()


def _pad(x, rng):
    """0.3-1.0 s of noise before and after, noise throughout at SNR_DB below the word."""
    before, after = (int(rng.uniform(0.3, 1.0) * RATE) for _ in range(2))
    y = np.concatenate([np.zeros(before), x, np.zeros(after)])
    y += _noise(rng, len(y)) * np.sqrt(np.mean(x**2)) * 10 ** (-SNR_DB / 20)
    return np.clip(y, -1, 1)


def _train(data, cfg, reject=False):
    items = corpus.load(data).items
    jobs = os.cpu_count() or 1
    noise = NoiseCopies.of(TrainConfig())
    by_word, _, copies = featurise.features_by_word(list(items), cfg, jobs=jobs, noise=noise)
    if reject:  # with the background model and calibrated confidence, as 'wordrec train' does
        return train_with_rejection(by_word, cfg, TrainConfig(), jobs=jobs, copies=copies)
    return fit_all(by_word, cfg, TrainConfig(), jobs=jobs, copies=copies)


def _accuracy(model_path, data) -> float:
    """'wordrec eval' on a folder; files that fail count as errors."""
    result = CliRunner().invoke(cli, ["eval", "-m", str(model_path), str(data), "--json", "-q"])
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    return rep["n_correct"] / (rep["n_files"] + rep.get("n_failed", 0))


@pytest.fixture(scope="module")
def padded(root, tmp_path_factory):
    """fsdd/{train,test} with every recording padded with noise, as files."""
    out = tmp_path_factory.mktemp("padded")
    rng = np.random.default_rng(7)
    for split in ("train", "test"):
        for path, word in corpus.load(root / split).items:
            x, rate = sf.read(str(path))
            assert rate == RATE
            write_wav(out / split / word / Path(path).name, _pad(x, rng), RATE)
    return out


@pytest.fixture(scope="module")
def clean_model(root, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "clean.model"
    modelfile.save(_train(root / "train", FeatureConfig.for_rate(RATE), reject=True), path)
    return path


@pytest.fixture(scope="module")
def padded_model(padded, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "padded.model"
    modelfile.save(_train(padded / "train", FeatureConfig.for_rate(RATE)), path)
    return path


@pytest.fixture(scope="module")
def isolated(root, clean_model) -> float:
    """The accuracy the bars are measured against: clean train -> clean test."""
    return _accuracy(clean_model, root / "test")


def test_padded_train_and_test_within_1_point_of_clean(padded, padded_model, isolated):
    assert isolated >= 0.98
    assert _accuracy(padded_model, padded / "test") >= isolated - 0.01


def test_clean_train_padded_test_within_2_points(padded, clean_model, isolated):
    assert _accuracy(clean_model, padded / "test") >= isolated - 0.02


# -- long takes ---------------------------------------------------------------


def _take(root, rng, n_words=20):
    """Random test words at one level (+-3 dB) with 0.2-1.5 s pauses, in
    white or pink noise SNR_DB below the words: (signal, [(start_s, end_s, word)])."""
    items = corpus.load(root / "test").items
    parts, truth, pos = [], [], 0
    for k in rng.choice(len(items), n_words, replace=False):
        path, word = items[k]
        x, _ = sf.read(str(path))
        x = x / np.sqrt(np.mean(x**2)) * 0.05 * 10 ** (rng.uniform(-3, 3) / 20)
        pause = np.zeros(int(rng.uniform(0.2, 1.5) * RATE))
        a, b = word_extent(x)
        truth.append(((pos + len(pause) + a) / RATE, (pos + len(pause) + b) / RATE, word))
        parts += [pause, x]
        pos += len(pause) + len(x)
    parts.append(np.zeros(int(rng.uniform(0.2, 1.5) * RATE)))
    y = np.concatenate(parts)
    y += _noise(rng, len(y)) * 0.05 * 10 ** (-SNR_DB / 20)
    return np.clip(y, -1, 1), truth


def _match(segments, truth, tol=0.1):
    """(words found within tol at both ends, of which recognised correctly, spurious segments).

    A segment is spurious when it overlaps no word, or when it is not the
    segment overlapping its word the most (a word split in two)."""
    found = correct = 0
    for a, b, word in truth:
        hits = [s for s in segments if abs(s.start_s - a) <= tol and abs(s.end_s - b) <= tol]
        if hits:
            found += 1
            correct += hits[0].ranked is not None and hits[0].ranked.best == word
    best = {}
    for i, s in enumerate(segments):
        overlaps = [min(s.end_s, b) - max(s.start_s, a) for a, b, _ in truth]
        j = int(np.argmax(overlaps))
        if overlaps[j] > 0 and overlaps[j] > best.get(j, (None, 0))[1]:
            best[j] = (i, overlaps[j])
    spurious = len(segments) - len(best)
    return found, correct, spurious


@pytest.fixture(scope="module")
def takes(root, tmp_path_factory):
    out = tmp_path_factory.mktemp("takes")
    rng = np.random.default_rng(2024)
    made = []
    for k in range(5):
        y, truth = _take(root, rng)
        made.append((write_wav(out / f"take{k}.wav", y, RATE), truth))
    return made


def test_long_takes_words_found_and_recognised(takes, clean_model, isolated):
    models = modelfile.load(clean_model)
    n_words = n_found = n_correct = n_spurious = n_segments = 0
    for path, truth in takes:
        segments = list(segmenting.segment_file(models, path))
        found, correct, spurious = _match(segments, truth)
        n_words += len(truth)
        n_found += found
        n_correct += correct
        n_spurious += spurious
        n_segments += len(segments)
    assert n_found >= 0.97 * n_words, (n_found, n_words)
    assert n_spurious <= 0.02 * n_segments, (n_spurious, n_segments)
    assert n_correct / n_found >= isolated - 0.02, (n_correct, n_found, isolated)


def test_a_take_at_another_rate_and_in_stereo_gives_the_same_segments(takes, clean_model, tmp_path):
    from scipy.signal import resample_poly

    path, _ = takes[0]
    x, _ = sf.read(str(path))
    y = resample_poly(x, 441, 80)
    other = tmp_path / "take44k.wav"
    sf.write(str(other), np.stack([y, 0.8 * y], axis=1), 44100, subtype="PCM_16")
    models = modelfile.load(clean_model)
    at_8k = list(segmenting.segment_file(models, path))
    at_44k = list(segmenting.segment_file(models, other))
    assert len(at_44k) == len(at_8k)
    # One weak edge may fall on the other side of a threshold: the take's 8 kHz
    # words have their fricatives near 4 kHz, where the resampling to 44.1 kHz
    # attenuates them by a dB or two.
    moved = [(a, b) for a, b in zip(at_8k, at_44k) if abs(a.start_s - b.start_s) > 0.03 or abs(a.end_s - b.end_s) > 0.03]
    assert len(moved) <= 1, moved
    assert sum(a.ranked.best == b.ranked.best for a, b in zip(at_8k, at_44k)) >= len(at_8k) - 1


def test_segment_cli_prints_one_line_per_word_and_json(takes, clean_model, tmp_path):
    path, truth = takes[0]
    runner = CliRunner()
    result = runner.invoke(cli, ["recognize", "-m", str(clean_model), "--segment", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert abs(len(lines) - len(truth)) <= 1
    for line in lines:
        p, start, end, word, score, confidence = line.split("\t")
        assert p == str(path) and 0 <= float(start) < float(end) and float(score) < 0
        assert 0.0 <= float(confidence) <= 1.0
        assert word in "0123456789" or word == "<unknown>"
    # Mostly words: the take is FSDD test words, the model knows all digits.
    assert sum(line.split("\t")[3] != "<unknown>" for line in lines) >= 0.9 * len(lines)
    result = runner.invoke(cli, ["recognize", "-m", str(clean_model), "--segment", "--json", str(path)])
    assert result.exit_code == 0, result.output
    segments = json.loads(result.stdout)
    assert [f"{s['start_s']:.3f}" for s in segments] == [line.split("\t")[1] for line in lines]
    assert {"path", "start_s", "end_s", "word", "best_word", "log_lik", "confidence", "n_frames", "nbest"} <= set(segments[0])
    assert [s["word"] for s in segments] == [line.split("\t")[3] for line in lines]
    # --no-reject answers a word for every segment.
    result = runner.invoke(cli, ["recognize", "-m", str(clean_model), "--segment", "--no-reject", "--json", str(path)])
    assert all(s["word"] == s["best_word"] for s in json.loads(result.stdout))
    # A threshold of 1 rejects everything.
    result = runner.invoke(cli, ["recognize", "-m", str(clean_model), "--segment", "--threshold", "1", "--json", str(path)])
    assert {s["word"] for s in json.loads(result.stdout)} == {"<unknown>"}


def test_no_speech_is_answered_silence_not_scored(clean_model, tmp_path, rng):
    quiet = write_wav(tmp_path / "noise.wav", 0.01 * rng.standard_normal(3 * RATE), RATE)
    result = CliRunner().invoke(cli, ["recognize", "-m", str(clean_model), "--segment", str(quiet)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{quiet}\t0.000\t3.000\t<silence>\t-\t-\n" and result.stderr == ""
    result = CliRunner().invoke(cli, ["recognize", "-m", str(clean_model), str(quiet)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{quiet}\t<silence>\t-\t-\n" and result.stderr == ""
    result = CliRunner().invoke(cli, ["recognize", "-m", str(clean_model), "--json", str(quiet)])
    assert json.loads(result.stdout)[0] | {"path": None} == {
        "path": None, "word": "<silence>", "best_word": None, "log_lik": None, "confidence": None,
        "accepted": False, "n_frames": 0, "nbest": [],
    }
