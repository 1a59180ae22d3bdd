"""Read audio files into mono float64 signals at a requested sample rate.

Everything soundfile (libsndfile) reads is accepted: WAV of any PCM or float
subtype, FLAC, OGG/Vorbis, AIFF, ...  Every failure becomes a
:class:`WordrecError` whose message starts with the file name.
"""

from __future__ import annotations

import stat
from math import gcd
from pathlib import Path

import numpy as np

from wordrec.errors import WordrecError

#: Longest recording accepted as a single word, in seconds.  Longer takes are
#: refused with a pointer to ``--segment`` instead of being read into memory.
MAX_WORD_SECONDS = 60.0

# Errors libsndfile and the soundfile wrapper raise for unreadable input.
_READ_ERRORS = (RuntimeError, ValueError, TypeError, OSError, EOFError, MemoryError)


def _fail(path, problem: str) -> WordrecError:
    return WordrecError(f"{path}: {problem}")


def _check_path(path) -> Path:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, f"cannot access ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, "is a directory, not an audio file")
    if st.st_size == 0:
        raise _fail(path, "empty file")
    return p


def open_audio(path):
    """Open ``path`` with soundfile, as a context manager; errors name the file."""
    import soundfile as sf

    p = _check_path(path)
    try:
        handle = sf.SoundFile(str(p))
    except _READ_ERRORS as exc:
        raise _fail(path, f"not a readable audio file ({_short(exc)})") from None
    if handle.samplerate <= 0 or handle.channels <= 0:
        handle.close()
        raise _fail(path, "corrupt header (sample rate or channel count is zero)")
    return handle


def info(path) -> tuple[int, int, int]:
    """Return ``(sample_rate_hz, n_channels, n_samples)`` without decoding.

    Raises
    ------
    WordrecError
        If the file is missing, empty or not audio soundfile can read.
    """
    with open_audio(path) as h:
        return int(h.samplerate), int(h.channels), int(h.frames)


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    msg = lines[-1] if lines else type(exc).__name__
    # libsndfile says "Error opening '<path>': <problem>"; the caller names the path.
    return msg.split("': ", 1)[1] if msg.startswith("Error opening '") and "': " in msg else msg


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

    g = gcd(int(rate_in), int(rate_out))
    return resample_poly(signal, rate_out // g, rate_in // g)


def to_mono(block: np.ndarray) -> np.ndarray:
    """Mix ``(n_samples, n_channels)`` down to ``(n_samples,)`` by averaging."""
    return block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]


def read(path, rate: int | None = None, max_seconds: float = MAX_WORD_SECONDS) -> tuple[np.ndarray, int]:
    """Read one recording as mono float64 in [-1, 1].

    Parameters
    ----------
    path : str or Path
    rate : int, optional
        Target sample rate in Hz; the file is resampled to it.  ``None``
        keeps the file's own rate.
    max_seconds : float
        Longer recordings are refused (they are not single words, and
        reading them whole would cost unbounded memory).

    Returns
    -------
    signal : ndarray, shape (n_samples,), float64
    rate : int
        The sample rate of ``signal`` in Hz.
    """
    with open_audio(path) as h:
        file_rate, n_samples = int(h.samplerate), int(h.frames)
        if n_samples == 0:
            raise _fail(path, "contains no audio samples")
        duration = n_samples / file_rate
        if duration > max_seconds:
            raise _fail(
                path,
                f"recording is {duration:.1f} s long; single words are limited to "
                f"{max_seconds:g} s (use 'recognize --segment' for long takes)",
            )
        try:
            data = h.read(dtype="float64", always_2d=True)
        except _READ_ERRORS as exc:
            raise _fail(path, f"cannot decode audio ({_short(exc)})") from None
    if data.shape[0] == 0:
        raise _fail(path, "contains no audio samples (truncated?)")
    signal = to_mono(data)
    if not np.all(np.isfinite(signal)):
        raise _fail(path, "contains NaN or infinite sample values")
    signal = np.clip(signal, -1.0, 1.0)
    out_rate = file_rate if rate is None else int(rate)
    return resample(signal, file_rate, out_rate), out_rate
