"""Find and recognise the words of a long recording, in bounded memory.

A take is decoded block by block (never whole) at its own sample rate and
goes the way of a live stream (:func:`wordrec.jobs.listening.segment_blocks`):
the causal endpointer with the model's ``vad_*`` settings, each finished
region resampled on its own to the model's rate, featurised and scored, in
batches of up to ``BATCH_REGIONS`` regions.  The regions and words are
those ``wordrec listen`` finds in the same audio.

Memory is bounded by the endpointer's (the region being heard, at most
``MAX_SPAN`` seconds, and 5 s of frame energies), one block and one batch
of regions, whatever the length of the take.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from wordrec.io import audio
from wordrec.io.sources import decoded_blocks
from wordrec.jobs.listening import Listening, Segment, segment_blocks

__all__ = ["Segment", "segment_file", "length"]

#: Seconds of audio decoded per block.
BLOCK_SECONDS = 1.0
#: Regions featurised and scored together.
BATCH_REGIONS = 32

def segment_file(
    models,
    path,
    nbest: int | None = 1,
    progress: Callable[[int], None] | None = None,
    block_seconds: float = BLOCK_SECONDS,
    new_voices: bool | None = None,
) -> Iterator[Segment]:
    """Find the words of one recording of any length and recognise each.

    Parameters
    ----------
    models : ModelSet
        Its feature config gives the front end and the detector settings.
    path : str or Path, or a source
        A file, or a source of blocks (:mod:`wordrec.io.sources`: ``name``,
        ``rate`` and ``blocks()``), such as stdin.
    nbest : int or None
        Words kept per segment, best first (None: all).
    progress : callable, optional
        Called with the number of samples (at the file's rate) decoded,
        after each block.
    block_seconds : float
        Seconds decoded at a time.
    new_voices : bool, optional
        The operating point whose confidence is given
        (:func:`wordrec.core.openset.active_calibration`).

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
    if hasattr(path, "blocks"):  # a source, such as stdin
        listening = Listening(models, name=path.name, nbest=nbest, reject=False, new_voices=new_voices)
        yield from segment_blocks(listening, _counted(path.blocks(), progress), int(path.rate), BATCH_REGIONS)
        return
    listening = Listening(models, name=str(path), nbest=nbest, reject=False, new_voices=new_voices)
    with audio.open_audio(path) as h:
        rate = int(h.samplerate)
        blocks = _counted(_decode(h, path, max(1, int(block_seconds * rate))), progress)
        yield from segment_blocks(listening, blocks, rate, BATCH_REGIONS)


def _decode(h, path, block: int) -> Iterator[np.ndarray]:
    """An open file's samples, mono, ``block`` at a time, clipped to [-1, 1]."""
    for mono in decoded_blocks(h, str(path), block):
        yield np.clip(mono, -1.0, 1.0)


def _counted(blocks, progress) -> Iterator[np.ndarray]:
    for b in blocks:
        yield b
        if progress:
            progress(len(b))


def length(path) -> tuple[int, int]:
    """``(sample_rate_hz, n_samples)`` of a take, from its header (no decoding); 0 samples for a stream."""
    if hasattr(path, "blocks"):
        return int(path.rate), 0
    with audio.open_audio(path) as h:
        return int(h.samplerate), int(h.frames)
