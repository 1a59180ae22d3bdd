"""Audio sources: byte streams (raw PCM, WAV, FLAC) through real pipes, files, the microphone."""

import io
import os
import struct
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from fake_sounddevice import FakeSoundDevice
from wordrec.io import mic, sources, stream
from wordrec.errors import WordrecError


def _signal(rng, n=4000, channels=1):
    return np.clip(0.3 * rng.standard_normal((n, channels)), -0.99, 0.99)


def _pipe(data: bytes, chunk: int = 333):
    """A real, non-seekable pipe that delivers ``data`` in small writes, then ends."""
    r, w = os.pipe()

    def feed():
        with open(w, "wb", buffering=0) as f:
            for a in range(0, len(data), chunk):
                try:
                    f.write(data[a : a + chunk])
                except BrokenPipeError:
                    return

    threading.Thread(target=feed, daemon=True).start()
    return open(r, "rb")


def _read(data: bytes, **kw):
    """(source, all its samples) read from a pipe."""
    with _pipe(data) as f:
        src = stream.ByteStream(f, "-", **kw)
        blocks = list(src.blocks())
    return src, (np.concatenate(blocks) if blocks else np.zeros(0))


def _container(x, rate, fmt="WAV", subtype="PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _set_data_size(wav: bytes, size: int) -> bytes:
    at = wav.index(b"data") + 4
    return wav[:at] + struct.pack("<I", size) + wav[at + 4 :]


@pytest.mark.parametrize("fmt,dtype,scale", [("s16le", "<i2", 32768), ("s32le", "<i4", 2**31), ("f32le", "<f4", 1.0)])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_raw_pcm_is_decoded_and_mixed_down(rng, fmt, dtype, scale, channels):
    x = _signal(rng, 3001, channels)
    raw = (x * scale).astype(dtype) if scale != 1.0 else x.astype(dtype)
    src, y = _read(raw.tobytes(), rate=22050, fmt=fmt, channels=channels)
    assert (src.container, src.rate, src.channels, src.format) == ("raw", 22050, channels, fmt)
    np.testing.assert_allclose(y, (raw.astype(float) / scale).mean(axis=1), atol=1e-12)
    assert src.notes == []


def test_raw_defaults_are_16_khz_s16le_mono(rng):
    src, y = _read((_signal(rng)[:, 0] * 32767).astype("<i2").tobytes())
    assert (src.rate, src.format, src.channels) == (16000, "s16le", 1)
    assert len(y) == 4000


@pytest.mark.parametrize("size", ["right", 0, 0xFFFFFFFF])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_a_wav_stream_is_read_whatever_its_data_size_says(rng, size, subtype):
    x = _signal(rng, 2500, 2)
    wav = _container(x, 11025, subtype=subtype)
    if size != "right":
        wav = _set_data_size(wav, size)
    src, y = _read(wav)
    expected, _ = sf.read(io.BytesIO(_container(x, 11025, subtype=subtype)))
    assert (src.container, src.rate, src.channels) == ("WAV", 11025, 2)
    np.testing.assert_allclose(y, expected.mean(axis=1), atol=1e-9)


def test_a_wav_stream_stops_at_its_data_size_and_skips_other_chunks(rng):
    x = _signal(rng, 1000)
    wav = _container(x, 8000)
    at = wav.index(b"data")
    listed = wav[:at] + b"LIST" + struct.pack("<I", 5) + b"abcde\0" + wav[at:] + b"junk" + struct.pack("<I", 4) + b"\xff" * 4
    src, y = _read(listed)
    np.testing.assert_allclose(y, sf.read(io.BytesIO(wav))[0], atol=1e-12)
    assert src.notes == []


def test_extensible_and_rf64_headers(rng):
    x = _signal(rng, 1500, 3)
    for fmt in ("WAVEX", "RF64"):
        data = _container(x, 16000, fmt, "PCM_24")
        src, y = _read(data)
        assert (src.rate, src.channels, src.format) == (16000, 3, "s24le"), fmt
        np.testing.assert_allclose(y, sf.read(io.BytesIO(data))[0].mean(axis=1), atol=1e-9)


@pytest.mark.parametrize("channels,rate,subtype", [(1, 8000, "PCM_16"), (2, 44100, "PCM_24")])
def test_a_flac_stream_is_decoded_through_a_pipe(rng, channels, rate, subtype):
    t = np.arange(int(3.3 * rate)) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t * (1 + c / 10)) for c in range(channels)], axis=1)
    data = _container(x, rate, "FLAC", subtype)
    with _pipe(data) as f:
        src = stream.ByteStream(f, "-")
        blocks = []
        for b in src.blocks():
            blocks.append(b)
            # Bytes of the stream held for libsndfile's seeks stay bounded.
            assert len(src._pipe.kept) <= 2 * stream._PipeFile.KEEP + 65536
    y = np.concatenate(blocks)
    assert (src.container, src.rate, src.channels) == ("FLAC", rate, channels)
    np.testing.assert_allclose(y, sf.read(io.BytesIO(data))[0].reshape(len(x), -1).mean(axis=1), atol=1e-9)


