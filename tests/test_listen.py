"""The streaming recogniser and 'wordrec listen', end to end: real pipes, signals, faults, the microphone stand-in."""

import io
import json
import os
import select
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from conftest import REPO, tone, train_tone_model
from fake_sounddevice import FakeSoundDevice
from wordrec import Listener
from wordrec.cli import cli
from wordrec.errors import WordrecError
from wordrec.io import modelfile

RATE = 8000
WORDS = {"low": (300, 500), "mid": (800, 1100), "high": (1500, 2100)}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    # The takes below are renditions the models never heard: the default
    # calibration (for voices like the training ones) answers them <unknown>
    # (confidence 0.3-0.55 against a threshold of 0.98: six clean renditions
    # a word are separable, so the threshold is the least held-out
    # confidence).  These tests are about streams: the model answers with its
    # new-voices calibration, which accepts them.
    import dataclasses

    _, path, _ = train_tone_model(tmp_path_factory.mktemp("tones"))
    models = modelfile.load(path)
    new = dataclasses.replace(models.calibration.new_voices, new_voices=None)
    modelfile.save(dataclasses.replace(models, calibration=new), path)
    return path


@pytest.fixture(scope="module")
def models(model):
    return modelfile.load(model)


def _take(n_words=9, seed=1, rate=RATE, tail=0.5):
    """Tone 'words' with 0.4-1 s pauses in faint noise: (signal, [(start_s, end_s, word)])."""
    rng = np.random.default_rng(seed)
    parts, truth, pos = [], [], 0
    for k in range(n_words):
        word = list(WORDS)[k % 3]
        f1, f2 = WORDS[word]
        x = np.concatenate([tone([f1], 0.27, rate, seed=50 + k), tone([f2], 0.26, rate, seed=80 + k)])
        pause = np.zeros(int(rng.uniform(0.4, 1.0) * rate))
        truth.append(((pos + len(pause)) / rate, (pos + len(pause) + len(x)) / rate, word))
        parts += [pause, x]
        pos += len(pause) + len(x)
    parts.append(np.zeros(int(tail * rate)))
    y = np.concatenate(parts)
    return y + 0.001 * rng.standard_normal(len(y)), truth


def _s16(x) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def _feed(listener, x, rate, sizes):
    out, pos, k = [], 0, 0
    while pos < len(x):
        n = sizes[k % len(sizes)]
        out += listener.feed(x[pos : pos + n], rate)
        pos, k = pos + n, k + 1
    return out + listener.flush()


def _check_words(found, truth, tol=0.05):
    assert [d.word for d in found] == [w for _, _, w in truth]
    for d, (a, b, _) in zip(found, truth):
        assert abs(d.start - a) <= tol and abs(d.end - b) <= tol


# -- the Python API ---------------------------------------------------------


def test_listener_finds_and_recognises_the_words(models):
    x, truth = _take()
    found = _feed(Listener(models), x, RATE, [160])
    _check_words(found, truth)
    for d in found:
        assert d.best_word == d.word and d.accepted and d.n_frames > 0
        assert 0.0 <= d.confidence <= 1.0 and d.log_lik == d.nbest[0][1] and len(d.nbest) == 1


def test_detections_do_not_depend_on_the_block_sizes(models):
    x, truth = _take()
    runs = {name: _feed(Listener(models, nbest=3), x, RATE, sizes)
            for name, sizes in {"1 ms": [8], "20 ms": [160], "1 s": [RATE], "mixed": [1, 333, 8000, 17, 2400]}.items()}
    ref = runs.pop("1 s")
    _check_words(ref, truth)
    for name, found in runs.items():
        assert [(d.start, d.end, d.word, d.best_word, d.n_frames) for d in found] == \
               [(d.start, d.end, d.word, d.best_word, d.n_frames) for d in ref], name
        for a, b in zip(found, ref):
            assert a.log_lik == pytest.approx(b.log_lik, rel=1e-9) and a.confidence == pytest.approx(b.confidence, abs=1e-9)


def test_any_rate_and_channels_in(models):
    from scipy.signal import resample_poly

    x, truth = _take()
    y = resample_poly(x, 441, 80)
    found = _feed(Listener(models), np.stack([y, 0.5 * y], axis=1), 44100, [882])
    _check_words(found, truth)


def test_a_word_cut_off_by_the_end_of_the_stream_is_answered(models):
    x, truth = _take(n_words=3, tail=0.0)
    cut = int((truth[-1][0] + 0.4) * RATE)  # into the last word's second tone
    found = _feed(Listener(models), x[:cut], RATE, [160])
    assert [d.word for d in found[:2]] == ["low", "mid"] and len(found) == 3
    assert found[2].start == pytest.approx(truth[2][0], abs=0.05)


