"""What the public API's classes share: results, recordings given as arrays or paths, progress callbacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io import audio
from wordrec.io.items import Paths
from wordrec.jobs.events import QUIET, Events

#: What a recording may be: samples in memory, or the path of an audio file.
RecordingLike = Union[np.ndarray, str, Path]
#: ``progress(stage, done, total)``, called as each unit (file, model) of a stage is done.
Progress = Callable[[str, int, int], None]

@dataclass(frozen=True)
class Result:
    """What recognition says about one recording.

    Attributes
    ----------
    word : str or None
        The answer: a word, ``"<unknown>"`` (confidence below the threshold),
        ``"<silence>"`` (no speech in the recording: nothing was scored), or
        None when the recording could not be used (see ``failure``).
    best_word : str or None
        The word with the highest log-likelihood, whatever its confidence
        (None for silence).
    confidence : float or None
        In [0, 1] (see docs/design.md); None for a model without calibration.
    log_lik : float or None
        Forward log-likelihood of ``best_word``, in nats.
    nbest : list of (str, float)
        The best words and their log-likelihoods, best first.
    n_frames : int
        Feature frames (10 ms each) after endpointing.
    accepted : bool
        Whether the confidence reached the threshold.
    failure : str or None
        Why the recording could not be used, naming it; None when it was.
    name : str
        The recording's path, or ``recordings[i]`` for an array.
    note : str or None
        A hint, e.g. that the recording is far longer than any word.
    """

    word: str | None
    best_word: str | None
    confidence: float | None
    log_lik: float | None
    nbest: list
    n_frames: int
    accepted: bool
    failure: str | None
    name: str
    note: str | None = None


class _Reported(Events):
    """Events for a plain ``progress(stage, done, total)`` callable."""

    def __init__(self, progress: Progress):
        self._progress, self._stage, self._done, self._total = progress, "", 0, 0

    def stage(self, name, total):
        self._stage, self._done, self._total = name, 0, total

    def advance(self, n=1):
        self._done += n
        self._progress(self._stage, self._done, self._total)


def events_of(progress) -> Events:
    """``progress`` as :class:`Events`: None hears nothing; an Events object is used as it is."""
    if progress is None:
        return QUIET
    if isinstance(progress, Events):
        return progress
    if not callable(progress):
        raise WordrecError(f"progress must be a callable (stage, done, total) or None, not {progress!r}")
    return _Reported(progress)


def recordings_of(recordings, sample_rate=None) -> list:
    """Recordings as what the jobs read: paths, and :class:`wordrec.io.audio.Samples` for arrays.

    Parameters
    ----------
    recordings : sequence of ndarray, str or Path
    sample_rate : int, or sequence of int (one per recording), optional
        Needed for arrays; ignored for paths (a file knows its rate).
    """
    if isinstance(recordings, (np.ndarray, str, Path)):
        raise WordrecError("recordings must be a sequence (a list of arrays or paths), not a single recording")
    if isinstance(recordings, Paths):  # files found by corpus.expand: paths all, kept compact
        return recordings
    items = list(recordings)
    if sample_rate is None or np.ndim(sample_rate) == 0:
        rates = [sample_rate] * len(items)
    else:
        rates = list(sample_rate)
        if len(rates) != len(items):
            raise WordrecError(f"sample_rate has {len(rates)} rates for {len(items)} recordings")
    out = []
    for i, (rec, rate) in enumerate(zip(items, rates)):
        if isinstance(rec, (str, Path, audio.Samples)):  # Samples: already named and rated
            out.append(rec)
        elif rate is None:
            raise WordrecError(f"recordings[{i}] is an array: give its sample_rate")
        else:
            out.append(audio.Samples(rec, rate, f"recordings[{i}]"))
    return out


def result_of(a) -> Result:
    if a.failure is not None:
        return Result(None, None, None, None, [], 0, False, a.failure.message, a.path)
    if a.silent:
        return Result(a.word, None, None, None, [], 0, False, None, a.path)
    ranked = a.ranked
    return Result(
        a.word, ranked.best, a.confidence, ranked.log_lik, list(zip(ranked.words, ranked.log_liks)),
        a.n_frames, a.accepted, None, a.path, a.note,
    )
