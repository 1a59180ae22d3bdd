"""Hostile input: every bad recording or training tree gets an answer or one clear line.

All hostile files are built here, in tmp_path, at test time.  The rule under
test: a recognised file prints ``path<TAB>word<TAB>score``; a bad one prints
exactly one ``Error: <path>: <problem>`` line on stderr; the rest of the
batch is still answered; no traceback, ever.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from conftest import REPO, make_tone_corpus, tone, write_wav

from wordrec.cli import cli
from wordrec.errors import WordrecError
from wordrec.io import audio, modelfile

RATE = 8000
WORDS = ["high", "low", "mid"]


def _mid(rate=RATE) -> np.ndarray:
    """A fresh rendition of the tone corpus' word "mid" (800 Hz then 1100 Hz)."""
    return np.concatenate([tone([800], 0.3, rate, seed=7), tone([1100], 0.3, rate, seed=8)])


def invoke(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    # A traceback would show up as an exception other than SystemExit.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def answers(result) -> dict:
    """stdout of ``recognize``: path -> recognised word."""
    out = {}
    for line in result.stdout.splitlines():
        path, word, _score = line.split("\t")[:3]
        out[path] = word
    return out


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """A small trained model over the tone corpus: (data folder, model path)."""
    root = tmp_path_factory.mktemp("robust")
    data = make_tone_corpus(root / "data")
    path = root / "tones.model"
    result = invoke(["train", data, "-o", path, "--states", "3", "--mix", "2", "-j", "1", "-q", "--no-reject"])
    assert result.exit_code == 0, result.output
    return data, path


# --- hostile single files -------------------------------------------------------------


def _put(path: Path, content) -> Path:
    """Write bytes or text to ``path``; return the path."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _wav_bytes(tmp: Path) -> bytes:
    return write_wav(tmp / "src.wav", _mid()).read_bytes()


def _patched(tmp: Path, name: str, offset: int, value: int, size: int) -> Path:
    raw = bytearray(_wav_bytes(tmp))
    raw[offset : offset + size] = value.to_bytes(size, "little")
    path = tmp / name
    path.write_bytes(bytes(raw))
    return path


def _ten_minutes(tmp: Path) -> Path:
    path = tmp / "ten_minutes.wav"
    with sf.SoundFile(str(path), "w", RATE, 1, "PCM_16") as f:
        for k in range(60):
            f.write(tone([300 + 10 * k], 10.0, RATE, amp=0.1, seed=k))
    return path


def _resampled(rate):
    from scipy.signal import resample_poly

    return resample_poly(_mid(), rate, RATE)


# name -> (builder(tmp) -> path, expected): expected is a regex the problem must
# match, or ("word", w) / ("any word",) for recordings that must be answered,
# or ("silence",) for those without sound, which are answered <silence>.
HOSTILE = {
    "empty file": (lambda t: _put(t / "empty.wav", b""), r"empty file"),
    "text renamed .wav": (
        lambda t: _put(t / "notes.wav", "shopping list\n" * 40),
        r"not a readable audio file \(Format not recognised",
    ),
    "truncated data": (
        lambda t: _put(t / "cut.wav", _wav_bytes(t)[:4000]), ("any word",)
    ),
    "header only": (lambda t: _put(t / "hdr.wav", _wav_bytes(t)[:44]), r"no audio samples"),
    "truncated header": (
        lambda t: _put(t / "hdr20.wav", _wav_bytes(t)[:20]), r"not a readable audio file"
    ),
    "sample rate 0": (lambda t: _patched(t, "rate0.wav", 24, 0, 4), r"not a readable audio file|corrupt header"),
    "sample rate 1 Hz": (lambda t: _patched(t, "rate1.wav", 24, 1, 4), r"corrupt header \(sample rate 1 Hz"),
    "sample rate 2 GHz": (
        lambda t: _patched(t, "rate2g.wav", 24, 2_000_000_000, 4), r"corrupt header \(sample rate 2000000000 Hz"
    ),
    "0 channels": (lambda t: _patched(t, "ch0.wav", 22, 0, 2), r"not a readable audio file|corrupt header"),
    "1000 channels": (lambda t: _patched(t, "ch1000.wav", 22, 1000, 2), r"corrupt header \(block align"),
    "7 bits per sample": (lambda t: _patched(t, "bits7.wav", 34, 7, 2), r"corrupt header \(block align"),
    "unknown format tag": (lambda t: _patched(t, "tag.wav", 20, 0x55, 2), r"not a readable audio file"),
    "data size too large": (lambda t: _patched(t, "size.wav", 40, 0xFFFFFFF0, 4), ("word", "mid")),
    "zero frames": (lambda t: write_wav(t / "zero.wav", np.zeros(0)), r"no audio samples"),
    "digital silence": (lambda t: write_wav(t / "silence.wav", np.zeros(RATE)), ("silence",)),
    "constant DC": (lambda t: write_wav(t / "dc_only.wav", np.full(RATE, 0.25)), ("silence",)),
    "too short for the models": (lambda t: write_wav(t / "blip.wav", _mid()[:100]), r"too short to recognise"),
    "a single sample": (lambda t: write_wav(t / "one.wav", _mid()[:1]), r"too short to recognise"),
    "NaN in a float WAV": (
        lambda t: write_wav(t / "nan.wav", np.where(np.arange(4800) == 99, np.nan, _mid()), subtype="FLOAT"),
        r"NaN or infinite",
    ),
    "inf in a double WAV": (
        lambda t: write_wav(t / "inf.wav", np.where(np.arange(4800) == 99, -np.inf, _mid()), subtype="DOUBLE"),
        r"NaN or infinite",
    ),
    "clipping": (lambda t: write_wav(t / "clip.wav", np.clip(_mid() * 4, -1, 1)), ("any word",)),
    "float beyond full scale": (lambda t: write_wav(t / "loud.wav", _mid() * 5, subtype="FLOAT"), ("any word",)),
    "DC offset": (lambda t: write_wav(t / "dc.wav", 0.5 * _mid() + 0.3), ("word", "mid")),
    "11.025 kHz": (lambda t: write_wav(t / "r11025.wav", _resampled(11025), 11025), ("word", "mid")),
    "96 kHz": (lambda t: write_wav(t / "r96k.wav", _resampled(96000), 96000), ("word", "mid")),
    "8-bit unsigned": (lambda t: write_wav(t / "u8.wav", _mid(), subtype="PCM_U8"), ("word", "mid")),
    "24-bit": (lambda t: write_wav(t / "p24.wav", _mid(), subtype="PCM_24"), ("word", "mid")),
    "6 channels": (lambda t: write_wav(t / "six.wav", np.tile(_mid()[:, None], (1, 6))), ("word", "mid")),
    "OGG Vorbis": (
        lambda t: sf.write(str(t / "v.ogg"), _mid(), RATE, format="OGG", subtype="VORBIS") or t / "v.ogg",
        ("word", "mid"),
    ),
    "FLAC": (lambda t: sf.write(str(t / "f.flac"), _mid(), RATE, format="FLAC") or t / "f.flac", ("word", "mid")),
    "name with spaces": (lambda t: write_wav(t / "my word take 2.wav", _mid()), ("word", "mid")),
    "non-ASCII name": (lambda t: write_wav(t / "ñandú ärger 日本語.wav", _mid()), ("word", "mid")),
    "directory named like a file": (lambda t: (t / "dir.wav").mkdir() or t / "dir.wav", r"folder holds no audio files"),
    "missing file": (lambda t: t / "nope.wav", r"no such file"),
    "10-minute recording": (_ten_minutes, r"recording is 600\.0 s long; single words are limited to 60 s"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_gets_an_answer_or_one_error_line_and_the_batch_goes_on(tones, tmp_path, case):
    data, model_path = tones
    build, expected = HOSTILE[case]
    bad = build(tmp_path)
    good = data / "low" / "low_2.wav"
    result = invoke(["recognize", "-m", model_path, bad, good])
    got = answers(result)
    assert got.get(str(good)) == "low"  # the other file of the batch is still answered
    if isinstance(expected, str):
        assert result.exit_code == 3, result.output
        errors = error_lines(result)
        assert len(errors) == 1, result.stderr
        prefix = f"Error: {bad}: "
        assert errors[0].startswith(prefix), errors
        problem = errors[0][len(prefix) :]
        assert re.search(expected, problem), problem
        assert "\n" not in problem
        assert str(bad) not in got
    elif expected[0] == "silence":
        assert result.exit_code == 0, result.output
        assert error_lines(result) == []
        assert got[str(bad)] == "<silence>"
    else:
        assert result.exit_code == 0, result.output
        assert error_lines(result) == []
        assert got[str(bad)] in WORDS
        if expected[0] == "word":
            assert got[str(bad)] == expected[1]


def test_eval_counts_hostile_files_as_failed_and_scores_the_rest(tones, tmp_path):
    _, model_path = tones
    test = tmp_path / "test"
    (test / "mid").mkdir(parents=True)
    bad = ("empty file", "text renamed .wav", "NaN in a float WAV", "zero frames")
    for case in bad + ("FLAC", "24-bit", "digital silence"):
        made = HOSTILE[case][0](tmp_path)
        made.rename(test / "mid" / made.name)
    write_wav(test / "low" / "low.wav", np.concatenate([tone([300], 0.3, seed=3), tone([500], 0.3, seed=4)]))
    result = invoke(["eval", "-m", model_path, test, "--json"])
    assert result.exit_code == 3
    rep = json.loads(result.stdout)
    assert rep["n_failed"] == len(bad) == len(error_lines(result))
    # Silence is an answer, and for a word's file a wrong one.
    assert rep["n_files"] == 4 and rep["accuracy"] == 0.75
    assert rep["labels"][-1] == "<silence>" and rep["errors"] == [
        {"path": str(test / "mid" / "silence.wav"), "truth": "mid", "recognized": "<silence>"}
    ]
    assert all(line.startswith(f"Error: {test / 'mid'}{os.sep}") for line in error_lines(result))


def test_a_folder_with_no_audio_is_an_error_not_silence(tones, tmp_path):
    _, model_path = tones
    empty = tmp_path / "incoming"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    (empty / ".DS_Store").write_bytes(b"\0")
    result = invoke(["recognize", "-m", model_path, empty])
    assert result.exit_code == 3
    assert error_lines(result) == [f"Error: {empty}: folder holds no audio files"]
    assert f"Skipped: {empty / 'readme.txt'}: not an audio file name" in result.stderr
    assert f"Skipped: {empty / '.DS_Store'}: hidden file" in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8 are a POSIX matter")
def test_file_names_that_are_not_utf8_are_read(tones, tmp_path):
    data, model_path = tones
    folder = os.fsencode(tmp_path)
    target = os.path.join(folder, b"caf\xe9.wav")
    with open(target, "wb") as fh:
        fh.write((data / "mid" / "mid_1.wav").read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "wordrec", "recognize", "-m", str(model_path), str(tmp_path)],
        capture_output=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    line = result.stdout.decode("utf-8", "replace").strip()
    assert line.split("\t")[1] == "mid"
    as_json = subprocess.run(
        [sys.executable, "-m", "wordrec", "recognize", "--json", "-m", str(model_path), str(tmp_path)],
        capture_output=True, cwd=REPO, timeout=120,
    )
    assert as_json.returncode == 0, as_json.stderr
    [answer] = json.loads(as_json.stdout.decode("utf-8"))  # valid UTF-8 and JSON
    assert os.fsencode(answer["path"]) == target and answer["word"] == "mid"


# --- bounded memory on a long take -------------------------------------------------------

_MAXRSS = """
import resource, runpy, sys
sys.argv = ["wordrec"] + sys.argv[1:]
try:
    runpy.run_module("wordrec", run_name="__main__")
finally:
    sys.stderr.write("MAXRSS %d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(args) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-c", _MAXRSS, *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    peak = [line for line in result.stderr.splitlines() if line.startswith("MAXRSS ")]
    assert peak, result.stderr
    return int(peak[0].split()[1]), result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_a_ten_minute_recording_is_refused_before_decoding(tones, tmp_path):
    """10 min of 48 kHz stereo would be 440 MiB as float64; the reader never decodes it."""
    data, model_path = tones
    long_take = tmp_path / "meeting.flac"
    with sf.SoundFile(str(long_take), "w", 48000, 2, "PCM_16", format="FLAC") as f:
        block = np.tile(tone([440], 10.0, 48000, amp=0.05)[:, None], (1, 2))
        for _ in range(60):
            f.write(block)
    assert sf.info(str(long_take)).duration == pytest.approx(600.0)
    baseline, _ = _peak_kib(["recognize", "-m", model_path, data / "mid" / "mid_0.wav"])
    peak, stderr = _peak_kib(["recognize", "-m", model_path, long_take])
    assert f"Error: {long_take}: recording is 600.0 s long" in stderr
    assert peak < baseline + 100 * 1024, (peak, baseline)


def test_reader_decodes_many_channels_block_by_block(tmp_path, monkeypatch):
    """Mixing down per block gives the same signal as mixing the whole file."""
    x = np.stack([_mid() * (k + 1) / 8 for k in range(6)], axis=1)
    path = write_wav(tmp_path / "six.wav", x, subtype="FLOAT")
    whole, _ = audio.read(path)
    monkeypatch.setattr(audio, "_BLOCK_VALUES", 6 * 7)  # 7 frames per block
    blocks, _ = audio.read(path)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(whole, x.mean(axis=1), atol=1e-7)


def test_odd_sample_rates_resample_with_bounded_factors():
    for rate_in in (44101, 767999, 12345, 44100, 11025, 96000):
        up, down = audio.resample_factors(rate_in, 8000)
        assert max(up, down) <= 2048
        assert up / down == pytest.approx(8000 / rate_in, rel=1e-5)
    assert audio.resample_factors(44100, 8000) == (80, 441)  # common ratios stay exact


# --- training on awkward trees -------------------------------------------------------------


def _train(data, out, *extra):
    return invoke(["train", data, "-o", out, "--states", "3", "--mix", "2", "-j", "1", "-q", "--no-reject", *extra])


def test_a_word_folder_with_no_usable_files_is_left_out_and_said_so(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=3)
    (data / "junk").mkdir()
    (data / "junk" / "broken.wav").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    (data / "junk" / "notes.txt").write_text("x")
    (data / "empty").mkdir()
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    assert modelfile.load(out).words == WORDS
    assert f"Skipped: {data / 'junk' / 'notes.txt'}: not an audio file name" in result.stderr
    assert f"Skipped: {data / 'empty'}: word folder holds no audio files" in result.stderr
    errors = error_lines(result)
    assert errors[0].startswith(f"Error: {data / 'junk' / 'broken.wav'}: not a readable audio file")
    assert errors[1] == "Error: word 'junk': no usable recordings (word left out)"
    assert len(errors) == 2


def test_a_word_with_a_single_recording_trains(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=4)
    for p in sorted((data / "mid").iterdir())[1:]:
        p.unlink()
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    summary = {line.split("\t")[0]: line.split("\t") for line in result.stdout.splitlines()[1:]}
    assert summary["mid"][1] == "1"
    models = modelfile.load(out)
    assert models.words == WORDS
    assert models.diagnostics["words"]["mid"]["n_recordings"] == 1


def test_only_one_word_trains_a_one_word_model(tmp_path):
    data = tmp_path / "data"
    for k in range(3):
        write_wav(data / "only" / f"{k}.wav", tone([500, 900], 0.4, seed=k))
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    assert modelfile.load(out).words == ["only"]
    rec = invoke(["recognize", "-m", out, data / "only" / "0.wav"])
    assert rec.exit_code == 0 and answers(rec)[str(data / "only" / "0.wav")] == "only"


def test_clicks_too_short_for_a_word_are_not_trained_on(tmp_path):
    # A word trained only on 20 ms clicks would get a one-state model that
    # answers any short noise with full confidence.
    data = make_tone_corpus(tmp_path / "data", n_per_word=3)
    clicks = [write_wav(data / "click" / f"{k}.wav", tone([1500], 0.02, seed=k)) for k in range(3)]
    write_wav(data / "mid" / "short.wav", tone([800], 0.03, seed=9))
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    errors = error_lines(result)
    for path in clicks + [data / "mid" / "short.wav"]:
        assert any(line.startswith(f"Error: {path}: too short to train on (") for line in errors), errors
    assert "Error: word 'click': no usable recordings (word left out)" in errors
    models = modelfile.load(out)
    assert models.words == WORDS
    assert models.diagnostics["words"]["mid"]["n_recordings"] == 3


def test_folders_and_manifest_words_that_cannot_be_words_are_skipped(tmp_path):
    # The model loader refuses such words: training must not write them.
    data = make_tone_corpus(tmp_path / "data", n_per_word=3)
    for name in ("<unknown>", "red\x1b[31m", "tab\tbed"):
        write_wav(data / name / "0.wav", tone([1500], 0.4))
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if "cannot be a word" in line]
    assert len(skipped) == 3 and all(line.endswith("(word skipped)") for line in skipped)
    assert modelfile.load(out).words == WORDS
    manifest = tmp_path / "list.tsv"
    manifest.write_text("data/low/low_0.wav\tlow\ndata/mid/mid_0.wav\t<unknown>\ndata/high/high_0.wav\thi\x07gh\n")
    result = _train(manifest, out)
    assert result.exit_code == 0, result.output
    assert f"Skipped: {manifest}:2: word '<unknown>': " in result.stderr
    assert f"Skipped: {manifest}:3: word 'hi\\x07gh': " in result.stderr
    assert modelfile.load(out).words == ["low"]


def test_cross_validation_leaves_out_the_clicks_train_leaves_out(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=4)
    click = write_wav(data / "mid" / "click.wav", tone([1500], 0.02))
    result = invoke(["eval", data, "--folds", "2", "--states", "3", "--mix", "1", "-j", "1", "-q", "--json"])
    assert result.exit_code == 3, result.output
    assert any(line.startswith(f"Error: {click}: too short to train on (") for line in error_lines(result))
    assert json.loads(result.stdout)["n_files"] == 12


def test_junk_mixed_into_a_tree_is_listed_and_the_rest_trains(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=3)
    (data / ".DS_Store").write_bytes(b"\0\0")
    (data / "README.txt").write_text("about")
    (data / "low" / ".hidden.wav").write_bytes(b"junk")
    (data / "low" / ".git").mkdir()
    (data / "low" / ".git" / "HEAD").write_text("ref")
    (data / "mid" / "notes.txt").write_text("x")
    (data / "mid" / "broken.wav").write_bytes(b"RIFF1234WAVEjunkjunkjunk")
    write_wav(data / "high" / "silent.wav", np.zeros(4000))
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("Skipped:")]
    assert f"Skipped: {data / '.DS_Store'}: hidden file (skipped)" in skipped
    assert f"Skipped: {data / 'README.txt'}: file outside any word folder (skipped)" in skipped
    assert f"Skipped: {data / 'low' / '.hidden.wav'}: hidden file (skipped)" in skipped
    assert f"Skipped: {data / 'low' / '.git'}: hidden folder (skipped)" in skipped
    assert f"Skipped: {data / 'mid' / 'notes.txt'}: not an audio file name (skipped)" in skipped
    assert not any("HEAD" in line for line in skipped)  # hidden folders are not searched
    errors = error_lines(result)
    assert any(e.startswith(f"Error: {data / 'mid' / 'broken.wav'}: ") for e in errors)
    assert f"Error: {data / 'high' / 'silent.wav'}: no sound (digital silence, every sample is 0)" in errors
    diags = modelfile.load(out).diagnostics["words"]
    assert {w: d["n_recordings"] for w, d in diags.items()} == {"high": 3, "low": 3, "mid": 3}


