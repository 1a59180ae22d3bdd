"""Energy-based voice-activity detection: trim recordings, find words in long takes.

The rule (times in seconds, levels in dB relative to full scale):

1. **Frame energy.** 25 ms Hann-windowed frames every 10 ms, mean removed;
   the energy is that of the 250-4000 Hz band (above hum and rumble, inside
   telephone speech, the same at every sample rate), smoothed by a running
   median of 5 frames (which removes clicks and most of the jitter of noise).
2. **Adaptive noise floor.** The signal is cut into 1 s steps; the floor of a
   step is the ``vad_floor_percentile``-th percentile of the frame energies
   within 5 s either side of the step, but never below ``SILENCE_DB``
   (-80 dBFS), so that digital silence between words is background too.
   A recording shorter than 5 s therefore gets one floor; a long take gets
   one that follows slow changes of the background.
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
``vad_onset_db`` above its own floor, so it has no speech regions.
:func:`trim` adds rules for single recordings with no region (see there), so
that words already trimmed to their edges are kept whole, and only silent or
noise-like recordings are reported as having no speech.

:class:`Segmenter` applies the rule to a stream of blocks with bounded state:
it cuts the stream inside pauses at least ``max(vad_min_silence, 2
vad_margin)`` long, where nothing on one side can change the regions on the
other, so its regions are exactly those of :func:`speech_regions` on the
whole signal.  The one exception is a stretch of more than ``max_span``
seconds without such a pause, which is cut where the stream stands.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

#: Frame length and shift of the detector, in seconds.
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
#: Longest stretch (s) the segmenter holds without finding a pause.
MAX_SPAN = 30.0

_MEDIAN = 5  # frames in the running median
_HALF_MEDIAN = _MEDIAN // 2
_CHUNK = 4096  # frames per FFT batch


class _Rule:
    """The detector's settings at one sample rate, in samples and frames."""

    def __init__(self, rate: int, cfg, bands=BANDS):
        self.rate = int(rate)
        self.hop = max(1, int(round(HOP_SECONDS * rate)))
        self.flen = max(self.hop, int(round(FRAME_SECONDS * rate)), 4)
        self.nfft = 1 << int(self.flen - 1).bit_length()
        self.window = np.hanning(self.flen)
        freqs = np.arange(self.nfft // 2 + 1) * rate / self.nfft
        self.bins = [np.flatnonzero((freqs >= lo) & (freqs < hi) & (freqs <= rate / 2.0)) for lo, hi in bands]
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
        frames = np.lib.stride_tricks.sliding_window_view(x, self.flen)[:: self.hop]
        out = np.empty((len(frames), len(self.bins)))
        for a in range(0, len(frames), _CHUNK):
            f = frames[a : a + _CHUNK]
            f = (f - f.mean(axis=1, keepdims=True)) * self.window
            power = np.square(np.abs(np.fft.rfft(f, self.nfft)))
            for k, bins in enumerate(self.bins):
                out[a : a + _CHUNK, k] = 10.0 * np.log10(power[:, bins].sum(axis=1) * self.scale + 1e-12)
        return out

    def to_sample(self, frame: int, n_frames: int | None = None, n_samples: int = 0) -> int:
        """First sample of frame ``frame``'s slice; the ends of the signal map to its ends."""
        if frame <= 0:
            return 0
        if n_frames is not None and frame >= n_frames:
            return int(n_samples)
        return frame * self.hop + self.centre


def _rule(rate: int, cfg, bands=BANDS) -> _Rule:
    """The rule for ``rate`` and ``cfg``, made once per setting (a batch of
    recordings shares it; it is never changed after it is made)."""
    try:
        return _cached_rule(int(rate), cfg, tuple(bands))
    except TypeError:  # a settings object that cannot be hashed
        return _Rule(rate, cfg, bands)


@functools.lru_cache(maxsize=32)
def _cached_rule(rate: int, cfg, bands) -> _Rule:
    return _Rule(rate, cfg, bands)


def _median(padded: np.ndarray) -> np.ndarray:
    """Running median along axis 0 of (n_frames + 2 _HALF_MEDIAN, n_bands), padded each side."""
    # The middle of 5 sorted values; a small sort costs a third of np.median.
    windows = np.lib.stride_tricks.sliding_window_view(padded, _MEDIAN, axis=0)
    return np.sort(windows, axis=-1)[..., _HALF_MEDIAN]


def _floor(window: np.ndarray, percentile: float) -> np.ndarray:
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


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _regions(level: np.ndarray, rule: _Rule, onset: float) -> list[tuple[int, int, int, int]]:
    """Rules 3-6 on one span of frames, given each frame's level above the
    floor (dB, the loudest band): ``(first, end, speech_first, speech_end)``
    frame indices within the span, the first two with margins."""
    above = level > rule.offset
    starts, ends = _runs(above)
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


def _spans(level: np.ndarray, first: int, rule: _Rule, n_frames: int | None, n_samples: int) -> list[tuple[int, int, int, int]]:
    """The regions of ``level`` (frames ``first`` on of a stream of ``n_samples``
    samples, ``n_frames`` frames if it has ended) as sample indices:
    ``(start, end, speech_start, speech_end)``, empty regions dropped."""
    out = []
    for a, b, sa, sb in _regions(level, rule, rule.onset):
        s0, s1, t0, t1 = (min(rule.to_sample(first + i, n_frames, n_samples), n_samples) for i in (a, b, sa, sb))
        if s1 > s0:
            out.append((s0, s1, t0, t1))
    return out


class Region(NamedTuple):
    """A region of speech in a stream; sample indices from its start, ends exclusive.

    ``start:end`` is what is kept (margins included) and ``samples`` holds
    it, shape (end - start,); ``speech_start:speech_end`` is where the
    detector found speech, without the margins.
    """

    start: int
    end: int
    samples: np.ndarray
    speech_start: int
    speech_end: int


class Segmenter:
    """Streaming voice-activity detection: push blocks, get finished regions.

    Memory is bounded by about ``FLOOR_HALF_WINDOW + FLOOR_STEP + max_span``
    seconds of samples, however long the stream.

    Parameters
    ----------
    rate : int
        Sample rate of the blocks in Hz.
    cfg : FeatureConfig
        Or anything with the ``vad_*`` attributes (see the module docstring).
    max_span : float
        Seconds the segmenter waits for a pause before cutting anyway.

    :meth:`push` and :meth:`finish` return lists of finished
    :class:`Region`, in time order.
    """

    def __init__(self, rate: int, cfg, max_span: float = MAX_SPAN):
        self._rule = _rule(rate, cfg)
        self._max_span = max(int(round(max_span / HOP_SECONDS)), 2 * self._rule.cut_gap + 1)
        self._buf = np.zeros(0)  # samples from index _buf0 on
        self._incoming: list = []  # blocks not yet looked at
        self._n_incoming = 0
        self._buf0 = 0
        self._n_samples = 0
        n_bands = len(self._rule.bins)
        self._raw = np.zeros((0, n_bands))  # raw band energies from frame _r0 on
        self._r0 = 0
        self._energy = np.zeros((0, n_bands))  # smoothed band energies from frame _e0 on
        self._level = np.zeros(0)  # dB above the floor, from frame _e0 on (fewer than energies)
        self._e0 = 0
        self._span = 0  # first frame not yet decided on
        self._done = False

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return self._n_samples + self._n_incoming

    @property
    def n_buffered(self) -> int:
        """Samples held now, waiting for a decision (bounded; see above)."""
        return len(self._buf) + self._n_incoming

    def push(self, block: np.ndarray) -> list:
        """Add a block of samples, shape (n,); return the regions it completes."""
        if self._done:
            raise ValueError("Segmenter.push after finish")
        block = np.asarray(block, dtype=float).reshape(-1)
        if len(block) == 0:
            return []
        self._incoming.append(block)
        self._n_incoming += len(block)
        # Nothing can be decided before another floor step is complete, so
        # small blocks are gathered first (this changes no result).
        if self._n_incoming < self._rule.step * self._rule.hop:
            return []
        self._take_incoming()
        self._add_frames(final=False)
        self._add_floors(final=False)
        return self._decide(final=False)

    def finish(self) -> list:
        """End of the stream: return the remaining regions."""
        if self._done:
            return []
        self._done = True
        self._take_incoming()
        if self._n_samples == 0:
            return []
        self._add_frames(final=True)
        self._add_floors(final=True)
        return self._decide(final=True)

    # -- internals -------------------------------------------------------

    def _take_incoming(self) -> None:
        if self._incoming:
            self._buf = np.concatenate([self._buf, *self._incoming])
            self._n_samples += self._n_incoming
            self._incoming, self._n_incoming = [], 0

    @property
    def _n_frames(self) -> int:
        return self._r0 + len(self._raw)

    def _add_frames(self, final: bool) -> None:
        rule = self._rule
        n_raw = self._n_frames
        if self._n_samples >= rule.flen:
            n_new = (self._n_samples - rule.flen) // rule.hop + 1 - n_raw
        else:
            n_new = 1 if final and n_raw == 0 else 0
        if n_new > 0:
            a = n_raw * rule.hop - self._buf0
            seg = self._buf[a : a + (n_new - 1) * rule.hop + rule.flen]
            self._raw = np.concatenate([self._raw, rule.energies(seg)])
        # Smooth every frame whose median window is complete (all of them at the end).
        n_raw = self._n_frames
        first = self._e0 + len(self._energy)
        last = n_raw if final else n_raw - _HALF_MEDIAN
        if last <= first:
            return
        lo, hi = first - _HALF_MEDIAN, last + _HALF_MEDIAN
        window = self._raw[max(lo, self._r0) - self._r0 : min(hi, n_raw) - self._r0]
        head, tail = np.repeat(window[:1], max(0, -lo), axis=0), np.repeat(window[-1:], max(0, hi - n_raw), axis=0)
        window = np.concatenate([head, window, tail])
        self._energy = np.concatenate([self._energy, _median(window)])
        keep = max(self._r0, last - _HALF_MEDIAN)
        self._raw = self._raw[keep - self._r0 :]
        self._r0 = keep

    def _add_floors(self, final: bool) -> None:
        rule = self._rule
        n_energy = self._e0 + len(self._energy)
        done = self._e0 + len(self._level)
        new = []
        while done < n_energy:
            step_end = min(done + rule.step, n_energy)
            if not final and (step_end + rule.half > n_energy or step_end < done + rule.step):
                break
            lo = max(done - rule.half, self._e0)
            hi = min(step_end + rule.half, n_energy)
            floor = _floor(self._energy[lo - self._e0 : hi - self._e0], rule.percentile)
            new.append((self._energy[done - self._e0 : step_end - self._e0] - floor).max(axis=1))
            done = step_end
        if new:
            self._level = np.concatenate([self._level, *new])

    def _decide(self, final: bool) -> list:
        decided = self._e0 + len(self._level)
        if final:
            cut = decided
        else:
            cut = self._find_cut(decided)
            if cut is None:
                if decided - self._span < self._max_span:
                    return []
                cut = decided
        out = self._emit(self._span, cut, final)
        self._span = cut
        self._forget()
        return out

    def _find_cut(self, decided: int) -> int | None:
        """A frame inside the latest long enough pause, or None."""
        rule = self._rule
        a, b = self._span - self._e0, decided - self._e0
        if b - a < rule.cut_gap:
            return None
        quiet = self._level[a:b] <= rule.offset
        starts, ends = _runs(quiet)
        long = np.flatnonzero(ends - starts >= rule.cut_gap)
        if len(long) == 0:
            return None
        g0, g1 = starts[long[-1]], ends[long[-1]]
        # At least a margin into the pause, and a margin before its end (which
        # may be later than b, the end of what is known: then as late as that
        # allows, or a take that is all pause would be held ever longer).
        m = max(rule.margin, 1)
        cut = max(g0 + m, g1 - m) if g1 == b - a else (g0 + g1) // 2
        return self._span + int(cut) if cut > 0 else None

    def _emit(self, first: int, end: int, final: bool) -> list:
        rule = self._rule
        if end <= first:
            return []
        level = self._level[first - self._e0 : end - self._e0]
        n_frames = self._e0 + len(self._energy) if final else None
        return [
            Region(s0, s1, self._buf[s0 - self._buf0 : s1 - self._buf0].copy(), t0, t1)
            for s0, s1, t0, t1 in _spans(level, first, rule, n_frames, self._n_samples)
        ]

    def _forget(self) -> None:
        """Drop the samples and energies no later decision needs."""
        rule = self._rule
        floored = self._e0 + len(self._level)
        keep = max(self._e0, min(self._span, floored - rule.half))
        self._energy = self._energy[keep - self._e0 :]
        self._level = self._level[keep - self._e0 :]
        self._e0 = keep
        keep = min(rule.to_sample(self._span), self._n_frames * rule.hop)
        if keep > self._buf0:
            self._buf = self._buf[keep - self._buf0 :]
            self._buf0 = keep


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
    return _smoothed(_rule(rate, _NoVad, bands), x)


def _smoothed(rule: _Rule, x: np.ndarray) -> np.ndarray:
    """:func:`frame_energies` with a given rule, of a non-empty signal."""
    raw = rule.energies(x)
    pad = _HALF_MEDIAN
    return _median(np.concatenate([np.repeat(raw[:1], pad, axis=0), raw, np.repeat(raw[-1:], pad, axis=0)]))


class _NoVad:
    vad_min_speech = vad_min_silence = vad_margin = HOP_SECONDS
    vad_onset_db = vad_offset_db = vad_floor_percentile = 1.0


def speech_regions(signal: np.ndarray, rate: int, cfg) -> list[tuple[float, float]]:
    """Where the speech is in a recording (rules 1-5; no margins).

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
        Mono samples in [-1, 1].
    rate : int
        Sample rate in Hz.
    cfg : FeatureConfig
        Or anything with the ``vad_*`` attributes.

    Returns
    -------
    list of (start_s, end_s)
        Disjoint, in time order; empty when there is no speech.
    """
    seg = Segmenter(rate, cfg)
    found = seg.push(signal) + seg.finish()
    return [(r.speech_start / rate, r.speech_end / rate) for r in found]


def trim(signal: np.ndarray, rate: int, cfg) -> np.ndarray | None:
    """Cut a recording's leading and trailing non-speech.

    A word trimmed to its edges already (as in FSDD) leaves no background to
    measure the floor against: its quietest frames are speech, so cutting
    what is near the floor would cut the word.  Hence, for single recordings:

    * trimming needs a background clearly below the speech: when the loudest
      frame is less than ``vad_trim_contrast_db`` above the floor, the
      recording is kept whole;
    * when no region is found, the recording is still kept whole

      - if its spectrum changes: in one of the ``OCTAVES`` its
        90th-percentile frame energy is ``vad_onset_db`` above its 10th
        percentile (a word's formants move between octaves; steady noise
        stays within a few dB), or
      - if it is tonal: its median frame's spectral flatness is below
        ``TONAL_FLATNESS`` (a held vowel and a steady tone cannot be told
        apart by their level; noise is flat).

    Only silent, noise-like recordings are reported as having no speech.  A
    recording shorter than ``vad_min_speech`` cannot be judged and is
    returned as it is.

    Parameters
    ----------
    signal : ndarray, shape (n_samples,)
    rate : int
        Sample rate in Hz.
    cfg : FeatureConfig

    Returns
    -------
    ndarray, shape (n_kept,), or None
        From the start of the first speech region to the end of the last,
        margins included (pauses between regions are kept); ``None`` when
        there is no speech.
    """
    signal = np.asarray(signal)
    if len(signal) < cfg.vad_min_speech * rate:
        return signal
    found, contrast = _trim_regions(signal, rate, cfg)
    if found:
        if contrast < cfg.vad_trim_contrast_db:
            return signal
        return signal[found[0][0] : found[-1][1]]
    octaves = np.maximum(frame_energies(signal, rate, OCTAVES), SILENCE_DB)
    change = np.percentile(octaves, 90, axis=0) - np.percentile(octaves, 10, axis=0)
    if change.max() >= cfg.vad_onset_db or flatness(signal, rate) < TONAL_FLATNESS:
        return signal
    return None


def _trim_regions(signal: np.ndarray, rate: int, cfg) -> tuple[list[tuple[int, int, int, int]], float]:
    """The speech regions of a whole recording, as :func:`_spans` gives them,
    and how far its loudest frame is above its floor (dB, the loudest band).

    A recording whose frames all fall within one floor window (up to
    ``FLOOR_STEP + FLOOR_HALF_WINDOW`` seconds) has one floor, and its regions
    come from one pass over its energies: the :class:`Segmenter` would find
    the same ones (a test checks this).  Longer ones go through it.
    """
    rule = _rule(rate, cfg)
    x = np.asarray(signal, dtype=float)
    energy = _smoothed(rule, x)
    above = energy - _floor(energy, cfg.vad_floor_percentile)
    contrast = float(above.max())
    if len(energy) <= rule.step + rule.half:
        return _spans(above.max(axis=1), 0, rule, len(energy), len(x)), contrast
    seg = Segmenter(rate, cfg)
    return [(r.start, r.end, r.speech_start, r.speech_end) for r in seg.push(x) + seg.finish()], contrast


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
