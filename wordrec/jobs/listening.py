"""Recognise the words of a stream as they end: one code path for live streams and long takes.

Blocks of samples at any rate go through the causal endpointer
(:class:`wordrec.core.endpoint.Endpointer`, at the stream's own rate, as
the rule is the same at every rate).  Each finished region (margins
included) is resampled on its own to the model's rate (the filter's edge
effects fall on the margins, which are background, and no filter state
crosses block boundaries), featurised with the model's front end and scored
as a recording is: forward log-likelihoods of every word
(:func:`wordrec.core.score.score`) and the calibrated confidence of the
best one (:func:`wordrec.core.openset.confidences`).

``wordrec listen`` reads a source (:mod:`wordrec.io.sources`) through
:meth:`Listening.run`; ``recognize --segment`` is the same loop over the
blocks of a file (:func:`segment_blocks`), scoring regions in batches (the
same regions, the same words).

With online adaptation, regions are answered one at a time, each by the
models adapted on the regions before it that the trained models accepted,
to the trained models' answers (:mod:`wordrec.core.online_adapt`): an
answer depends only on the audio before it, and not on how the stream was
cut into blocks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from wordrec.core import features, online_adapt
from wordrec.core.adapt import AdaptConfig
from wordrec.core.endpoint import Endpointer
from wordrec.core.openset import confidences
from wordrec.core.score import Ranked, rank, score
from wordrec.core.vad import MAX_SPAN, Region
from wordrec.errors import WordrecError
from wordrec.io import audio
from wordrec.jobs.adaptation import noting_adaptation
from wordrec.jobs.recognition import rejection_threshold


@dataclass(frozen=True)
class Segment:
    """One region of speech found in a stream or a take, and the words it may be.

    ``start_s`` and ``end_s`` (seconds from the start of the stream) say
    where the endpointer found speech; the audio recognised extends
    ``vad_margin`` beyond them on both sides.  ``ranked`` is None when the
    region is too short for every word model.  ``confidence`` is that of the
    best word (see :mod:`wordrec.core.openset`), None when the model has no
    calibration.
    """

    path: str
    start_s: float
    end_s: float
    ranked: Ranked | None
    n_frames: int
    confidence: float | None = None


def recognise_regions(models, name: str, rate: int, regions, nbest: int | None = 1,
                      new_voices: bool | None = None) -> list[tuple[Segment, np.ndarray | None]]:
    """Score regions found at ``rate`` Hz, all in one batch (confidences of the operating point ``new_voices``).

    Returns
    -------
    list of (Segment, features)
        In the order of ``regions``; the features ``(n_frames, n_features)``
        that were scored, None for a region too short to have any.
    """
    regions = list(regions)
    if not regions:
        return []
    cfg = models.features
    signals = [audio.resample(r.samples, rate, cfg.sample_rate) for r in regions]
    usable = [i for i, s in enumerate(signals) if len(s) > 0]
    feats = features.extract_many([signals[i] for i in usable], cfg)
    rows = score(models, feats) if feats else np.zeros((0, len(models.models)))
    conf = confidences(models, feats, rows, new_voices) if feats else None
    found = {k: (row, f, None if conf is None else float(conf[j])) for j, (k, row, f) in enumerate(zip(usable, rows, feats))}
    out = []
    for i, region in enumerate(regions):
        row, f, c = found.get(i, (None, None, None))
        ranked = rank(row, models.words, nbest) if row is not None else None
        if ranked is not None and not ranked.words:
            ranked, c = None, None
        n_frames = 0 if f is None else len(f)
        out.append((Segment(name, region.speech_start / rate, region.speech_end / rate, ranked, n_frames, c), f))
    return out


class Listening:
    """One stream being recognised: its endpointer, and its models (adapted as it goes, with ``adapt``).

    Parameters
    ----------
    models : ModelSet
        Its feature config gives the front end and the endpointer settings.
    name : str
        The stream's name in the segments (``path``) and in messages.
    nbest : int or None
        Words kept per segment (None: all).
    threshold : float, optional
        Confidence below which an answer is rejected; default the model's.
    reject : bool
        False accepts every answer.
    adapt : AdaptConfig, optional
        Adapt the models online to the answers accepted so far.
    new_voices : bool, optional
        The operating point (:func:`wordrec.core.openset.active_calibration`;
        None: the default).
    max_span : float
        Longest region in seconds (a sound that goes on is cut there).
    """

    def __init__(self, models, name: str = "stream", nbest: int | None = 1, threshold: float | None = None,
                 reject: bool = True, adapt: AdaptConfig | None = None, max_span: float = MAX_SPAN,
                 new_voices: bool | None = None):
        self.name, self.nbest, self.new_voices = str(name), nbest, new_voices
        self.threshold = rejection_threshold(models, threshold, reject, new_voices)
        self._adapt = adapt.validated() if adapt is not None else None
        self._max_span = max_span
        self._endpointer: Endpointer | None = None
        self.stopped = False
        self._start(models)

    def _start(self, models) -> None:
        self.trained = self._models = models
        self.statistics = online_adapt.start(models) if self._adapt is not None else None

    @property
    def models(self):
        """The models answering now: the trained ones, adapted with the answers so far with ``adapt``."""
        return self._models

    @models.setter
    def models(self, new) -> None:
        """Answer with other models from now on (adaptation starts again from them); same front end only."""
        if new.features != self.trained.features:
            raise WordrecError(f"{self.name}: the new models have another front end or endpointer settings")
        self._start(new)

    @property
    def rate(self) -> int | None:
        """The stream's sample rate in Hz (None before the first block)."""
        return None if self._endpointer is None else self._endpointer.rate

    @property
    def n_held(self) -> int:
        """Samples the endpointer holds now (bounded however long the stream)."""
        return 0 if self._endpointer is None else self._endpointer.n_held

    def push(self, samples, sample_rate: int) -> list[Region]:
        """Add samples, shape (n,) or (n, n_channels), to the stream; return the regions they finish (not scored)."""
        x = audio.block_of(samples, sample_rate, self.name)
        if self._endpointer is None:
            self._endpointer = Endpointer(int(sample_rate), self.trained.features, max_span=self._max_span)
        elif int(sample_rate) != self._endpointer.rate:
            raise WordrecError(f"{self.name}: the stream's rate changed from {self._endpointer.rate} Hz to {sample_rate} Hz")
        return self._endpointer.push(x)

    def end(self) -> list[Region]:
        """The end of the stream: the regions still open (a word cut off is still answered)."""
        return [] if self._endpointer is None else self._endpointer.flush()

    def recognise(self, regions: Iterable[Region], rate: int | None = None) -> list[Segment]:
        """Answer regions found at ``rate`` Hz (default: the stream's), in order.

        Without adaptation they are scored in one batch; with it, one at a
        time by the adapted models, and every region the trained models
        accept adapts the models (to the trained models' answer) for the next.
        """
        regions = list(regions)
        rate = int(rate or self.rate or 0)
        if self._adapt is None:
            return [seg for seg, _ in recognise_regions(self._models, self.name, rate, regions, self.nbest, self.new_voices)]
        out = []
        for region in regions:
            [(seg, feats)] = recognise_regions(self._models, self.name, rate, [region], self.nbest, self.new_voices)
            out.append(seg)
            # What adapts is the trained models' answer, if they accept it (as in the
            # first round of batch adaptation), never the adapted models' own: a word
            # adapted early would otherwise win other words' recordings and adapt on
            # them, ever faster (docs/listening.md, "Online adaptation").
            first = seg if self._models is self.trained else self._trained_answer(region, rate)
            if self.accepted(first):
                word = self.trained.words.index(first.ranked.best)
                self.statistics = online_adapt.add(self.trained, self.statistics, feats, word)
                self._models = online_adapt.adapted(self.trained, self.statistics, self._adapt.prior)
        return out

    def _trained_answer(self, region: Region, rate: int) -> Segment:
        return recognise_regions(self.trained, self.name, rate, [region], 1, self.new_voices)[0][0]

    def accepted(self, seg: Segment) -> bool:
        """Whether a segment is answered with its best word (not ``<unknown>``)."""
        return seg.ranked is not None and (seg.confidence is None or seg.confidence >= self.threshold)

    def feed(self, samples, sample_rate: int) -> list[Segment]:
        """Add a block of the stream; return the words it completes, in time order."""
        return self.recognise(self.push(samples, sample_rate))

    def flush(self) -> list[Segment]:
        """End of the stream: return the words still open."""
        return self.recognise(self.end())

    def adapted_models(self):
        """The models adapted so far, with the adaptation noted in ``training["adaptation"]``
        (``online``: true, ``recordings``: answers per word), ready to save; None without ``adapt``."""
        if self._adapt is None:
            return None
        used = dict(zip(self.trained.words, self.statistics.counts))
        return noting_adaptation(self._models, self._adapt, used, labelled=False, online=True)

    def run(self, source, guard=contextlib.nullcontext) -> Iterator[Segment]:
        """The words of a source (:mod:`wordrec.io.sources`), each as soon as it has ended.

        Until the source ends, fails, or Ctrl-C (KeyboardInterrupt, which
        sets ``stopped``); then the words still open are answered: what a
        microphone recorded before Ctrl-C, a word the end cut off.  A
        source's failure (WordrecError) is raised after them.

        ``guard()`` is held while a block is recognised and while the
        caller handles the words it yields (from the ``yield`` on), so that
        a caller can hold Ctrl-C back until a line is written whole; an
        interrupt raised when it is let go ends the stream as Ctrl-C does.
        """
        failure = None
        try:
            for block in source.blocks():
                with guard():
                    yield from self.feed(block, source.rate)
        except KeyboardInterrupt:
            self.stopped = True
        except WordrecError as exc:
            failure = exc
        try:
            with guard():
                for block in getattr(source, "remaining", list)():
                    yield from self.feed(block, source.rate)
                yield from self.flush()
        except KeyboardInterrupt:
            self.stopped = True
        if failure is not None:
            raise failure


def segment_blocks(listening: Listening, blocks: Iterable[np.ndarray], sample_rate: int,
                   batch: int = 32) -> Iterator[Segment]:
    """The words of a take's blocks, as a live stream's: regions scored in batches of up to ``batch``.

    This is ``recognize --segment``: the same endpointer and the same
    scoring as :meth:`Listening.run`, batched because a file need not be
    answered word by word (with adaptation, :meth:`Listening.recognise`
    still answers one region at a time).
    """
    pending: list = []
    for block in blocks:
        pending += listening.push(block, sample_rate)
        if len(pending) >= batch:
            yield from listening.recognise(pending)
            pending = []
    yield from listening.recognise(pending + listening.end())