@pytest.mark.parametrize("given,name", [({"rate": 16000}, "rate"), ({"channels": 2}, "channels"), ({"fmt": "f32le"}, "format")])
@pytest.mark.parametrize("container", ["WAV", "FLAC"])
def test_a_header_that_disagrees_with_the_given_layout_is_refused(rng, given, name, container):
    data = _container(_signal(rng), 8000, container)
    with pytest.raises(WordrecError, match=rf"^-: the {container} header says 8000 Hz, 1 channel\(s\), s16le, which disagrees with the {name} given"):
        _read(data, **given)
    _read(data, rate=8000, fmt="s16le", channels=1)  # agreeing is fine


def test_text_is_not_audio():
    with pytest.raises(WordrecError, match="^-: the stream looks like text, not audio$"):
        _read(b"Usage: arecord [FLAG]... [FILENAME]...\n" * 20)
    with pytest.raises(WordrecError, match="looks like text"):
        _read(b"hello\n")


@pytest.mark.parametrize("magic,what", [(b"OggS\0\2", "Ogg"), (b"ID3\3\0", "MP3"), (b"FORM\0\0\0\0AIFF", "AIFF")])
def test_other_containers_are_named(magic, what):
    with pytest.raises(WordrecError, match=f"^-: the stream is {what}; .*convert it"):
        _read(magic + bytes(range(256)) * 4)


def test_a_truncated_last_sample_is_ignored_with_a_note(rng):
    raw = (_signal(rng, 1000, 2) * 30000).astype("<i2").tobytes()
    src, y = _read(raw + raw[:3], rate=8000, channels=2)
    assert len(y) == 1000 + 0  # the partial stereo frame (3 of 4 bytes) is dropped
    assert src.notes == ["-: the stream ended inside a sample; its last 3 byte(s) were ignored"]


