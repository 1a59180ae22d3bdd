"""The front end: MFCCs with deltas and per-utterance normalisation.

The maths is python_speech_features' (its mel filterbank, DCT and lifter
are written out here with the same formulas, and the tests check
:func:`extract` against its ``mfcc`` and ``delta``), but frames of many
recordings go through one FFT, one filterbank product and one DCT, and
deltas are computed without a Python loop, so a whole corpus is featurised
in a few array operations.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from wordrec.errors import WordrecError, check_settings

WINDOWS = ("hamming", "hann", "rectangular")

# Frames are processed in chunks of this many, to bound the memory of the
# (n_frames, frame_length) frame matrix on large corpora; a chunk's spectra
# (a few MB) stay in cache, which is faster than larger chunks.
_CHUNK_FRAMES = 2048


@dataclass(frozen=True)
class FeatureConfig:
    """Every front-end setting; stored in the model so recognition matches training.

    Times are in seconds, frequencies in Hz.  Defaults follow HTK's
    isolated-word recipe: 25 ms Hamming window, 10 ms shift, pre-emphasis
    0.97, 26 mel filters, 12 cepstra plus log energy, lifter 22, deltas and
    delta-deltas over +-2 frames (39 features).  Normalisation is per
    utterance: half of the mean is subtracted from every feature, there is
    no variance normalisation, and log energy is taken relative to the
    utterance's loudest frame (HTK's ENORMALISE).  The mean of a one-word
    utterance is mostly its vowel, so removing all of it removes part of
    what tells the words apart; removing half still removes half of the
    channel and speaker offset (the measurements: docs/accuracy.md).
    """

    sample_rate: int = 8000
    win_length: float = 0.025
    win_step: float = 0.010
    window: str = "hamming"
    nfft: int = 256
    preemphasis: float = 0.97
    n_filters: int = 26
    low_freq: float = 0.0
    high_freq: float = 4000.0
    n_ceps: int = 13
    lifter: int = 22
    use_energy: bool = True
    log_floor: float = 1e-10
    delta_order: int = 2
    delta_width: int = 2
    mean_norm: bool = True
    var_norm: bool = False
    # Fraction of the utterance mean that mean_norm subtracts (1: full CMN).
    mean_norm_weight: float = 0.5
    # Subtract each utterance's maximum from the first static coefficient
    # (log energy, or c0 without use_energy).
    energy_max_norm: bool = True
    # Endpointing (wordrec.core.vad): trim leading and trailing non-speech.
    trim: bool = True
    vad_onset_db: float = 10.0
    vad_offset_db: float = 5.0
    vad_min_speech: float = 0.06
    vad_min_silence: float = 0.15
    vad_margin: float = 0.08
    vad_floor_percentile: float = 10.0
    vad_trim_contrast_db: float = 15.0

    @classmethod
    def for_rate(cls, sample_rate: int, **overrides) -> "FeatureConfig":
        """A config for ``sample_rate`` with nfft and high_freq derived from it.

        nfft is the next power of two at or above the frame length; the
        filterbank reaches the Nyquist frequency unless overridden.
        """
        win_length = overrides.get("win_length", cls.win_length)
        frame_len = _round_half_up(win_length * sample_rate)
        derived = {
            "nfft": 1 << max(0, int(frame_len - 1).bit_length()),
            "high_freq": sample_rate / 2.0,
        }
        derived.update(overrides)
        return cls(sample_rate=int(sample_rate), **derived).validated()

    @property
    def frame_length(self) -> int:
        """Frame length in samples."""
        return _round_half_up(self.win_length * self.sample_rate)

    @property
    def frame_step(self) -> int:
        """Frame shift in samples."""
        return _round_half_up(self.win_step * self.sample_rate)

    @property
    def n_features(self) -> int:
        return self.n_ceps * (self.delta_order + 1)

    def validated(self) -> "FeatureConfig":
        """Return self, or raise WordrecError naming the first bad field."""
        checks = [
            ("sample_rate", 1000 <= self.sample_rate <= 384000),
            ("win_length", 0.001 <= self.win_length <= 0.2),
            ("win_step", 0.001 <= self.win_step <= self.win_length),
            ("window", self.window in WINDOWS),
            ("nfft", self.nfft >= self.frame_length and self.nfft & (self.nfft - 1) == 0),
            ("preemphasis", 0.0 <= self.preemphasis < 1.0),
            ("n_filters", 2 <= self.n_filters <= 256),
            ("low_freq", 0.0 <= self.low_freq < self.high_freq),
            ("high_freq", self.high_freq <= self.sample_rate / 2.0),
            ("n_ceps", 1 <= self.n_ceps <= self.n_filters),
            ("lifter", 0 <= self.lifter <= 1000),
            ("log_floor", 0.0 < self.log_floor < 1.0),
            ("delta_order", 0 <= self.delta_order <= 2),
            ("delta_width", 1 <= self.delta_width <= 10),
            ("mean_norm_weight", 0.0 <= self.mean_norm_weight <= 1.0),
            ("vad_onset_db", 0.0 < self.vad_onset_db <= 60.0),
            ("vad_offset_db", 0.0 < self.vad_offset_db <= self.vad_onset_db),
            ("vad_min_speech", 0.0 < self.vad_min_speech <= 5.0),
            ("vad_min_silence", 0.0 < self.vad_min_silence <= 5.0),
            ("vad_margin", 0.0 <= self.vad_margin <= 2.0),
            ("vad_floor_percentile", 0.0 <= self.vad_floor_percentile <= 50.0),
            ("vad_trim_contrast_db", 0.0 <= self.vad_trim_contrast_db <= 100.0),
        ]
        check_settings(self, checks, "feature config: invalid {name} = {value!r}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureConfig":
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise WordrecError(f"feature config: unknown field {sorted(unknown)[0]!r}")
        kwargs = {}
        if "trim" not in data:
            # Written before endpointing existed: those models never trimmed.
            data = {"trim": False, **{k: getattr(cls, k) for k in names if k.startswith("vad_")}, **data}
        # Written before partial mean and energy normalisation existed: full CMN.
        data = {**_LEGACY_DEFAULTS, **data}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                raise WordrecError(f"feature config: missing field {f.name!r}")
            kwargs[f.name] = _coerce(f.name, data[f.name], type(f.default))
        return cls(**kwargs).validated()


_LEGACY_DEFAULTS = {"mean_norm_weight": 1.0, "energy_max_norm": False}


def _coerce(name, value, kind):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok or (kind is float and not np.isfinite(value)):
        raise WordrecError(f"feature config: {name} must be a {kind.__name__}, got {value!r}")
    return value


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _cached(make):
    """``make(cfg)`` computed once per config and read-only: a batch of one
    recording should not pay for the filterbank and the DCT again."""

    @functools.lru_cache(maxsize=16)
    def cached(cfg):
        out = make(cfg)
        out.setflags(write=False)
        return out

    cached.__doc__ = make.__doc__
    return cached


@_cached
def _window(cfg: FeatureConfig) -> np.ndarray:
    n = cfg.frame_length
    if cfg.window == "hamming":
        return np.hamming(n)
    if cfg.window == "hann":
        return np.hanning(n)
    return np.ones(n)


def _n_frames(n_samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Frames per signal, as python_speech_features counts them (last one zero-padded)."""
    extra = np.maximum(n_samples - cfg.frame_length, 0)
    return 1 + -(-extra // cfg.frame_step)


def mel_points(cfg: FeatureConfig) -> np.ndarray:
    """Edges and centres of the mel filters in Hz, evenly spaced in mel: ``(n_filters + 2,)``."""
    def hz2mel(hz):
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    mel = np.linspace(hz2mel(cfg.low_freq), hz2mel(cfg.high_freq), cfg.n_filters + 2)
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@_cached
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular mel filters, ``(n_filters, nfft // 2 + 1)``: python_speech_features' ``get_filterbanks``.

    Written out here (same formulas) so that featurising imports neither
    python_speech_features nor scipy, which take longer to import than
    recognising a file takes.
    """
    edge = np.floor((cfg.nfft + 1) * mel_points(cfg) / cfg.sample_rate)
    fbank = np.zeros((cfg.n_filters, cfg.nfft // 2 + 1))
    for j in range(cfg.n_filters):
        lo, mid, hi = edge[j], edge[j + 1], edge[j + 2]
        rise = np.arange(int(lo), int(mid))
        fall = np.arange(int(mid), int(hi))
        fbank[j, rise] = (rise - lo) / (mid - lo)
        fbank[j, fall] = (hi - fall) / (hi - mid)
    return fbank


@_cached
def cepstrum_matrix(cfg: FeatureConfig) -> np.ndarray:
    """``(n_ceps, n_filters)``: the orthonormal DCT-II rows kept, times the lifter.

    ``mel @ M.T`` is ``dct(mel, type=2, norm="ortho")[:, :n_ceps]`` liftered
    as python_speech_features' ``lifter`` does.
    """
    n = cfg.n_filters
    k = np.arange(cfg.n_ceps)[:, None]
    dct = 2.0 * np.cos(np.pi * k * (2 * np.arange(n) + 1) / (2 * n))
    dct *= np.where(k == 0, np.sqrt(1.0 / (4 * n)), np.sqrt(1.0 / (2 * n)))
    if cfg.lifter > 0:
        dct *= 1.0 + (cfg.lifter / 2.0) * np.sin(np.pi * k / cfg.lifter)
    return dct


def _static(signals, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Cepstra of all frames of all signals, stacked: (total_frames, n_ceps).

    Every signal gets a slot of whole frame steps in one buffer, long enough
    for its last (zero-padded) frame.  The
    frames of all signals then lie on one regular grid, a strided view of
    the buffer, so no index arrays are built; the two or three grid rows per
    slot that are not frames are computed with the rest and dropped.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    lengths = np.array([len(s) for s in signals], dtype=np.int64)
    n_frames = _n_frames(lengths, cfg)
    flen, step = cfg.frame_length, cfg.frame_step
    rows = -(-((n_frames - 1) * step + flen) // step)  # grid rows per slot
    first = np.concatenate([[0], np.cumsum(rows)[:-1]])  # grid row of each signal's first frame
    n_rows = int(rows.sum())
    # Pre-emphasised signals in their slots (file by file: small arrays stay in cache).
    emph = np.zeros(n_rows * step + flen)
    for s, r in zip(signals, first * step):
        emph[r] = s[0]
        np.subtract(s[1:], cfg.preemphasis * s[:-1], out=emph[r + 1 : r + len(s)])
    grid = sliding_window_view(emph, flen)[: n_rows * step : step]  # (n_rows, flen), no copy
    fbank_t = mel_filterbank(cfg).T
    cepstrum_t = cepstrum_matrix(cfg).T
    win = _window(cfg)
    out = np.empty((n_rows, cfg.n_ceps))
    for a in range(0, n_rows, _CHUNK_FRAMES):
        spec = np.fft.rfft(grid[a : a + _CHUNK_FRAMES] * win, cfg.nfft)
        power = np.square(spec.real)  # |X|^2 without the square root of abs()
        power += np.square(spec.imag)
        power /= cfg.nfft
        mel = np.log(np.maximum(power @ fbank_t, cfg.log_floor))
        ceps = mel @ cepstrum_t
        if cfg.use_energy:
            ceps[:, 0] = np.log(np.maximum(power.sum(axis=1), cfg.log_floor))
        out[a : a + _CHUNK_FRAMES] = ceps
    return out[np.repeat(first, n_frames) + _ranges(n_frames)], n_frames


def _ranges(counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(c)`` for each c in counts."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1]) - np.repeat(ends - counts, counts)


def deltas(feats: np.ndarray, n_frames: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas of stacked utterances, each padded by repeating its edges.

    Parameters
    ----------
    feats : ndarray, shape (total_frames, n_dims)
        Utterances laid end to end.
    n_frames : ndarray of int, shape (n_utterances,)
    width : int
        N in python_speech_features' ``delta(feat, N)``.

    Returns
    -------
    ndarray, shape (total_frames, n_dims)
    """
    total = len(feats)
    out = np.zeros_like(feats)
    # Plain shifts of the whole stack: right except near the ends of an utterance,
    for n in range(1, width + 1):
        if total > 2 * n:
            out[n : total - n] += n * (feats[2 * n :] - feats[: total - 2 * n])
    # where the rows within `width` of an edge are redone with the edge frame repeated.
    ends = np.repeat(np.cumsum(n_frames), n_frames) - 1
    starts = ends - np.repeat(n_frames, n_frames) + 1
    idx = np.arange(total)
    edge = np.flatnonzero((idx - starts < width) | (ends - idx < width))
    fix = np.zeros((len(edge),) + feats.shape[1:])
    for n in range(1, width + 1):
        fix += n * (feats[np.minimum(edge + n, ends[edge])] - feats[np.maximum(edge - n, starts[edge])])
    out[edge] = fix
    return out / (2 * sum(n * n for n in range(1, width + 1)))


def _normalise(feats: np.ndarray, n_frames: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    if not (cfg.mean_norm or cfg.var_norm or cfg.energy_max_norm):
        return feats
    orig = feats
    seg = np.concatenate([[0], np.cumsum(n_frames)[:-1]])
    if cfg.mean_norm or cfg.var_norm:
        counts = n_frames[:, None].astype(float)
        mean = np.repeat(np.add.reduceat(feats, seg, axis=0) / counts, n_frames, axis=0)
        weight = cfg.mean_norm_weight if cfg.mean_norm else 0.0
        if cfg.var_norm:
            centred = feats - mean
            var = np.add.reduceat(centred**2, seg, axis=0) / counts
            # A constant dimension (silence, one frame) keeps scale 1 instead of blowing up.
            std = np.sqrt(np.where(var > 1e-8, var, 1.0))
            centred /= np.repeat(std, n_frames, axis=0)
            feats = centred if weight == 1.0 else centred + (1.0 - weight) * mean
        elif weight > 0.0:
            feats = feats - weight * mean
    if cfg.energy_max_norm:
        feats = feats.copy() if feats is orig else feats
        feats[:, 0] -= np.repeat(np.maximum.reduceat(feats[:, 0], seg), n_frames)
    return feats


def extract_many(signals, cfg: FeatureConfig) -> list[np.ndarray]:
    """Features of many signals at once.

    Parameters
    ----------
    signals : sequence of ndarray, each shape (n_samples,)
        Mono signals at ``cfg.sample_rate``, values in [-1, 1].
    cfg : FeatureConfig

    Returns
    -------
    list of ndarray, each shape (n_frames, cfg.n_features)
    """
    if len(signals) == 0:
        return []
    for s in signals:
        if len(s) == 0:
            raise WordrecError("cannot extract features from an empty signal")
    static, n_frames = _static(signals, cfg)
    parts = [static]
    for _ in range(cfg.delta_order):
        parts.append(deltas(parts[-1], n_frames, cfg.delta_width))
    feats = _normalise(np.hstack(parts), n_frames, cfg)
    return np.split(feats, np.cumsum(n_frames)[:-1])


def extract(signal: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Features of one signal: ndarray, shape (n_frames, cfg.n_features)."""
    return extract_many([signal], cfg)[0]
