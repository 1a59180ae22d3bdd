"""Causal endpointing: find words in a live stream from what has been heard so far.

The rule is that of :mod:`wordrec.core.vad_rule` (band energies of 25 ms
frames every 10 ms, smoothed by a 5-frame running median; hysteresis between
``vad_onset_db`` and ``vad_offset_db`` above a noise floor; pauses shorter
than ``vad_min_silence`` bridged; ``vad_min_speech`` of loud frames; a
``vad_margin`` on both sides), with one difference: the noise floor is
**causal**.  The floor of the frames of each ``FLOOR_STEP`` is the
``vad_floor_percentile``-th percentile of the smoothed energies of the
``FLOOR_SECONDS`` before the step (never below ``SILENCE_DB``), so no
decision waits for audio that has not arrived.  Start-up: the frames of the
first ``WARMUP_SECONDS`` share the floor of those seconds (decisions on them
wait until the warm-up has been heard, or the stream ends), so that a
stream that starts with a word is measured against the pause after it
rather than against the word itself.

A region is emitted as soon as it is final: ``vad_min_silence`` after the
speech has ended (the pause is long enough to end it), and no earlier than
``2 vad_margin`` after it (the end margin stops halfway to the next sound,
which must have had the chance to start).  With the defaults (0.15 s and
0.08 s) that is 0.16 s after the last frame above the offset level, plus the
smoothing's two frames, a frame's length, and up to ``GATHER`` frames while
small blocks are gathered.  Margins stop halfway to the neighbouring sounds
above the offset level (whether or not they became regions), and at the
start of the stream.

Every decision is made per frame on absolute frame indices, from quantities
that do not depend on how the stream was cut into blocks: the regions are
exactly the same for any block sizes.  Memory is bounded: the energies of
the floor window, a few frames, and the samples of the region being heard
(at most ``max_span`` seconds: a sound that goes on longer is cut there and
continues as a new region).
"""

from __future__ import annotations

import numpy as np

from wordrec.core.vad import MAX_SPAN, Region
from wordrec.core.vad_rule import (
    HALF_MEDIAN,
    HOP_SECONDS,
    Rule,
    noise_floor,
    rule_for,
    running_median,
)

#: Seconds of past energies the floor is the percentile of.
FLOOR_SECONDS = 5.0
#: The floor is re-estimated every FLOOR_STEP seconds.
FLOOR_STEP = 0.1
#: Seconds at the start of a stream that share one floor (see above).
WARMUP_SECONDS = 1.0

#: Frames' worth of samples gathered before a block is looked at.
GATHER = 4

_HALF = HALF_MEDIAN  # half the running median's width, in frames
_CHUNK = 4096  # frames per FFT batch (bounded memory for a long block)


def _energies(rule: Rule, x: np.ndarray, first: int, n: int) -> np.ndarray:
    """Raw band energies (dBFS) of ``n`` frames of ``x`` from sample ``first`` on: (n, n_bands).

    The numbers of :meth:`wordrec.core.vad_rule.Rule.energies` (the same
    operations in the same order), at a fraction of its fixed cost per call, which
    dominates when a live stream brings a few frames at a time.
    """
    need = (n - 1) * rule.hop + rule.flen
    x = np.ascontiguousarray(x[first : first + need])
    if len(x) < need:  # a stream shorter than a frame: its one frame is zero-padded
        x = np.concatenate([x, np.zeros(need - len(x))])
    frames = np.lib.stride_tricks.as_strided(x, (n, rule.flen), (rule.hop * x.strides[0], x.strides[0]), writeable=False)
    out = np.empty((n, len(rule.bins)))
    for a in range(0, n, _CHUNK):  # bounded memory for a long block
        f = frames[a : a + _CHUNK]
        f = (f - f.sum(axis=1, keepdims=True) / rule.flen) * rule.window  # the mean, as np.mean computes it
        power = np.square(np.abs(np.fft.rfft(f, rule.nfft)))
        for k, bins in enumerate(rule.bins):
            out[a : a + _CHUNK, k] = 10.0 * np.log10(power[:, bins].sum(axis=1) * rule.scale + 1e-12)
    return out


class _Run:
    """A stretch of frames above the offset level (pauses shorter than the
    minimum silence bridged): its first frame ``a``, the end ``b`` (exclusive)
    of its last frame above the offset, its loud frames, and ``lo``, the first
    frame its region may keep (margin included)."""

    __slots__ = ("a", "b", "loud", "lo")

    def __init__(self, a: int, b: int, loud: int, lo: int):
        self.a, self.b, self.loud, self.lo = a, b, loud, lo


