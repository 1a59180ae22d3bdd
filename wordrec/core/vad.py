"""Endpointing: trim single recordings, find the words of a stream in bounded memory.

Both apply the rule of :mod:`wordrec.core.vad_rule`.  The noise floor is
re-estimated every ``FLOOR_STEP`` seconds from the frames within
``FLOOR_HALF_WINDOW`` seconds either side (one floor for a short recording;
a slowly moving one in a long take).

:class:`Segmenter` applies the rule to a stream of blocks with bounded state:
it cuts the stream inside pauses at least ``max(vad_min_silence, 2
vad_margin)`` long, where nothing on one side can change the regions on the
other, so its regions are exactly those of :func:`speech_regions` on the
whole signal.  The one exception is a stretch of more than ``max_span``
seconds without such a pause, which is cut where the stream stands.
:func:`trim` adds rules for single recordings with no region (see there), so
that words already trimmed to their edges are kept whole, and only silent or
noise-like recordings are reported as having no speech.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from wordrec.core.vad_rule import (
    HALF_MEDIAN,
    HOP_SECONDS,
    OCTAVES,
    SILENCE_DB,
    TONAL_FLATNESS,
    flatness,
    frame_energies,
    noise_floor,
    rule_for,
    running_median,
    runs,
    smoothed,
    spans,
)

#: Longest stretch (s) the segmenter holds without finding a pause.
MAX_SPAN = 30.0


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
        self._rule = rule_for(rate, cfg)
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
        last = n_raw if final else n_raw - HALF_MEDIAN
        if last <= first:
            return
        lo, hi = first - HALF_MEDIAN, last + HALF_MEDIAN
        window = self._raw[max(lo, self._r0) - self._r0 : min(hi, n_raw) - self._r0]
        head, tail = np.repeat(window[:1], max(0, -lo), axis=0), np.repeat(window[-1:], max(0, hi - n_raw), axis=0)
        window = np.concatenate([head, window, tail])
        self._energy = np.concatenate([self._energy, running_median(window)])
        keep = max(self._r0, last - HALF_MEDIAN)
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
            floor = noise_floor(self._energy[lo - self._e0 : hi - self._e0], rule.percentile)
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
        starts, ends = runs(quiet)
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
            for s0, s1, t0, t1 in spans(level, first, rule, n_frames, self._n_samples)
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
    bounds = trim_bounds(signal, rate, cfg)
    return None if bounds is None else signal[bounds[0] : bounds[1]]


def trim_bounds(signal: np.ndarray, rate: int, cfg) -> tuple[int, int] | None:
    """Where :func:`trim` cuts: ``(first_sample, end_sample)`` of what it keeps, or None (no speech)."""
    signal = np.asarray(signal)
    whole = (0, len(signal))
    if len(signal) < cfg.vad_min_speech * rate:
        return whole
    found, contrast = _trim_regions(signal, rate, cfg)
    if found:
        if contrast < cfg.vad_trim_contrast_db:
            return whole
        return int(found[0][0]), int(found[-1][1])
    octaves = np.maximum(frame_energies(signal, rate, OCTAVES), SILENCE_DB)
    change = np.percentile(octaves, 90, axis=0) - np.percentile(octaves, 10, axis=0)
    if change.max() >= cfg.vad_onset_db or flatness(signal, rate) < TONAL_FLATNESS:
        return whole
    return None


def _trim_regions(signal: np.ndarray, rate: int, cfg) -> tuple[list[tuple[int, int, int, int]], float]:
    """The speech regions of a whole recording, as :func:`_spans` gives them,
    and how far its loudest frame is above its floor (dB, the loudest band).

    A recording whose frames all fall within one floor window (up to
    ``FLOOR_STEP + FLOOR_HALF_WINDOW`` seconds) has one floor, and its regions
    come from one pass over its energies: the :class:`Segmenter` would find
    the same ones (a test checks this).  Longer ones go through it.
    """
    rule = rule_for(rate, cfg)
    x = np.asarray(signal, dtype=float)
    energy = smoothed(rule, x)
    above = energy - noise_floor(energy, cfg.vad_floor_percentile)
    contrast = float(above.max())
    if len(energy) <= rule.step + rule.half:
        return spans(above.max(axis=1), 0, rule, len(energy), len(x)), contrast
    seg = Segmenter(rate, cfg)
    return [(r.start, r.end, r.speech_start, r.speech_end) for r in seg.push(x) + seg.finish()], contrast


