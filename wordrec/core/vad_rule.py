"""The voice-activity detector's rule: band energies, noise floors and speech regions.

The rule (times in seconds, levels in dB relative to full scale):

1. **Frame energy.** 25 ms Hann-windowed frames every 10 ms, mean removed;
   the energy is that of the 250-4000 Hz band (above hum and rumble, inside
   telephone speech, the same at every sample rate), smoothed by a running
   median of 5 frames (which removes clicks and most of the jitter of noise).
2. **Adaptive noise floor.** The ``vad_floor_percentile``-th percentile of
   the frame energies around each point, never below ``SILENCE_DB``
   (-80 dBFS), so that digital silence between words is background too.
3. **Hysteresis.** Speech starts only where a frame is ``vad_onset_db`` above
   the floor; a region spreads over the neighbouring frames that are at least
   ``vad_offset_db`` above it.
4. **Hangover / minimum silence.** Pauses shorter than ``vad_min_silence`` do
   not end a region (the closure before the 't' of "eight" stays inside).
5. **Minimum speech.** A region needs ``vad_min_speech`` seconds of frames
   above the onset level; shorter bumps are dropped.
6. **Margin.** Each region is widened by ``vad_margin`` on both sides (weak
   edges such as the 's' of "six" are kept), but never past the middle of
   the pause to the next region, nor past the ends of the signal.

A stationary signal (silence, DC, hum, steady noise of any level) never rises
``vad_onset_db`` above its own floor, so it has no speech regions.  How the
floor is taken over time, and what is done with the regions, is
:mod:`wordrec.core.vad`'s part.
"""

from __future__ import annotations

import functools

import numpy as np

FRAME_SECONDS = 0.025
HOP_SECONDS = 0.010
#: The bands whose energies are measured, in Hz: voicing and formants, and
#: the fricatives and bursts (weak overall, but loud against the noise there).
BANDS = ((250.0, 2000.0), (2000.0, 4000.0))
#: Octave bands in which :func:`trim` looks for a change of spectrum.
OCTAVES = ((250.0, 500.0), (500.0, 1000.0), (1000.0, 2000.0), (2000.0, 4000.0))
#: Spectral flatness (geometric over arithmetic mean of the power spectrum,
#: 250-4000 Hz) below which :func:`trim` takes a steady sound for a held
#: voiced one rather than noise.  Noise of any colour up to brown measures
#: 0.15 or more, tones and vowels 0.01 or less.
TONAL_FLATNESS = 0.03
#: Frames below this energy (dBFS) are digital silence.
SILENCE_DB = -80.0
#: The noise floor is re-estimated every FLOOR_STEP seconds from the frames
#: within FLOOR_HALF_WINDOW seconds either side.
FLOOR_STEP = 1.0
FLOOR_HALF_WINDOW = 5.0

_MEDIAN = 5  # frames in the running median
HALF_MEDIAN = _MEDIAN // 2
_CHUNK = 4096  # frames per FFT batch