class Endpointer:
    """Streaming, causal voice-activity detection: push blocks, get finished regions.

    Parameters
    ----------
    rate : int
        Sample rate of the blocks in Hz.
    cfg : FeatureConfig
        Or anything with the ``vad_*`` attributes (see :mod:`wordrec.core.vad_rule`).
    max_span : float
        Longest region in seconds; a sound that goes on is cut there.
    floor_seconds, floor_step, warmup : float
        See ``FLOOR_SECONDS``, ``FLOOR_STEP``, ``WARMUP_SECONDS``.

    :meth:`push` and :meth:`flush` return lists of :class:`wordrec.core.vad.Region`
    (sample indices from the start of the stream), in time order.
    """

    def __init__(self, rate: int, cfg, max_span: float = MAX_SPAN, floor_seconds: float = FLOOR_SECONDS,
                 floor_step: float = FLOOR_STEP, warmup: float = WARMUP_SECONDS):
        rule = self._rule = rule_for(rate, cfg)
        frames = lambda s: max(1, int(round(s / HOP_SECONDS)))  # noqa: E731
        self._window, self._step, self._warmup = frames(floor_seconds), frames(floor_step), frames(warmup)
        self._max_span = max(frames(max_span), rule.min_speech + 1)
        # A region's end is final this many frames after its speech ended.
        self._settle = max(rule.min_silence, 2 * rule.margin)
        self._buf = np.zeros(0)  # samples from _buf0 on
        self._parts: list = []  # blocks not yet appended to _buf
        self._n_parts = 0
        self._buf0 = 0
        self._n_samples = 0
        n_bands = len(rule.bins)
        self._raw = np.zeros((0, n_bands))  # raw energies of frames _raw0 .. n_raw
        self._raw0 = 0
        self._n_raw = 0
        self._hist = np.zeros((0, n_bands))  # smoothed energies of frames _hist0 .. n_smooth
        self._hist0 = 0
        self._n_level = 0  # frames whose level has been decided on
        self._floor_step = -1  # the step whose floor is _floor
        self._floor = np.zeros(n_bands)
        self._open: _Run | None = None  # the run being heard
        self._pending: _Run | None = None  # a finished run whose end margin is not yet known
        self._prev_end: int | None = None  # end of the last run (for the next start margin)
        self._barrier = 0  # no region reaches back before this frame (a cut)
        self._done = False

    # -- public ------------------------------------------------------------

    @property
    def rate(self) -> int:
        return self._rule.rate

    @property
    def n_samples(self) -> int:
        """Samples pushed so far."""
        return self._n_samples + self._n_parts

    @property
    def n_held(self) -> int:
        """Samples held now (bounded by about ``max_span`` plus a second; see the module docstring)."""
        return len(self._buf) + self._n_parts

    @property
    def n_held_frames(self) -> int:
        """Frame energies held now (bounded by the floor window)."""
        return len(self._raw) + len(self._hist)

    def push(self, block: np.ndarray) -> list[Region]:
        """Add samples, shape (n,), mono in [-1, 1]; return the regions they finish."""
        if self._done:
            raise ValueError("Endpointer.push after flush")
        block = np.asarray(block, dtype=float).reshape(-1)
        if len(block) == 0:
            return []
        self._parts.append(block)
        self._n_parts += len(block)
        # Small blocks are gathered into GATHER frames' worth first: this
        # changes no result, only the cost (each pass has a fixed overhead of
        # a few hundred microseconds) and the latency (by GATHER / 2 frames on average).
        if self._n_parts < GATHER * self._rule.hop:
            return []
        self._take_parts()
        self._add_frames(final=False)
        out = self._decide(final=False)
        self._forget()
        return out

    def flush(self) -> list[Region]:
        """End of the stream: return the regions still open (what was heard is answered)."""
        if self._done:
            return []
        self._done = True
        self._take_parts()
        if self._n_samples == 0:
            return []
        self._add_frames(final=True)
        out = self._decide(final=True)
        self._forget()
        return out

    # -- frames ------------------------------------------------------------

    def _take_parts(self) -> None:
        if self._parts:
            self._buf = np.concatenate([self._buf, *self._parts])
            self._n_samples += self._n_parts
            self._parts, self._n_parts = [], 0

    def _add_frames(self, final: bool) -> None:
        """Raw energies of the new complete frames, and the smoothed ones their medians allow."""
        rule = self._rule
        if self._n_samples >= rule.flen:
            n_new = (self._n_samples - rule.flen) // rule.hop + 1 - self._n_raw
        else:  # a stream shorter than a frame: one zero-padded frame, at the end
            n_new = 1 if final and self._n_raw == 0 else 0
        if n_new > 0:
            a = self._n_raw * rule.hop - self._buf0
            self._raw = np.concatenate([self._raw, _energies(rule, self._buf, a, n_new)])
            self._n_raw += n_new
        first = self._hist0 + len(self._hist)  # first frame not yet smoothed
        last = self._n_raw if final else self._n_raw - _HALF
        if last <= first:
            return
        lo, hi = first - _HALF, last + _HALF
        window = self._raw[max(lo, self._raw0) - self._raw0 : min(hi, self._n_raw) - self._raw0]
        # The ends of the stream repeat its first and last frames.
        head = np.repeat(window[:1], max(0, -lo), axis=0)
        tail = np.repeat(window[-1:], max(0, hi - self._n_raw), axis=0)
        self._hist = np.concatenate([self._hist, running_median(np.concatenate([head, window, tail]))])
        keep = max(self._raw0, last - _HALF)
        self._raw = self._raw[keep - self._raw0 :]
        self._raw0 = keep

    @property
    def _n_smooth(self) -> int:
        return self._hist0 + len(self._hist)

    def _floor_of(self, step: int, n_known: int) -> np.ndarray | None:
        """The floor (n_bands,) of step ``step``, or None if its window is not all known."""
        start = step * self._step
        lo, hi = max(0, start - self._window), max(start, self._warmup)
        if hi > n_known:
            if not self._done:
                return None
            hi = n_known
        return noise_floor(self._hist[lo - self._hist0 : hi - self._hist0], self._rule.percentile)

    def _levels(self) -> np.ndarray:
        """Level above the floor (dB, the loudest band) of the frames from ``_n_level`` on that can be decided."""
        n_known = self._n_smooth
        out = []
        t = self._n_level
        while t < n_known:
            step = t // self._step
            if step != self._floor_step:
                floor = self._floor_of(step, n_known)
                if floor is None:
                    break
                self._floor_step, self._floor = step, floor
            end = min((step + 1) * self._step, n_known)
            out.append((self._hist[t - self._hist0 : end - self._hist0] - self._floor).max(axis=1))
            t = end
        return np.concatenate(out) if out else np.zeros(0)

    # -- regions -----------------------------------------------------------

    def _decide(self, final: bool) -> list[Region]:
        rule = self._rule
        level = self._levels()
        t0 = self._n_level
        above = level > rule.offset
        loud = level > rule.onset
        out: list = []
        hits = np.flatnonzero(above)
        t, n = 0, len(level)
        while t < n:
            if self._open is None and self._pending is None:
                # Idle: nothing happens until the next frame above the offset.
                nxt = np.searchsorted(hits, t)
                if nxt == len(hits):
                    break
                t = int(hits[nxt])
            self._frame(t0 + t, bool(above[t]), bool(loud[t]), out)
            t += 1
        self._n_level = t0 + n
        if final:
            self._end(out)
        return out

    def _frame(self, t: int, above: bool, loud: bool, out: list) -> None:
        """Frame ``t`` has been heard: update the runs, append finished regions to ``out``."""
        rule = self._rule
        if above:
            if self._pending is not None:  # the next sound starts before the end margin is final
                run, self._pending = self._pending, None
                self._emit(run, min(run.b + rule.margin, (run.b + t) // 2), out)
            run = self._open
            if run is None:
                lo = t - rule.margin
                if self._prev_end is not None:
                    lo = max(lo, (self._prev_end + t + 1) // 2)
                self._open = _Run(t, t + 1, int(loud), max(lo, self._barrier, 0))
            else:
                run.b, run.loud = t + 1, run.loud + loud
        else:
            run = self._open
            if run is not None and t + 1 - run.b >= rule.min_silence:
                self._open, self._prev_end = None, run.b
                if run.loud >= rule.min_speech:
                    self._pending = run
            run = self._pending
            if run is not None and t + 1 - run.b >= self._settle:
                self._pending = None
                self._emit(run, run.b + rule.margin, out)
        run = self._open
        if run is not None and t + 1 - run.a >= self._max_span:
            # A sound that goes on: cut it here; what follows is a new region
            # that does not reach back past the cut.
            self._open, self._prev_end, self._barrier = None, run.b, t + 1
            if run.loud >= rule.min_speech:
                self._emit(run, min(run.b + rule.margin, t + 1), out)

    def _end(self, out: list) -> None:
        """The stream has ended: close what is open, with margins up to its end."""
        n_frames = self._n_smooth
        if self._pending is not None:
            run, self._pending = self._pending, None
            self._emit(run, min(run.b + self._rule.margin, n_frames), out, n_frames)
        run, self._open = self._open, None
        if run is not None and run.loud >= self._rule.min_speech:
            self._emit(run, min(run.b + self._rule.margin, n_frames), out, n_frames)

    def _emit(self, run: _Run, hi: int, out: list, n_frames: int | None = None) -> None:
        rule = self._rule
        s0, s1, t0, t1 = (min(rule.to_sample(f, n_frames, self._n_samples), self._n_samples) for f in (run.lo, hi, run.a, run.b))
        if s1 > s0:
            out.append(Region(s0, s1, self._buf[s0 - self._buf0 : s1 - self._buf0].copy(), t0, t1))

    def _forget(self) -> None:
        """Drop the samples and energies no later decision needs."""
        rule = self._rule
        # Energies: the floor window of the next step to estimate.
        step = self._n_level // self._step
        keep = max(self._hist0, min(self._n_level, step * self._step - self._window))
        self._hist = self._hist[keep - self._hist0 :]
        self._hist0 = keep
        # Samples: the next raw frame, and the earliest a region may still keep.
        first = self._n_level - rule.margin
        for run in (self._open, self._pending):
            if run is not None:
                first = min(first, run.lo)
        first = max(first, self._barrier, 0)
        keep = min(rule.to_sample(first), self._n_raw * rule.hop)
        if keep > self._buf0:
            self._buf = self._buf[keep - self._buf0 :]
            self._buf0 = keep
