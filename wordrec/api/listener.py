"""Listen: recognise words in a stream of samples as they are spoken, numpy in, detections out.

::

    import wordrec

    listener = wordrec.Listener("words.model")        # or rec.listener(), or a ModelSet
    for block in blocks:                               # arrays (n,) or (n, channels), any length
        for d in listener.feed(block, 16000):
            print(d.start, d.end, d.word, d.confidence)
    for d in listener.flush():                         # at the end of the stream
        print(d.start, d.end, d.word)

``wordrec listen`` is :meth:`Listener.listen_to` on a source (stdin, a
file, a microphone).  The words found and their answers do not depend on
how the stream is cut into blocks; ``recognize --segment`` finds the same
in a file (:mod:`wordrec.jobs.listening`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from wordrec.core.adapt import PRIOR, AdaptConfig
from wordrec.core.labels import UNKNOWN
from wordrec.core.model import ModelSet
from wordrec.core.vad import MAX_SPAN
from wordrec.errors import WordrecError
from wordrec.io import modelfile
from wordrec.jobs.listening import Listening, Segment


@dataclass(frozen=True)
class Detection:
    """A word heard in the stream.

    Attributes
    ----------
    start, end : float
        Where the endpointer found speech, in seconds from the start of the
        stream (the audio recognised extends ``vad_margin`` beyond them).
    word : str
        The best word, or ``<unknown>`` when its confidence is below the
        threshold or the sound is too short for every word model.
    best_word : str or None
        The best word even when rejected; None when too short.
    log_lik : float or None
        Its forward log-likelihood in nats; None when too short.
    confidence : float or None
        Of the best word, in [0, 1]; None without a calibrated model (or too short).
    nbest : tuple of (str, float)
        The best words and their log-likelihoods, best first.
    n_frames : int
        Feature frames (10 ms each) of the sound.
    """

    start: float
    end: float
    word: str
    best_word: str | None
    log_lik: float | None
    confidence: float | None
    nbest: tuple
    n_frames: int

    @property
    def accepted(self) -> bool:
        return self.best_word is not None and self.word == self.best_word


def _models_of(model) -> ModelSet:
    if isinstance(model, ModelSet):
        return model
    if isinstance(model, (str, Path)):
        return modelfile.load(model)
    fitted = getattr(model, "fitted", None)  # a Recognizer
    if isinstance(fitted, ModelSet):
        return fitted
    raise WordrecError(f"a Listener needs a Recognizer, a model file or a ModelSet, not {model!r}")


class Listener:
    """Streaming recogniser: feed blocks of samples, get the words as soon as they have ended.

    Parameters
    ----------
    model : Recognizer, str, Path or ModelSet
        A trained recogniser or a model file; its front end and endpointer
        settings are used.
    threshold : float, optional
        Confidence below which a word is ``<unknown>``; default: the model's
        calibrated threshold.
    reject : bool
        False never answers ``<unknown>`` for a word (the confidence is still given).
    nbest : int or None
        Words listed per detection (None: all).
    adapt : bool
        Adapt the word models to the voice heard, from the words the trained
        models accepted so far (MAP on the means, ``prior`` frames' worth of
        the trained ones): each answer depends only on the audio before it.
        Confidences rise for every sound of that voice, so unknown words
        are seldom rejected then (docs/listening.md, "Online adaptation").
    prior : float
        See ``adapt``.
    max_span : float
        Longest sound in seconds; one that goes on is cut there.
    new_voices : bool, optional
        The operating point, as for :meth:`wordrec.Recognizer.recognize`:
        True for voices unlike the training ones, False for voices like
        them, None for the model's default.

    Attributes
    ----------
    models : ModelSet
        The models answering now (adapted so far, with ``adapt``).
    n_adapted : int
        Answers the models were adapted on so far.
    stopped : bool
        After :meth:`listen_to`: whether Ctrl-C ended it.
    """

    def __init__(self, model, *, threshold: float | None = None, reject: bool = True, nbest: int | None = 1,
                 adapt: bool = False, prior: float = PRIOR, max_span: float = MAX_SPAN, new_voices: bool | None = None):
        if nbest is not None and not (isinstance(nbest, (int, np.integer)) and nbest >= 1):
            raise WordrecError(f"nbest must be a positive whole number or None, not {nbest!r}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise WordrecError(f"threshold must be in [0, 1], not {threshold!r}")
        if not max_span > 0:
            raise WordrecError(f"max_span must be a positive number of seconds, not {max_span!r}")
        self._job = Listening(_models_of(model), "stream", nbest, threshold, reject,
                              AdaptConfig(prior=prior) if adapt else None, max_span, new_voices)

    @property
    def models(self) -> ModelSet:
        return self._job.models

    @models.setter
    def models(self, new: ModelSet) -> None:
        """Answer with other models (e.g. adapted elsewhere) from the next word on; same front end only."""
        self._job.models = new

    @property
    def n_adapted(self) -> int:
        stats = self._job.statistics
        return 0 if stats is None else stats.n_answers

    @property
    def sample_rate(self) -> int | None:
        """The stream's sample rate in Hz (None before the first block)."""
        return self._job.rate

    @property
    def n_held(self) -> int:
        """Samples held now: bounded however long the stream runs."""
        return self._job.n_held

    @property
    def stopped(self) -> bool:
        return self._job.stopped

    def feed(self, samples: np.ndarray, sample_rate: int) -> list[Detection]:
        """Add a block of the stream; return the words it completes, in time order.

        Parameters
        ----------
        samples : ndarray, shape (n,) or (n, n_channels)
            Float (full scale 1.0) or integer PCM; channels are averaged.
        sample_rate : int
            Hz; the same for every block of a stream.
        """
        return self._detections(self._job.feed(samples, sample_rate))

    def flush(self) -> list[Detection]:
        """End of the stream: the words still open (a word cut off is still answered)."""
        return self._detections(self._job.flush())

    def listen(self, blocks: Iterable[np.ndarray], sample_rate: int) -> Iterator[Detection]:
        """Every word of a stream of blocks, each as soon as it has ended, then :meth:`flush`'s."""
        for block in blocks:
            yield from self.feed(block, sample_rate)
        yield from self.flush()

    def listen_to(self, source, guard=contextlib.nullcontext) -> Iterator[Detection]:
        """The words of a source (:func:`wordrec.io.sources.open_source`) until it ends or Ctrl-C.

        See :meth:`wordrec.jobs.listening.Listening.run`: a source's failure
        is raised after the words heard before it; Ctrl-C ends the stream
        (``stopped``), and ``guard`` can hold it back while a word is handled.
        """
        return (self._detection(s) for s in self._job.run(source, guard))

    def save(self, path) -> None:
        """Write the models answering now (adapted so far) as a model file, atomically.

        The adaptation is noted in the file (``training.adaptation``); a
        model file written at any point of a stream loads as any other.
        """
        modelfile.save(self._job.adapted_models() or self._job.models, path)

    def _detections(self, segments) -> list[Detection]:
        return [self._detection(s) for s in segments]

    def _detection(self, seg: Segment) -> Detection:
        ranked = seg.ranked
        if ranked is None:
            return Detection(seg.start_s, seg.end_s, UNKNOWN, None, None, None, (), seg.n_frames)
        word = ranked.best if self._job.accepted(seg) else UNKNOWN
        nbest = tuple(zip(ranked.words, ranked.log_liks))
        return Detection(seg.start_s, seg.end_s, word, ranked.best, ranked.log_lik, seg.confidence, nbest, seg.n_frames)