class Rule:
    """The detector's settings at one sample rate, in samples and frames."""

    def __init__(self, rate: int, cfg, bands=BANDS):
        self.rate = int(rate)
        self.hop = max(1, int(round(HOP_SECONDS * rate)))
        self.flen = max(self.hop, int(round(FRAME_SECONDS * rate)), 4)
        self.nfft = 1 << int(self.flen - 1).bit_length()
        self.window = np.hanning(self.flen)
        freqs = np.arange(self.nfft // 2 + 1) * rate / self.nfft
        self.bins = [np.flatnonzero((freqs >= lo) & (freqs < hi) & (freqs <= rate / 2.0)) for lo, hi in bands]
        # Each band's bins are a run: summed as a slice, not gathered by index.
        self.slices = [slice(int(b[0]), int(b[-1]) + 1) if len(b) else slice(0, 0) for b in self.bins]
        # A full-scale sine in the band reads -3 dBFS, like its mean square.
        self.scale = 2.0 / (self.nfft * np.sum(self.window**2))
        # Frame i stands for the hop-long slice at the centre of its window.
        self.centre = (self.flen - self.hop) // 2
        self.step = int(round(FLOOR_STEP / HOP_SECONDS))
        self.half = int(round(FLOOR_HALF_WINDOW / HOP_SECONDS))
        self.min_speech = max(1, int(round(cfg.vad_min_speech / HOP_SECONDS)))
        self.min_silence = max(1, int(round(cfg.vad_min_silence / HOP_SECONDS)))
        self.margin = int(round(cfg.vad_margin / HOP_SECONDS))
        # A pause this long separates independent parts of the stream.
        self.cut_gap = max(self.min_silence, 2 * self.margin, 1)
        self.onset = float(cfg.vad_onset_db)
        self.offset = float(cfg.vad_offset_db)
        self.percentile = float(cfg.vad_floor_percentile)

    def energies(self, x: np.ndarray) -> np.ndarray:
        """Raw (unsmoothed) band energies of the complete frames of x, in dBFS,
        shape (n_frames, n_bands); one zero-padded frame if x is shorter than a frame."""
        if len(x) < self.flen:
            x = np.concatenate([x, np.zeros(self.flen - len(x))])
        frames = hops(x, self.flen, self.hop)
        out = np.empty((len(frames), len(self.bins)))
        for a in range(0, len(frames), _CHUNK):
            f = frames[a : a + _CHUNK]
            f = (f - f.mean(axis=1, keepdims=True)) * self.window
            spectrum = np.fft.rfft(f, self.nfft)
            power = spectrum.real**2 + spectrum.imag**2
            for k, band in enumerate(self.slices):
                out[a : a + _CHUNK, k] = power[:, band].sum(axis=1)
        return 10.0 * np.log10(out * self.scale + 1e-12)

    def to_sample(self, frame: int, n_frames: int | None = None, n_samples: int = 0) -> int:
        """First sample of frame ``frame``'s slice; the ends of the signal map to its ends."""
        if frame <= 0:
            return 0
        if n_frames is not None and frame >= n_frames:
            return int(n_samples)
        return frame * self.hop + self.centre


def rule_for(rate: int, cfg, bands=BANDS) -> Rule:
    """The rule for ``rate`` and ``cfg``, made once per setting (a batch of
    recordings shares it; it is never changed after it is made)."""
    try:
        return _cached_rule(int(rate), cfg, tuple(bands))
    except TypeError:  # a settings object that cannot be hashed
        return Rule(rate, cfg, bands)


@functools.lru_cache(maxsize=32)
def _cached_rule(rate: int, cfg, bands) -> Rule:
    return Rule(rate, cfg, bands)


def running_median(padded: np.ndarray) -> np.ndarray:
    """Running median along axis 0 of (n_frames + 2 HALF_MEDIAN, n_bands), padded each side."""
    # The middle of 5 sorted values; a small sort costs a third of np.median.
    padded = np.ascontiguousarray(padded)
    n, bands = padded.shape
    step, band_step = padded.strides
    # (n - 4, bands, 5) windows of the rows, no copy (as sliding_window_view, at a tenth of its overhead).
    windows = np.lib.stride_tricks.as_strided(padded, (n - _MEDIAN + 1, bands, _MEDIAN), (step, band_step, step),
                                              writeable=False)
    return np.sort(windows, axis=-1)[..., HALF_MEDIAN]


def hops(x: np.ndarray, flen: int, hop: int) -> np.ndarray:
    """The complete frames of ``flen`` samples every ``hop`` of a 1-D array ``x`` (at least ``flen`` long),
    as a read-only view: ``sliding_window_view(x, flen)[::hop]``, without its overhead."""
    x = np.ascontiguousarray(x)
    n = 1 + (len(x) - flen) // hop
    return np.lib.stride_tricks.as_strided(x, (n, flen), (hop * x.strides[0], x.strides[0]), writeable=False)


def noise_floor(window: np.ndarray, percentile: float) -> np.ndarray:
    """The noise floor of each band, shape (n_bands,), from energies (n_frames, n_bands) in dBFS.

    The percentile interpolates linearly between order statistics, as
    ``np.percentile`` does by default, at a tenth of its overhead.
    """
    ordered = np.sort(window, axis=0)
    pos = percentile / 100.0 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    value = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return np.maximum(SILENCE_DB, value)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


#: Below this many frames :func:`regions` loops in Python: on a word's hundred
#: frames that is a fraction of the cost of a dozen small numpy calls.
_SHORT = 512


def regions(level: np.ndarray, rule: Rule, onset: float) -> list[tuple[int, int, int, int]]:
    """Rules 3-6 on one span of frames, given each frame's level above the
    floor (dB, the loudest band): ``(first, end, speech_first, speech_end)``
    frame indices within the span, the first two with margins."""
    if len(level) < _SHORT:
        return _regions_short(np.asarray(level).tolist(), rule, onset)
    above = level > rule.offset
    starts, ends = runs(above)
    if len(starts) == 0:
        return []
    # Hangover: pauses shorter than the minimum silence are bridged.
    first = np.flatnonzero(np.concatenate([[True], starts[1:] - ends[:-1] >= rule.min_silence]))
    last = np.concatenate([first[1:] - 1, [len(starts) - 1]])
    starts, ends = starts[first], ends[last]
    loud_before = np.concatenate([[0], np.cumsum(level > onset)])
    good = loud_before[ends] - loud_before[starts] >= rule.min_speech
    starts, ends = starts[good], ends[good]
    out = []
    for i, (a, b) in enumerate(zip(starts, ends)):
        lo = 0 if i == 0 else (ends[i - 1] + a + 1) // 2
        hi = len(level) if i == len(starts) - 1 else (b + starts[i + 1]) // 2
        out.append((int(max(lo, a - rule.margin)), int(min(hi, b + rule.margin)), int(a), int(b)))
    return out


def _regions_short(level: list, rule: Rule, onset: float) -> list[tuple[int, int, int, int]]:
    """:func:`regions` of a short span, given as a list of floats: the same steps, frame by frame."""
    offset, n = rule.offset, len(level)
    merged: list = []  # [start, end]: runs above the offset, pauses shorter than the minimum silence bridged
    start = None
    for i, v in enumerate(level + [None]):
        if v is not None and v > offset:
            if start is None:
                start = i
        elif start is not None:
            if merged and start - merged[-1][1] < rule.min_silence:
                merged[-1][1] = i
            else:
                merged.append([start, i])
            start = None
    kept = [(a, b) for a, b in merged if sum(1 for u in level[a:b] if u > onset) >= rule.min_speech]
    out = []
    for i, (a, b) in enumerate(kept):
        lo = 0 if i == 0 else (kept[i - 1][1] + a + 1) // 2
        hi = n if i == len(kept) - 1 else (b + kept[i + 1][0]) // 2
        out.append((max(lo, a - rule.margin), min(hi, b + rule.margin), a, b))
    return out


def spans(level: np.ndarray, first: int, rule: Rule, n_frames: int | None, n_samples: int) -> list[tuple[int, int, int, int]]:
    """The regions of ``level`` (frames ``first`` on of a stream of ``n_samples``
    samples, ``n_frames`` frames if it has ended) as sample indices:
    ``(start, end, speech_start, speech_end)``, empty regions dropped."""
    out = []
    for a, b, sa, sb in regions(level, rule, rule.onset):
        s0, s1, t0, t1 = (min(rule.to_sample(first + i, n_frames, n_samples), n_samples) for i in (a, b, sa, sb))
        if s1 > s0:
            out.append((s0, s1, t0, t1))
    return out


def frame_energies(signal: np.ndarray, rate: int, bands=BANDS) -> np.ndarray:
    """Smoothed band energies of each detector frame (rule 1), in dBFS.

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
        Mono samples in [-1, 1].
    rate : int
        Sample rate in Hz.
    bands : sequence of (low_hz, high_hz)

    Returns
    -------
    ndarray, shape (n_frames, len(bands))
        ``1 + (n_samples - frame_len) // hop`` frames (complete frames only),
        one if the signal is shorter than a frame, none if it is empty.
    """
    x = np.asarray(signal, dtype=float)
    if len(x) == 0:
        return np.zeros((0, len(bands)))
    return smoothed(rule_for(rate, _NoVad, bands), x)


def smoothed(rule: Rule, x: np.ndarray) -> np.ndarray:
    """:func:`frame_energies` with a given rule, of a non-empty signal."""
    raw = rule.energies(x)
    pad = HALF_MEDIAN
    return running_median(np.concatenate([np.repeat(raw[:1], pad, axis=0), raw, np.repeat(raw[-1:], pad, axis=0)]))


class _NoVad:
    vad_min_speech = vad_min_silence = vad_margin = HOP_SECONDS
    vad_onset_db = vad_offset_db = vad_floor_percentile = 1.0


def flatness(signal: np.ndarray, rate: int) -> float:
    """Median over 50 ms frames of the spectral flatness in 250-4000 Hz (0: a pure tone, about 0.56: white noise).

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
    rate : int
        Sample rate in Hz.
    """
    # 50 ms Blackman-Harris frames (sidelobes below -92 dB, main lobe +-4
    # bins of 20 Hz): hum up to 150 Hz does not leak into the band and pass
    # for a tonal sound there.
    flen = max(8, int(round(0.05 * rate)))
    nfft = 1 << int(flen - 1).bit_length()
    freqs = np.arange(nfft // 2 + 1) * rate / nfft
    bins = np.flatnonzero((freqs >= BANDS[0][0]) & (freqs < BANDS[-1][1]) & (freqs <= rate / 2.0))
    hop = max(1, int(round(HOP_SECONDS * rate)))
    x = np.asarray(signal, dtype=float)
    if len(x) < flen:
        x = np.concatenate([x, np.zeros(flen - len(x))])
    frames = np.lib.stride_tricks.sliding_window_view(x, flen)[::hop]
    k = 2 * np.pi * np.arange(flen) / (flen - 1)
    window = 0.35875 - 0.48829 * np.cos(k) + 0.14128 * np.cos(2 * k) - 0.01168 * np.cos(3 * k)
    out = []
    for a in range(0, len(frames), _CHUNK):
        f = frames[a : a + _CHUNK]
        f = (f - f.mean(axis=1, keepdims=True)) * window
        power = np.square(np.abs(np.fft.rfft(f, nfft)[:, bins])) + 1e-20
        out.append(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1))
    return float(np.median(np.concatenate(out)))