def test_rejection_threshold_and_nbest(models):
    x, truth = _take(n_words=3)
    assert {d.word for d in _feed(Listener(models, threshold=1.0), x, RATE, [RATE])} == {"<unknown>"}
    found = _feed(Listener(models, threshold=1.0, reject=False, nbest=None), x, RATE, [RATE])
    assert [d.word for d in found] == [w for _, _, w in truth]
    assert all(len(d.nbest) == 3 and d.nbest[0][1] >= d.nbest[1][1] >= d.nbest[2][1] for d in found)


def test_silence_and_noise_give_nothing(models, rng):
    for x in (np.zeros(20 * RATE), 0.05 * rng.standard_normal(20 * RATE)):
        assert _feed(Listener(models), x, RATE, [160]) == []


def test_memory_stays_bounded(models):
    x, _ = _take(n_words=30, seed=3)
    listener, held, n = Listener(models), 0, 0
    for _ in range(4):  # about 2 minutes
        for a in range(0, len(x), 400):
            n += len(listener.feed(x[a : a + 400], RATE))
            held = max(held, listener.n_held)
    assert n >= 110 and held <= 2 * RATE


def test_models_can_be_swapped_between_blocks_but_not_the_front_end(models):
    import dataclasses

    listener = Listener(models)
    listener.models = dataclasses.replace(models)
    other = dataclasses.replace(models, features=dataclasses.replace(models.features, vad_margin=0.2))
    with pytest.raises(WordrecError, match="front end"):
        listener.models = other


def test_bad_blocks_are_refused(models):
    listener = Listener(models)
    listener.feed(np.zeros(100), RATE)
    with pytest.raises(WordrecError, match="rate changed"):
        listener.feed(np.zeros(100), 16000)
    with pytest.raises(WordrecError, match="finite"):
        listener.feed(np.array([0.0, np.nan]), RATE)


def test_listen_equals_recognize_segment(model, models, tmp_path):
    x, truth = _take(n_words=12, seed=5)
    path = tmp_path / "take.wav"
    sf.write(str(path), x, RATE, subtype="PCM_16")
    result = CliRunner().invoke(cli, ["recognize", "-m", str(model), "--segment", str(path)])
    assert result.exit_code == 0, result.output
    offline = [line.split("\t")[1:4] for line in result.stdout.splitlines()]
    assert len(offline) == len(truth)
    decoded, _ = sf.read(str(path))
    for size in (8, 160, 800, RATE):  # 1 ms to 1 s
        found = _feed(Listener(models), decoded, RATE, [size])
        assert [[f"{d.start:.3f}", f"{d.end:.3f}", d.word] for d in found] == offline, size


# -- the command, in process --------------------------------------------------


def _listen(model, args, data=b""):
    return CliRunner().invoke(cli, ["listen", "-m", str(model), *args], input=data)


def test_listen_prints_a_line_per_word(model):
    x, truth = _take()
    result = _listen(model, ["--input", "-", "--rate", "8000"], _s16(x))
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [cols[2] for cols in lines] == [w for _, _, w in truth]
    for cols, (a, b, _) in zip(lines, truth):
        assert len(cols) == 5 and abs(float(cols[0]) - a) <= 0.05 and abs(float(cols[1]) - b) <= 0.05
        assert float(cols[3]) < 0 and 0 <= float(cols[4]) <= 1
    assert "Listening to - (raw s16le, 8000 Hz, 1 channel)" in result.stderr


def test_listen_json_lines_nbest_and_threshold(model):
    x, truth = _take(n_words=3)
    result = _listen(model, ["--input", "-", "--rate", "8000", "--json", "--nbest", "2", "-q"], _s16(x))
    assert result.exit_code == 0 and result.stderr == ""
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["word"] for o in objs] == [w for _, _, w in truth]
    assert {"start", "end", "word", "best_word", "confidence", "log_lik", "n_frames", "nbest"} <= set(objs[0])
    assert all(len(o["nbest"]) == 2 and o["nbest"][0]["log_lik"] == o["log_lik"] for o in objs)
    result = _listen(model, ["--input", "-", "--rate", "8000", "--threshold", "1"], _s16(x))
    assert {line.split("\t")[2] for line in result.stdout.splitlines()} == {"<unknown>"}
    tsv = _listen(model, ["--input", "-", "--rate", "8000", "--nbest", "3"], _s16(x)).stdout.splitlines()
    assert all(len(line.split("\t")) == 5 + 6 for line in tsv)