def test_a_tree_without_word_folders_is_refused(tmp_path):
    data = tmp_path / "flat"
    write_wav(data / "a.wav", tone([400]))
    write_wav(data / "b.wav", tone([900]))
    out = tmp_path / "m.model"
    result = _train(data, out)
    assert result.exit_code == 1
    assert error_lines(result) == [
        f"Error: {data}: no word folders found (expected one sub-folder per word, e.g. yes/ no/ stop/, "
        "or a manifest file of path<TAB>word lines)"
    ]
    assert not out.exists()


def test_a_tree_where_every_word_is_unusable_writes_no_model(tmp_path):
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "a" / "x.wav").write_text("not audio")
    write_wav(data / "b" / "quiet.wav", np.zeros(2000))
    (data / "c").mkdir()
    (data / "c" / "notes.txt").write_text("t")
    out = tmp_path / "m.model"
    out.write_text("an earlier model")
    result = _train(data, out)
    assert result.exit_code == 1
    errors = error_lines(result)
    assert errors[0].startswith(f"Error: {data / 'a' / 'x.wav'}: not a readable audio file")
    assert errors[1] == f"Error: {data / 'b' / 'quiet.wav'}: no sound (digital silence, every sample is 0)"
    assert errors[-1] == f"Error: {data}: none of its 2 recordings is usable (see above); no model written"
    assert out.read_text() == "an earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "m.model"]