def test_a_wav_stream_shorter_than_its_header_says_gets_a_note(rng):
    wav = _container(_signal(rng, 1000), 8000)
    src, y = _read(wav[:-200])
    assert len(y) == 900
    assert src.notes == ["-: the stream ended 200 bytes before the end its WAV header gives"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_floats_are_refused_naming_the_time(rng, bad):
    x = _signal(rng, 16000)[:, 0].astype("<f4")
    x[12000] = bad
    with pytest.raises(WordrecError, match=r"^-: NaN or infinite sample values after 0\.\d+ s"):
        _read(x.tobytes(), rate=16000, fmt="f32le")


def test_pcm_read_as_float_is_refused(rng):
    # s16le bytes read as f32le: NaNs, or values far outside [-1, 1].
    raw = (_signal(rng, 8000)[:, 0] * 20000).astype("<i2").tobytes()
    with pytest.raises(WordrecError, match=r"(NaN or infinite|should be within \[-1, 1\]).*is the stream really f32le"):
        _read(raw, rate=8000, fmt="f32le")


@pytest.mark.parametrize("damage", ["short header", "no data chunk", "format tag", "block align"])
def test_broken_wav_headers(rng, damage):
    wav = _container(_signal(rng, 100), 8000)
    bad = {
        "short header": wav[:30],
        "no data chunk": wav[:36],
        "format tag": wav[:20] + struct.pack("<H", 6) + wav[22:],  # A-law
        "block align": wav[:32] + struct.pack("<H", 4) + wav[34:],
    }[damage]
    with pytest.raises(WordrecError, match="^-: (the WAV stream ended inside its header|WAV sample format 6|corrupt WAV header)"):
        _read(bad)


def test_an_empty_stream_has_no_samples():
    src, y = _read(b"")
    assert len(y) == 0
    assert src.notes == ["-: the stream ended before any audio"]


def test_file_replay_in_blocks_equals_the_file(rng, tmp_path):
    x = _signal(rng, 20000, 2)
    path = tmp_path / "a.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    src = sources.FileSource(path)
    y = np.concatenate(list(src.blocks()))
    np.testing.assert_allclose(y, x.astype(np.float32).mean(axis=1), atol=1e-7)


def test_realtime_replay_waits_for_the_clock(rng, tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    sf.write(str(path), _signal(rng, 16000), 8000)
    now, slept = [100.0], []

    def sleep(s):
        slept.append(s)
        now[0] += s

    monkeypatch.setattr(sources.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(sources.time, "sleep", sleep)
    blocks = list(sources.FileSource(path, realtime=True, block_seconds=0.02).blocks())
    assert len(blocks) == 100 and all(len(b) == 160 for b in blocks)
    assert sum(slept) == pytest.approx(2.0)  # the clock, not the decoder, sets the pace


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(WordrecError, match="nope.wav: no such file"):
        sources.FileSource(tmp_path / "nope.wav")


# -- the microphone ---------------------------------------------------------


def test_microphone_blocks_come_from_the_input_stream(rng, monkeypatch):
    x = _signal(rng, 16000)[:, 0]
    fake = FakeSoundDevice(x, 16000, end="vanish")
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    m = mic.Microphone(channels=2)
    got = []
    with pytest.raises(WordrecError, match="^microphone: the device stopped delivering audio"):
        for b in m.blocks():
            got.append(b)
    np.testing.assert_allclose(np.concatenate(got), x[: len(x) // 320 * 320].astype(np.float32), atol=1e-7)
    assert fake.opened == [{"samplerate": 16000, "blocksize": 320, "device": None, "channels": 2}]


def test_microphone_device_by_index_or_name_and_errors(rng, monkeypatch):
    fake = FakeSoundDevice(_signal(rng, 100)[:, 0], 16000)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    assert mic.Microphone("0").device == 0
    assert mic.Microphone("fake").device_name == "Fake Mic"
    with pytest.raises(WordrecError, match="^microphone 1: no such input device"):
        mic.Microphone("1")  # an output
    with pytest.raises(WordrecError, match="^microphone 'usb': no such input device"):
        mic.Microphone("usb")
    with pytest.raises(WordrecError, match="^microphone: cannot record .*Invalid sample rate"):
        next(mic.Microphone(rate=12345).blocks())
    assert mic.input_devices() == [{"index": 0, "name": "Fake Mic", "channels": 2, "rate": 16000.0, "default": True}]


def test_without_sounddevice_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails with ImportError
    with pytest.raises(WordrecError, match=r"^microphone input needs the sounddevice package: pip install 'wordrec\[mic\]'"):
        mic.Microphone()


def test_without_portaudio_the_message_says_what_to_install(monkeypatch):
    class NoPortAudio:
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    with pytest.raises(WordrecError, match=r"^microphone input needs the PortAudio library .*pip install 'wordrec\[mic\]'"):
        mic.input_devices()


def test_a_terminal_on_stdin_is_not_read(monkeypatch):
    class Terminal(io.BytesIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    with pytest.raises(WordrecError, match="^-: standard input is a terminal, not audio; pipe a stream into it"):
        stream.stdin()
