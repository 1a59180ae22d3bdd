"""Find and recognise the words of a long recording, in bounded memory.

A take is decoded block by block (never whole) at its own sample rate and
fed to the streaming detector :class:`wordrec.core.vad.Segmenter`, which uses the
model's ``vad_*`` settings; the detector's rule is the same at every rate, so
it runs before resampling.  Each finished region (margins included) is
resampled on its own to the model's rate: the resampling filter's edge
effects then fall on the region's margins, which are background, and no
filter state has to be carried across block boundaries.  Regions are
featurised with the model's front end and scored in small batches.

Memory is bounded by the detector's window (about 36 s of samples at most,
see :mod:`wordrec.core.vad`), one block and one batch of regions, whatever the
length of the take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from wordrec.core import features, vad
from wordrec.core.openset import confidences
from wordrec.core.score import Ranked, rank, score
from wordrec.errors import WordrecError
from wordrec.io import audio

#: Seconds of audio decoded per block.
BLOCK_SECONDS = 1.0
#: Regions featurised and scored together.
BATCH_REGIONS = 32

# Errors libsndfile and the soundfile wrapper raise while decoding.
_READ_ERRORS = (RuntimeError, ValueError, TypeError, OSError, EOFError, MemoryError)


@dataclass(frozen=True)
class Segment:
    """One region of speech found in a take, and the words it may be.

    ``start_s`` and ``end_s`` (seconds from the start of the file) say where
    the detector found speech; the audio recognised extends ``vad_margin``
    beyond them on both sides.  ``ranked`` is None when the region is too
    short for every word model.  ``confidence`` is that of the best word
    (see :mod:`wordrec.core.openset`), None when the model has no calibration.
    """

    path: str
    start_s: float
    end_s: float
    ranked: Ranked | None
    n_frames: int
    confidence: float | None = None


def segment_file(
    models,
    path,
    nbest: int | None = 1,
    progress: Callable[[int], None] | None = None,
    block_seconds: float = BLOCK_SECONDS,
) -> Iterator[Segment]:
    """Find the words of one recording of any length and recognise each.

    Parameters
    ----------
    models : ModelSet
        Its feature config gives the front end and the detector settings.
    path : str or Path
    nbest : int or None
        Words kept per segment, best first (None: all).
    progress : callable, optional
        Called with the number of samples (at the file's rate) decoded,
        after each block.
    block_seconds : float
        Seconds decoded at a time.

    Yields
    ------
    Segment
        In time order, as soon as each region is finished and scored.

    Raises
    ------
    WordrecError
        Naming the file, if it cannot be opened or decoded (segments found
        before the damage have been yielded by then).
    """
    cfg = models.features
    with audio.open_audio(path) as h:
        rate = int(h.samplerate)
        detector = vad.Segmenter(rate, cfg)
        block = max(1, int(block_seconds * rate))
        pending: list = []
        while True:
            done_s = detector.n_samples / rate
            try:
                with audio.quiet_decoders():
                    data = h.read(block, dtype="float64", always_2d=True)
            except _READ_ERRORS as exc:
                raise WordrecError(f"{path}: cannot decode audio after {done_s:.1f} s ({exc})") from None
            if len(data) == 0:
                break
            mono = audio.to_mono(data)
            if not np.all(np.isfinite(mono)):
                raise WordrecError(f"{path}: NaN or infinite sample values after {done_s:.1f} s")
            pending += detector.push(np.clip(mono, -1.0, 1.0))
            if progress:
                progress(len(mono))
            if len(pending) >= BATCH_REGIONS:
                yield from _recognise(models, str(path), rate, pending, nbest)
                pending = []
        pending += detector.finish()
    yield from _recognise(models, str(path), rate, pending, nbest)


def _recognise(models, path: str, rate: int, regions, nbest) -> list[Segment]:
    """Score :class:`wordrec.core.vad.Region` s found at the file's ``rate``."""
    if not regions:
        return []
    cfg = models.features
    signals = [audio.resample(r.samples, rate, cfg.sample_rate) for r in regions]
    usable = [i for i, s in enumerate(signals) if len(s) > 0]
    feats = features.extract_many([signals[i] for i in usable], cfg)
    rows = score(models, feats) if feats else np.zeros((0, len(models.models)))
    conf = confidences(models, feats, rows) if feats else None
    found = {k: (row, len(f), None if conf is None else float(conf[j])) for j, (k, row, f) in enumerate(zip(usable, rows, feats))}
    out = []
    for i, region in enumerate(regions):
        row, n_frames, c = found.get(i, (None, 0, None))
        ranked = rank(row, models.words, nbest) if row is not None else None
        if ranked is not None and not ranked.words:
            ranked, c = None, None
        out.append(Segment(path, region.speech_start / rate, region.speech_end / rate, ranked, n_frames, c))
    return out


def length(path) -> tuple[int, int]:
    """``(sample_rate_hz, n_samples)`` of a take, from its header (no decoding)."""
    with audio.open_audio(path) as h:
        return int(h.samplerate), int(h.frames)