@pytest.mark.parametrize("container", ["WAV", "FLAC"])
def test_listen_reads_a_stream_with_a_header(model, container):
    x, truth = _take(n_words=3)
    buf = io.BytesIO()
    sf.write(buf, np.stack([x, x], axis=1), RATE, format=container, subtype="PCM_16")
    result = _listen(model, ["--input", "-"], buf.getvalue())
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == [w for _, _, w in truth]
    result = _listen(model, ["--input", "-", "--rate", "16000"], buf.getvalue())
    assert result.exit_code == 1
    assert f"Error: -: the {container} header says 8000 Hz, 2 channel(s), s16le, which disagrees with the rate given (--rate 16000)" in result.stderr


def test_listen_faults_are_one_line_each(model):
    x, truth = _take(n_words=3)
    cases = {
        "text": (["--input", "-"], b"this is not audio at all, it is a text file\n" * 10, 1, "Error: -: the stream looks like text, not audio"),
        "ogg": (["--input", "-"], b"OggS\0\2" + bytes(500), 1, "Error: -: the stream is Ogg"),
        "truncated": (["--input", "-", "--rate", "8000"], _s16(x) + b"\1", 0, "Note: -: the stream ended inside a sample; its last 1 byte(s) were ignored"),
    }
    for name, (args, data, code, message) in cases.items():
        result = _listen(model, args, data)
        assert result.exit_code == code, (name, result.stderr)
        assert message in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.output
    assert len(_listen(model, cases["truncated"][0], cases["truncated"][1]).stdout.splitlines()) == 3


def test_listen_answers_what_it_heard_before_a_fault(model):
    x, truth = _take(n_words=3)
    f = x.astype("<f4")
    f[int((truth[2][0] - 0.2) * RATE)] = np.nan  # after two words, before the third
    result = _listen(model, ["--input", "-", "--rate", "8000", "--format", "f32le"], f.tobytes())
    assert result.exit_code == 1
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == ["low", "mid"]
    assert "Error: -: NaN or infinite sample values after" in result.stderr


def test_listen_replays_a_file(model, tmp_path, monkeypatch):
    from wordrec.io import sources

    x, truth = _take(n_words=3)
    path = tmp_path / "take.wav"
    sf.write(str(path), x, RATE)
    result = _listen(model, ["--input", str(path)])
    assert result.exit_code == 0
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == [w for _, _, w in truth]
    slept = []
    monkeypatch.setattr(sources.time, "sleep", slept.append)
    result = _listen(model, ["--input", str(path), "--realtime"])
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == [w for _, _, w in truth]
    assert len(slept) > 0.9 * len(x) / 160  # one wait per 20 ms block


@pytest.mark.parametrize("args,message", [
    (["--input", "-", "--realtime"], "--realtime would have no effect"),
    (["--input", "x.wav", "--rate", "8000"], "--rate would have no effect"),
    (["--format", "f32le"], "--format would have no effect"),
    (["--input", "-", "--device", "1"], "--device would have no effect"),
    (["--input", "-", "--no-reject", "--threshold", "0.5"], "--threshold would have no effect"),
])
def test_listen_usage_errors(model, args, message):
    result = _listen(model, args)
    assert result.exit_code == 2 and message in result.stderr


# -- the microphone, through a stand-in for sounddevice ---------------------


def test_listen_from_the_microphone(model, monkeypatch):
    x, truth = _take(n_words=3, rate=16000)
    fake = FakeSoundDevice(x, 16000, end="interrupt")
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    result = CliRunner().invoke(cli, ["listen", "-m", str(model), "--json"])
    assert result.exit_code == 0, result.output  # Ctrl-C ends listening normally
    assert [json.loads(line)["word"] for line in result.stdout.splitlines()] == [w for _, _, w in truth]
    assert "Listening to microphone (Fake Mic, 16000 Hz, 1 channel(s))" in result.stderr and "Stopped." in result.stderr


def test_a_microphone_that_disappears_is_an_error_after_the_words_heard(model, monkeypatch):
    x, truth = _take(n_words=3, rate=16000, tail=0.0)
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(x, 16000, end="vanish"))
    result = CliRunner().invoke(cli, ["listen", "-m", str(model), "--device", "Fake"])
    assert result.exit_code == 1
    assert [line.split("\t")[2] for line in result.stdout.splitlines()] == [w for _, _, w in truth]
    assert "Error: microphone 'Fake': the device stopped delivering audio (disconnected?)" in result.stderr