def test_a_manifest_with_bad_lines_reports_file_and_line(tmp_path):
    make_tone_corpus(tmp_path / "audio", n_per_word=3)
    lines = [f"audio/{w}/{w}_{k}.wav\t{w}" for w in ("low", "high", "mid") for k in range(3)]
    lines[1:1] = [
        "audio/low/low_0.wav\tlow",  # 2: same line again
        "audio/missing.wav\tlow",  # 3
        "only one field",  # 4
        "a\tb\tc",  # 5
        "audio/low\tlow",  # 6: a folder
        "audio/mid/mid_0.wav\tlow",  # 7: listed again under another word
        "# a comment",
        "",
    ]
    manifest = tmp_path / "list.tsv"
    manifest.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # with a BOM, as editors leave it
    out = tmp_path / "m.model"
    result = _train(manifest, out)
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("Skipped:")]
    m = manifest
    assert skipped[:5] == [
        f"Skipped: {m}:2: {tmp_path / 'audio/low/low_0.wav'}: listed twice (first on line 1; duplicate skipped)",
        f"Skipped: {m}:3: {tmp_path / 'audio/missing.wav'}: no such file",
        f"Skipped: {m}:4: expected 'path<TAB>word'",
        f"Skipped: {m}:5: expected 'path<TAB>word'",
        f"Skipped: {m}:6: {tmp_path / 'audio/low'}: is a folder, not an audio file",
    ]
    assert skipped[5:] == [
        f"Skipped: {m}:15: {tmp_path / 'audio/mid/mid_0.wav'}: listed as 'low' on line 7 and as 'mid' here (kept the first)"
    ]
    diags = modelfile.load(out).diagnostics["words"]
    assert {w: d["n_recordings"] for w, d in diags.items()} == {"high": 3, "low": 4, "mid": 2}


