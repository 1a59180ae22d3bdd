"""Read recordings, from files or arrays, into mono float64 signals at a requested sample rate.

Everything soundfile (libsndfile) reads is accepted: WAV of any PCM or float
subtype, FLAC, OGG/Vorbis, AIFF, ...  A recording given as a numpy array
(:class:`Samples`) is converted exactly as libsndfile converts the same
samples in a file.  Every failure becomes a :class:`WordrecError` whose
message starts with the file's or the array's name.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io.decoders import READ_ERRORS as _READ_ERRORS
from wordrec.io.decoders import decoder_message, quiet_decoders  # noqa: F401  (also used as audio.*)

#: Longest recording accepted as a single word, in seconds.  Longer takes are
#: refused with a pointer to ``--segment`` instead of being read into memory.
MAX_WORD_SECONDS = 60.0

#: Sample rates outside this range (Hz) are taken for a corrupt header.
MIN_RATE, MAX_RATE = 1000, 768000

# Values (samples x channels) decoded at a time: a many-channel file is mixed
# down block by block instead of being held whole.
_BLOCK_VALUES = 1 << 20

# Largest up- or down-sampling factor of the polyphase resampler.  The filter
# has about 20 taps per unit of the larger factor, so an odd rate such as
# 44101 Hz (exact ratio 8000/44101) would cost seconds and hundreds of MB;
# such ratios are approximated instead (a pitch error of a few ppm).
_MAX_FACTOR = 2048


class NoSound(WordrecError):
    """A recording that holds no sound at all: every sample the same (digital silence, DC)."""


@dataclass(frozen=True, eq=False)
class Samples:
    """A recording given as samples in memory instead of a file.

    Attributes
    ----------
    data : ndarray, shape (n_samples,) or (n_samples, n_channels)
        Any float dtype (full scale is 1.0) or integer dtype (full scale is
        the type's range, as in a PCM file).
    rate : int
        Sample rate in Hz.
    name : str
        How messages name it, e.g. ``recordings[3]``.
    """

    data: np.ndarray
    rate: int
    name: str

    def __str__(self) -> str:
        return self.name

    def info(self, max_seconds: float = MAX_WORD_SECONDS) -> tuple[int, int, int]:
        """``(sample_rate_hz, n_channels, n_samples)``, as :func:`info` gives a file's."""
        data = _checked_array(self)
        rate = _checked_rate(self)
        _check_length(self, len(data), rate, max_seconds)
        return rate, 1 if data.ndim == 1 else data.shape[1], len(data)


#: Channels at most in an array: more is almost surely a (channels, samples) array.
_MAX_ARRAY_CHANNELS = 256


def _checked_rate(rec: Samples) -> int:
    rate = rec.rate
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not MIN_RATE <= rate <= MAX_RATE:
        raise _fail(rec, f"sample rate {rate!r} must be a whole number of Hz in {MIN_RATE}-{MAX_RATE}")
    return int(rate)


def _checked_array(rec: Samples) -> np.ndarray:
    data = rec.data
    if not isinstance(data, np.ndarray):
        try:
            data = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise _fail(rec, f"not an array of samples ({exc})") from None
    if data.dtype.kind not in "fiu":
        raise _fail(rec, f"samples must be numbers (float or integer), not {data.dtype}")
    if data.ndim not in (1, 2):
        raise _fail(rec, f"samples must be 1-D (n_samples,) or 2-D (n_samples, n_channels), not {data.ndim}-D")
    if data.ndim == 2 and (data.shape[1] == 0 or data.shape[1] > _MAX_ARRAY_CHANNELS):
        raise _fail(
            rec, f"shape {data.shape} would be {data.shape[1]} channels: give (n_samples, n_channels) (transpose a channels-first array)"
        )
    return data


def _as_float(data: np.ndarray) -> np.ndarray:
    """Samples as float64 with full scale 1.0, the way libsndfile reads PCM of the same width."""
    if data.dtype.kind == "f":
        return data.astype(np.float64, copy=False)
    bits = 8 * data.dtype.itemsize
    if data.dtype.kind == "u":  # offset binary, as 8-bit WAV
        return (data.astype(np.float64) - 2.0 ** (bits - 1)) / 2.0 ** (bits - 1)
    return data.astype(np.float64) / 2.0 ** (bits - 1)


def _read_samples(rec: Samples, rate: int | None, max_seconds: float) -> tuple[np.ndarray, int]:
    """:func:`read` for a recording in memory."""
    data = _checked_array(rec)
    file_rate = _checked_rate(rec)
    _check_length(rec, len(data), file_rate, max_seconds)
    signal = _as_float(data)
    signal = signal if signal.ndim == 1 else to_mono(signal)
    if not np.all(np.isfinite(signal)):
        raise _fail(rec, "contains NaN or infinite sample values")
    return _finished(rec, signal, file_rate, rate)


def block_of(data, rate: int, name: str) -> np.ndarray:
    """A block of a stream as an array (as in :class:`Samples`): mono float64 in [-1, 1], shape (n,).

    WordrecError naming the stream for a bad shape, dtype or rate, NaN or inf; empty or silent is fine.
    """
    rec = Samples(data, rate, name)
    _checked_rate(rec)
    signal = _as_float(_checked_array(rec))
    signal = signal if signal.ndim == 1 else to_mono(signal)
    if not np.all(np.isfinite(signal)):
        raise _fail(rec, "contains NaN or infinite sample values")
    return np.clip(signal, -1.0, 1.0)


def _fail(path, problem: str) -> WordrecError:
    return WordrecError(f"{path}: {problem}")


def _check_path(path) -> str | bytes:
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, f"cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "not a regular file")
    if st.st_size == 0:
        raise _fail(path, "empty file")
    if not os.access(p, os.R_OK):  # libsndfile would only say "System error."
        raise _fail(path, "cannot read (permission denied)")
    return p


def open_audio(path):
    """Open ``path`` with soundfile, as a context manager; errors name the file.

    The header is checked: a zero or implausible sample rate or channel
    count is refused rather than decoded.
    """
    import soundfile as sf

    p = _check_path(path)
    try:
        # Bytes, so that names that are not valid UTF-8 open too.
        with quiet_decoders():
            handle = sf.SoundFile(os.fsencode(p))
    except _READ_ERRORS as exc:
        raise _fail(path, f"not a readable audio file ({decoder_message(exc)})") from None
    problem = _header_problem(handle)
    if problem:
        handle.close()
        raise _fail(path, problem)
    return handle


# Bytes per sample of the fixed-size subtypes, to check a WAV header's block align.
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _header_problem(h) -> str | None:
    """What is wrong with an open file's header, or None."""
    rate, channels = h.samplerate, h.channels
    if rate <= 0 or channels <= 0:
        return "corrupt header (sample rate or channel count is zero)"
    if not MIN_RATE <= rate <= MAX_RATE:
        return f"corrupt header (sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz)"
    if h.format in ("WAV", "WAVEX", "W64", "RF64") and h.subtype in _SAMPLE_BYTES:
        # libsndfile decodes a WAV whose channel count or bit width disagrees
        # with its block size, and the result is noise; refuse it instead.
        found = re.search(r"Block Align\s*:\s*(\d+)", h.extra_info)
        expected = channels * _SAMPLE_BYTES[h.subtype]
        if found and int(found.group(1)) != expected:
            return (
                f"corrupt header (block align is {found.group(1)} bytes, but {channels} "
                f"channel(s) of {h.subtype} need {expected})"
            )
    return None


def _check_length(path, n_samples: int, rate: int, max_seconds: float) -> None:
    if n_samples <= 0:
        raise _fail(path, "contains no audio samples")
    duration = n_samples / rate
    if duration > max_seconds:
        raise _fail(
            path,
            f"recording is {duration:.1f} s long; single words are limited to "
            f"{max_seconds:g} s (use 'recognize --segment' for long takes)",
        )


def info(path, max_seconds: float = MAX_WORD_SECONDS) -> tuple[int, int, int]:
    """Return ``(sample_rate_hz, n_channels, n_samples)`` without decoding.

    Raises
    ------
    WordrecError
        If the file is missing, empty, not audio soundfile can read, or a
        recording :func:`read` would refuse (no samples, longer than
        ``max_seconds``).
    """
    if isinstance(path, Samples):
        return path.info(max_seconds)
    with open_audio(path) as h:
        rate, channels, n_samples = int(h.samplerate), int(h.channels), int(h.frames)
    _check_length(path, n_samples, rate, max_seconds)
    return rate, channels, n_samples


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a 1-D signal by a rational factor (polyphase, Kaiser window).

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
    rate_in, rate_out : int
        Sample rates in Hz.

    Returns
    -------
    ndarray, shape (round(n_samples * rate_out / rate_in),)
    """
    if rate_in == rate_out:
        return signal
    from scipy.signal import resample_poly

    up, down = resample_factors(rate_in, rate_out)
    return resample_poly(signal, up, down)


def resample_factors(rate_in: int, rate_out: int) -> tuple[int, int]:
    """``(up, down)`` with ``up / down`` equal to, or within a few ppm of, ``rate_out / rate_in``.

    Both factors are at most ``_MAX_FACTOR``, which bounds the resampling
    filter whatever rates a file header claims.
    """
    ratio = Fraction(int(rate_out), int(rate_in))
    if max(ratio.numerator, ratio.denominator) > _MAX_FACTOR:
        if ratio < 1:
            ratio = ratio.limit_denominator(_MAX_FACTOR)
        else:
            ratio = 1 / (1 / ratio).limit_denominator(_MAX_FACTOR)
        ratio = max(ratio, Fraction(1, _MAX_FACTOR))
    return ratio.numerator, ratio.denominator


def to_mono(block: np.ndarray) -> np.ndarray:
    """Mix ``(n_samples, n_channels)`` down to ``(n_samples,)`` by averaging.

    Samples of a damaged float file may overflow the sum; that gives inf
    without a warning, and the caller refuses non-finite results.
    """
    if block.shape[1] == 1:
        return block[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        return block.mean(axis=1)


def read(path, rate: int | None = None, max_seconds: float = MAX_WORD_SECONDS) -> tuple[np.ndarray, int]:
    """Read one recording as mono float64 in [-1, 1].

    Parameters
    ----------
    path : str, Path or Samples
    rate : int, optional
        Target sample rate in Hz; the file is resampled to it.  ``None``
        keeps the file's own rate.
    max_seconds : float
        Longer recordings are refused before decoding (they are not single
        words, and reading them whole would cost unbounded memory).

    Returns
    -------
    signal : ndarray, shape (n_samples,), float64
    rate : int
        The sample rate of ``signal`` in Hz.

    Raises
    ------
    WordrecError
        Naming the file: missing, a folder, empty, not audio, a corrupt or
        implausible header, undecodable data, no samples, too long, NaN or
        infinite samples, or no sound at all (every sample the same).
    """
    if isinstance(path, Samples):
        return _read_samples(path, rate, max_seconds)
    with quiet_decoders(), open_audio(path) as h:  # one redirection for the whole file
        file_rate = int(h.samplerate)
        _check_length(path, int(h.frames), file_rate, max_seconds)
        signal = _decode(path, h, max_seconds * file_rate)
    return _finished(path, signal, file_rate, rate)


def _finished(path, signal: np.ndarray, file_rate: int, rate: int | None) -> tuple[np.ndarray, int]:
    """The checks and conversions every recording gets after decoding."""
    if len(signal) == 0:
        raise _fail(path, "contains no audio samples (truncated?)")
    if len(signal) > 1 and signal.min() == signal.max():
        what = "digital silence, " if signal[0] == 0 else ""
        raise NoSound(f"{path}: no sound ({what}every sample is {signal[0]:g})")
    signal = np.clip(signal, -1.0, 1.0)
    out_rate = file_rate if rate is None else int(rate)
    return resample(signal, file_rate, out_rate), out_rate


def _decode(path, h, max_samples: float) -> np.ndarray:
    """All of an open file's samples mixed down to mono: ndarray (n_samples,).

    Decodes block by block, so memory stays proportional to the mono signal
    whatever the channel count, and stops at ``max_samples`` even if the
    header understated the length.
    """
    block = max(1, _BLOCK_VALUES // int(h.channels))
    parts, total = [], 0
    while True:
        try:  # read() keeps the decoders quiet around all of this
            data = h.read(block, dtype="float64", always_2d=True)
        except _READ_ERRORS as exc:
            raise _fail(path, f"cannot decode audio ({decoder_message(exc)})") from None
        if len(data) == 0:
            break
        mono = to_mono(data)
        if not np.all(np.isfinite(mono)):
            raise _fail(path, "contains NaN or infinite sample values")
        parts.append(mono)
        total += len(mono)
        if total > max_samples:
            raise _fail(path, f"recording is longer than the {max_samples / h.samplerate:g} s allowed for a single word")
        if len(data) < block and h.seekable():  # the end (soundfile reads up to it and no further)
            break
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.zeros(0)