def test_list_devices_and_a_missing_sounddevice(model, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(np.zeros(10), 16000))
    result = CliRunner().invoke(cli, ["listen", "--list-devices"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["index\tname\tchannels\tdefault_rate\tdefault", "0\tFake Mic\t2\t16000\tyes"]
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    for args in (["listen", "--list-devices"], ["listen", "-m", str(model)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [
            "Error: microphone input needs the sounddevice package: pip install 'wordrec[mic]' (or read a stream with --input -)"
        ]


# -- through real pipes -------------------------------------------------------


def _command(model, *args):
    return [sys.executable, "-m", "wordrec", "listen", "-m", str(model), "--input", "-", "--rate", "8000", *args]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))


def _readline(proc, timeout=60.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no line from listen"
    return proc.stdout.readline().decode()


def test_listen_through_a_pipe_answers_each_word_before_the_stream_ends(model):
    x, truth = _take(n_words=6)
    data = _s16(x)
    first_end = int((truth[0][1] + 0.5) * RATE) * 2
    with subprocess.Popen(_command(model, "--json"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=_env()) as proc:
        proc.stdin.write(data[:first_end])
        proc.stdin.flush()
        first = json.loads(_readline(proc))  # while the stream is still open
        assert first["word"] == truth[0][2]
        proc.stdin.write(data[first_end:])
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    rest = [json.loads(line) for line in out.decode().splitlines()]
    assert [o["word"] for o in [first, *rest]] == [w for _, _, w in truth]
    assert err.decode().startswith("Listening to -")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_listen_stops_cleanly_on_ctrl_c_and_sigterm(model, sig):
    x, truth = _take(n_words=2, tail=0.6)
    with subprocess.Popen(_command(model), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_env()) as proc:
        proc.stdin.write(_s16(x))
        proc.stdin.flush()
        lines = [_readline(proc), _readline(proc)]
        proc.send_signal(sig)  # stdin still open: listen is waiting for audio
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    lines += out.decode().splitlines(keepends=True)
    assert [line.split("\t")[2] for line in lines] == ["low", "mid"]
    assert all(line.endswith("\n") and len(line.split("\t")) == 5 for line in lines)
    assert "Traceback" not in err.decode()


def test_listen_exits_quietly_when_stdout_is_closed(model, tmp_path):
    x, truth = _take(n_words=9)
    data = _s16(x)
    cut = int((truth[1][1] + 0.5) * RATE) * 2  # two words, then a pause in the stream while head exits
    (tmp_path / "a.raw").write_bytes(data[:cut])
    (tmp_path / "b.raw").write_bytes(data[cut:])
    listen = " ".join(_command(model))
    script = (f"{{ cat {tmp_path / 'a.raw'}; sleep 3; cat {tmp_path / 'b.raw'}; }} | {listen} 2> {tmp_path / 'err'} | head -1; "
              'echo "${PIPESTATUS[1]}"')
    result = subprocess.run(["bash", "-c", script], capture_output=True, env=_env(), timeout=120)
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[2] == "low"
    assert lines[1] == "0"  # listen's exit status
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err and "Error" not in err and "Exception" not in err


def test_recognize_reads_one_recording_from_stdin(model, tmp_path):
    x, truth = _take(n_words=1, tail=0.3)
    buf = io.BytesIO()
    sf.write(buf, x, RATE, format="FLAC")
    runner = CliRunner()
    for args, data in ((["-"], buf.getvalue()), (["-", "--rate", "8000"], _s16(x))):
        result = runner.invoke(cli, ["recognize", "-m", str(model), *args], input=data)
        assert result.exit_code == 0, result.output
        assert result.stdout.split("\t")[:2] == ["-", truth[0][2]]
    result = runner.invoke(cli, ["recognize", "-m", str(model), "-", "--rate", "8000"], input=b"")
    assert result.exit_code == 3 and "Error: -: contains no audio samples" in result.stderr
    result = runner.invoke(cli, ["recognize", "-m", str(model), "-", str(tmp_path)])
    assert result.exit_code == 2


def test_recognize_segment_reads_a_take_from_stdin(model, tmp_path):
    x, truth = _take(n_words=6)
    path = tmp_path / "take.wav"
    sf.write(str(path), x, RATE, subtype="PCM_16")
    runner = CliRunner()
    from_file = runner.invoke(cli, ["recognize", "-m", str(model), "--segment", str(path)]).stdout.splitlines()
    result = runner.invoke(cli, ["recognize", "-m", str(model), "--segment", "-"], input=path.read_bytes())
    assert result.exit_code == 0
    assert [line.split("\t")[1:] for line in result.stdout.splitlines()] == [line.split("\t")[1:] for line in from_file]
    assert len(from_file) == len(truth)