_TOO_LONG = "a" * 300  # longer than any file system allows for one name


def test_paths_the_system_refuses_are_one_error_each_and_the_batch_goes_on(tones, tmp_path):
    data, model_path = tones
    good = write_wav(tmp_path / "mid.wav", _mid())
    result = invoke(["recognize", "-m", model_path, tmp_path / f"{_TOO_LONG}.wav", good])
    assert result.exit_code == 3
    assert answers(result) == {str(good): "mid"}
    [line] = error_lines(result)
    assert _TOO_LONG in line and "cannot access (File name too long)" in line


def test_a_manifest_line_the_system_refuses_is_skipped_and_said_so(tones, tmp_path):
    data, model_path = tones
    write_wav(tmp_path / "mid.wav", _mid())
    manifest = tmp_path / "test.tsv"
    manifest.write_text(f"mid.wav\tmid\n{_TOO_LONG}.wav\tmid\n")
    result = invoke(["eval", "-m", model_path, manifest, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_files"] == 1
    assert f"test.tsv:2: {tmp_path / _TOO_LONG}.wav: cannot access (File name too long)" in result.stderr


def test_control_characters_in_file_names_are_escaped_to_keep_one_line_per_file(tones, tmp_path):
    _, model_path = tones
    write_wav(tmp_path / "a\tb\nc.wav", _mid())
    (tmp_path / "d\ne\x1b.wav").write_bytes(b"")
    result = invoke(["recognize", "-m", model_path, tmp_path])
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if line.count("\t") == 3]
    [line] = result.stdout.splitlines()
    assert line.split("\t")[:2] == [f"{tmp_path}/a\\tb\\nc.wav", "mid"]
    assert error_lines(result) == [f"Error: {tmp_path}/d\\ne\\x1b.wav: empty file"]
    assert len(result.stderr.splitlines()) == 1


def test_a_corrupt_mp3_is_one_line_without_the_decoders_own_notes(tones, tmp_path):
    # libsndfile's MP3 decoder writes "Note: Trying to resync..." to file
    # descriptor 2 itself, past sys.stderr: only a real process shows it.
    _, model_path = tones
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3" + np.random.default_rng(0).bytes(3000))
    good = write_wav(tmp_path / "mid.wav", _mid())
    proc = subprocess.run(
        [sys.executable, "-m", "wordrec", "recognize", "-m", str(model_path), str(junk), str(good)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [f"Error: {junk}: not a readable audio file (unknown format or corrupt data)"]
    assert proc.stdout.startswith(f"{good}\tmid\t")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("command", ["train", "eval"])
def test_a_pipe_or_device_as_data_is_refused_without_reading_it(tones, tmp_path, command):
    # Read as a manifest, a pipe would block forever and /dev/zero never end:
    # run in a process that a timeout can stop.
    _, model_path = tones
    fifo = tmp_path / "data.fifo"
    os.mkfifo(fifo)
    for data in [fifo] + ([Path("/dev/zero")] if os.path.exists("/dev/zero") else []):
        args = ["train", data, "-o", tmp_path / "x.model"] if command == "train" else ["eval", "-m", model_path, data]
        proc = subprocess.run(
            [sys.executable, "-m", "wordrec", *map(str, args)], capture_output=True, text=True, cwd=REPO, timeout=120
        )
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.strip() == f"Error: {data}: not a folder or a manifest file (not a regular file)"
        assert not (tmp_path / "x.model").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions do not bind root")
def test_an_unreadable_file_is_one_error_and_the_batch_goes_on(tones, tmp_path):
    _, model_path = tones
    good = write_wav(tmp_path / "mid.wav", _mid())
    locked = write_wav(tmp_path / "locked.wav", _mid())
    locked.chmod(0)
    result = invoke(["recognize", "-m", model_path, locked, good])
    assert result.exit_code == 3
    assert answers(result) == {str(good): "mid"}
    assert error_lines(result) == [f"Error: {locked}: cannot read (permission denied)"]


def test_an_output_folder_that_does_not_exist_is_refused_before_training(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=2)
    result = _train(data, tmp_path / "no" / "such" / "m.model")
    assert result.exit_code == 1
    assert error_lines(result) == [f"Error: {tmp_path / 'no/such/m.model'}: folder {tmp_path / 'no/such'} does not exist"]
    assert "word\trecordings" not in result.stdout  # nothing was trained


def test_an_output_the_system_refuses_or_that_ends_in_a_slash_is_refused_before_training(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=2)
    for out, problem in [
        (f"{tmp_path}/new/", "names a folder; give a model file name"),
        (f"{tmp_path}/{_TOO_LONG}.model", "cannot write there (File name too long)"),
    ]:
        result = _train(data, out)
        assert result.exit_code == 1
        assert error_lines(result) == [f"Error: {out}: {problem}"]
        assert "word\trecordings" not in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_an_output_that_is_a_pipe_or_a_link_to_one_is_not_replaced(tmp_path):
    data = make_tone_corpus(tmp_path / "data", n_per_word=2)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    (tmp_path / "link.model").symlink_to(fifo)
    for out in (fifo, tmp_path / "link.model"):
        result = _train(data, out)
        assert result.exit_code == 1
        assert error_lines(result) == [f"Error: {out}: not a regular file; give a model file name"]
    assert fifo.is_fifo() and (tmp_path / "link.model").is_symlink()


def test_degenerate_tree_trains_a_valid_model(tmp_path):
    """Identical takes, long silences inside takes, takes shorter than the states."""
    data = tmp_path / "data"
    same = _mid()
    for k in range(4):
        write_wav(data / "same" / f"{k}.wav", same)
        gap = np.concatenate([np.zeros(2400), tone([1500], 0.05, seed=k), np.zeros(2400)])
        write_wav(data / "gappy" / f"{k}.wav", gap)
        # 6-7 frames: enough to train on (60 ms at least), fewer than 8 states
        write_wav(data / "tiny" / f"{k}.wav", tone([2500], 0.075 + 0.005 * k, seed=k))
    out = tmp_path / "m.model"
    result = invoke(["train", data, "-o", out, "--states", "8", "--mix", "4", "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    models = modelfile.load(out)  # validated: finite, positive variances, rows summing to one
    assert models.words == ["gappy", "same", "tiny"]
    assert models.diagnostics["words"]["tiny"]["n_states"] < 8


# --- degenerate training data, at the level of the trainer --------------------------------


def _front_end(signals):
    from wordrec.core.features import FeatureConfig, extract_many

    return extract_many(signals, FeatureConfig.for_rate(RATE))


def _silent_stretches():
    gap = np.zeros(RATE // 2)
    return _front_end([np.concatenate([gap, tone([900], 0.1, seed=k), gap, tone([300], 0.1, seed=k), gap]) for k in range(4)])


DEGENERATE = {
    "identical recordings": lambda: _front_end([_mid()]) * 5,
    "long digital silence inside every recording": _silent_stretches,
    "constant frames, as mean normalisation leaves them": lambda: [np.zeros((30, 39))] * 3,
    "recordings far shorter than the states": lambda: _front_end([tone([2000], s, seed=3) for s in (0.02, 0.025, 0.03)]),
    "one recording of one frame": lambda: _front_end([tone([700], 0.02)]),
    "one normal recording among 1-frame ones": lambda: _front_end([_mid()] + [tone([700], 0.02, seed=k) for k in range(3)]),
    "constant non-zero frames (raw, no normalisation)": lambda: [np.full((30, 39), 30.0)] * 3,
}


@pytest.mark.parametrize("topology", ["left-to-right", "ergodic"])
@pytest.mark.parametrize(
    "make", [v if not isinstance(v, type(lambda: 0)) else pytest.param(v) for v in DEGENERATE.values()], ids=list(DEGENERATE)
)
def test_degenerate_training_data_gives_finite_models_and_monotone_em(make, topology):
    from wordrec.core.features import FeatureConfig
    from wordrec.core.model import ModelSet
    from wordrec.core.train import TrainConfig, fit_word, variance_floor
    from wordrec.io.validate import validate

    seqs = make()
    cfg = TrainConfig(n_states=8, n_mix=4, max_iter=10, tol=0.0, topology=topology)
    floor = variance_floor(seqs, cfg.var_floor)
    word_model, diag = fit_word("w", seqs, cfg, floor)
    validate(ModelSet(FeatureConfig.for_rate(RATE), (word_model,)))  # finite, positive, rows summing to one
    assert np.all(word_model.variances >= floor * (1 - 1e-12))
    # The weight floor is applied before renormalising, so it can shrink by at most this factor.
    assert np.all(word_model.weights >= cfg.weight_floor / (1 + cfg.n_mix * cfg.weight_floor) * (1 - 1e-9))
    for stage in diag["log_lik"]:
        assert np.all(np.isfinite(stage)), stage
        gains = np.diff(stage)
        assert np.all(gains >= -1e-8 * np.abs(np.array(stage[:-1]))), gains


# --- write_atomic under interruption -----------------------------------------------------


def test_an_interrupted_save_leaves_the_old_model_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "m.model"
    target.write_bytes(b"old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        modelfile.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.model"]


def test_a_saved_model_is_not_private_to_its_owner(tmp_path):
    target = tmp_path / "m.model"
    modelfile.write_atomic(target, b"{}")
    mask = os.umask(0)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == 0o666 & ~mask
    target.chmod(0o640)
    modelfile.write_atomic(target, b"{}")  # an existing file keeps its permissions
    assert (target.stat().st_mode & 0o777) == 0o640


def test_reader_errors_are_wordrec_errors_naming_the_file(tmp_path):
    if os.path.exists("/dev/null"):
        with pytest.raises(WordrecError, match=r"^/dev/null: not a regular file$"):
            audio.read("/dev/null")
    with pytest.raises(WordrecError, match=f"^{re.escape(str(tmp_path))}: is a directory"):
        audio.read(tmp_path)


# --- interruptions, in a real process ---------------------------------------------------


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory):
    """Enough recordings that training with the default settings takes many seconds."""
    root = tmp_path_factory.mktemp("slow")
    for w in range(4):
        for k in range(25):
            take = np.concatenate([tone([200 + 150 * w], 0.4, seed=k), tone([300 + 170 * w], 0.4, seed=k + 1)])
            write_wav(root / f"w{w}" / f"{k}.wav", take)
    return root


def _default_sigint():
    # As an interactive shell does: a test runner started in the background
    # would otherwise pass on an ignored SIGINT, and Python keeps it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(os.name != "posix", reason="signals to a process group")
@pytest.mark.parametrize(
    "sig, to_group, jobs",
    [
        (signal.SIGTERM, False, "1"),
        (signal.SIGINT, True, "1"),
        (signal.SIGINT, True, "2"),
        (signal.SIGTERM, False, "2"),
        (signal.SIGTERM, True, "2"),
    ],
    ids=["SIGTERM", "Ctrl-C", "Ctrl-C with 2 workers", "SIGTERM with 2 workers", "SIGTERM to the group with 2 workers"],
)
def test_interrupted_training_leaves_the_old_model_and_no_temporary_file(slow_corpus, tmp_path, sig, to_group, jobs):
    out = tmp_path / "words.model"
    out.write_bytes(b"the previous model")
    proc = subprocess.Popen(
        # Long EM in the workers, so that the signal finds them busy.
        [sys.executable, "-m", "wordrec", "train", str(slow_corpus), "-o", str(out), "-j", jobs,
         "--mix", "6", "--iters", "200", "--tol", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        start_new_session=True, preexec_fn=_default_sigint,
    )
    try:
        seen = []
        while True:  # wait until features are done and training has begun
            line = proc.stderr.readline()
            seen.append(line)
            if not line or "Training" in line:
                break
        assert "Training" in seen[-1], "".join(seen)
        if jobs != "1":
            time.sleep(1.0)  # let the pool start and its workers get busy
        (os.killpg if to_group else os.kill)(proc.pid, sig)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "Interrupted."
    assert "Traceback" not in stderr
    assert stdout == ""
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["words.model"]


def test_featurising_in_workers_gives_the_same_features_and_failures(tmp_path):
    from wordrec.core.features import FeatureConfig
    from wordrec.jobs import featurise

    root = make_tone_corpus(tmp_path / "c", n_per_word=30)
    paths = sorted(str(p) for p in root.rglob("*.wav"))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio")
    (tmp_path / "folder").mkdir()
    # Bad files at the start, the middle and the end, across chunk boundaries.
    paths = [str(tmp_path / "empty.wav")] + paths[:45] + [str(tmp_path / "folder")] + paths[45:] + [str(tmp_path / "text.wav")]
    cfg = FeatureConfig.for_rate(8000)
    one = featurise.extract_files(paths, cfg, jobs=1)
    done = []
    two = featurise.extract_files(paths, cfg, progress=done.append, jobs=2)
    assert sum(done) == len(paths) and len(done) > 1
    assert len(one) == len(two) == len(paths)
    for a, b in zip(one, two):
        if isinstance(a, featurise.Failure):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)
    assert [i for i, a in enumerate(two) if isinstance(a, featurise.Failure)] == [0, 46, len(paths) - 1]


def test_a_manifest_naming_one_file_by_two_paths_keeps_it_once(tmp_path):
    from wordrec.io import corpus

    make_tone_corpus(tmp_path / "audio", n_per_word=2)
    (tmp_path / "link.wav").symlink_to(tmp_path / "audio/low/low_0.wav")
    manifest = tmp_path / "list.tsv"
    manifest.write_text(
        "audio/low/low_0.wav\tlow\n"
        "./audio//low/low_1.wav\tlow\n"  # spelt oddly: taken as pathlib would
        f"{tmp_path}/audio/low/low_0.wav\tlow\n"  # 3: the file of line 1, absolute
        "link.wav\thigh\n"  # 4: the file of line 1 through a link
        "audio/high/high_0.wav\thigh\n"
    )
    found = corpus.load(manifest)
    assert found.items == (
        (str(tmp_path / "audio/high/high_0.wav"), "high"),
        (str(tmp_path / "audio/low/low_0.wav"), "low"),
        (str(tmp_path / "audio/low/low_1.wav"), "low"),
    )
    assert [(where.rsplit(":", 1)[1], why.split(": ", 1)[1]) for where, why in found.skipped] == [
        ("3", "listed twice (first on line 1; duplicate skipped)"),
        ("4", "listed as 'low' on line 1 and as 'high' here (kept the first)"),
    ]
    assert all(isinstance(p, str) for p, _ in found.items)


def test_a_manifest_reports_its_duplicates_among_other_skipped_lines_in_line_order(tmp_path):
    # Duplicates are found once every line is read: their reports must still
    # come in line order among the others, each naming the file's first line.
    from wordrec.io import corpus

    make_tone_corpus(tmp_path / "audio", n_per_word=2)
    manifest = tmp_path / "list.tsv"
    manifest.write_text(
        "audio/mid/mid_1.wav\tmid\n"  # 1
        "audio/low/low_0.wav\tlow\n"  # 2
        "audio/low/nothing.wav\tlow\n"  # 3: no such file
        "audio/mid/mid_1.wav\tmid\n"  # 4: line 1 again
        "audio/low/low_0.wav\thigh\n"  # 5: line 2 as another word
        "no tab here\n"  # 6
        "audio/mid/mid_1.wav\tlow\n"  # 7: line 1 a third time, as another word
        "audio/mid/mid_0.wav\tmid\n"  # 8
        "audio/low/low_0.wav\tlow\n"  # 9: line 2 again
    )
    found = corpus.load(manifest)
    assert list(found.items) == [
        (str(tmp_path / "audio/low/low_0.wav"), "low"),
        (str(tmp_path / "audio/mid/mid_0.wav"), "mid"),
        (str(tmp_path / "audio/mid/mid_1.wav"), "mid"),
    ]
    assert [(where.rsplit(":", 1)[1], why.split(": ", 1)[-1]) for where, why in found.skipped] == [
        ("3", "no such file"),
        ("4", "listed twice (first on line 1; duplicate skipped)"),
        ("5", "listed as 'low' on line 2 and as 'high' here (kept the first)"),
        ("6", "expected 'path<TAB>word'"),
        ("7", "listed as 'mid' on line 1 and as 'low' here (kept the first)"),
        ("9", "listed twice (first on line 2; duplicate skipped)"),
    ]
    assert all(why.startswith(str(tmp_path / "audio")) for _, why in found.skipped if "listed" in why)


def test_decoder_noise_is_hidden_in_nested_and_overlapping_blocks_and_stderr_comes_back(capfd):
    import threading

    from wordrec.io.decoders import quiet_decoders

    os.write(2, b"before\n")
    with quiet_decoders():
        os.write(2, b"hidden 1\n")
        with quiet_decoders():
            os.write(2, b"hidden 2\n")
        os.write(2, b"hidden 3\n")
        inside = threading.Event()
        leave = threading.Event()

        def other():
            with quiet_decoders():
                inside.set()
                leave.wait(5)

        t = threading.Thread(target=other)
        t.start()
        inside.wait(5)
    os.write(2, b"hidden 4\n")  # the other thread's block is still open
    leave.set()
    t.join()
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "before\nafter\n"
