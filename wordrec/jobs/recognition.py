"""Recognition of single-word recordings: files in, one answer per file.

Every file is read, trimmed and featurised (:mod:`wordrec.jobs.featurise`),
scored against every word, and given a confidence; below the rejection
threshold the answer is ``<unknown>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core.adapt import adapt_unsupervised
from wordrec.core.labels import SILENCE, UNKNOWN
from wordrec.core.openset import confidences, threshold_of
from wordrec.core.score import prepared, rank, score
from wordrec.io.items import let_go, spilled
from wordrec.jobs.featurise import Failure, Silence, extract_files, too_short
from wordrec.jobs.parallel import Lazy, ordered_iter


@dataclass(frozen=True)
class Answer:
    """The ranked words for one file, or why there are none.

    ``confidence`` is None when the model has no calibration; ``accepted``
    is False when the confidence is below the rejection threshold (the
    answer is then ``<unknown>``).  ``silent``: the recording holds no
    speech (the answer is ``<silence>``; nothing was scored).
    """

    path: str
    ranked: object = None  # recognize.Ranked
    n_frames: int = 0
    failure: Failure | None = None
    confidence: float | None = None
    accepted: bool = True
    note: str | None = None
    silent: bool = False

    @property
    def word(self) -> str:
        if self.silent:
            return SILENCE
        return self.ranked.best if self.accepted else UNKNOWN


#: A recording this many times longer than the longest word (on average, in
#: training) and over a second is taken for several words: a hint at --segment.
LONG_FACTOR = 3.0


def longest_word_frames(models) -> float | None:
    """Frames of the longest word on average over its training recordings (None if not recorded)."""
    lengths = [
        d["n_frames"] / (d["n_recordings"] + d.get("n_noisy_copies", 0))
        for d in models.diagnostics.get("words", {}).values()
        if isinstance(d, dict) and d.get("n_recordings", 0) + d.get("n_noisy_copies", 0) > 0 and "n_frames" in d
    ]
    return max(lengths) if lengths else None


def length_note(models, path, n_frames: int, longest: float | None = None) -> str | None:
    """A hint when a recording is far longer than any word the model knows, or None
    (``longest``: :func:`longest_word_frames` of ``models``, if known)."""
    longest = longest_word_frames(models) if longest is None else longest
    step = models.features.win_step
    if longest is None or n_frames < LONG_FACTOR * longest or n_frames * step < 1.0:
        return None
    return (
        f"{path}: {n_frames * step:.1f} s of sound, far longer than any word of the model (the longest "
        f"averages {longest * step:.1f} s); for a recording of several words use --segment"
    )


def rejection_threshold(models, threshold: float | None = None, reject: bool = True,
                        new_voices: bool | None = None) -> float:
    """The confidence below which an answer is ``<unknown>``: 0 (accept all)
    without ``reject`` or without a calibration, else ``threshold`` if given,
    else the calibrated one of the operating point (``new_voices``: see
    :func:`wordrec.core.openset.active_calibration`)."""
    if not reject:
        return 0.0
    if threshold is not None:
        return threshold
    return threshold_of(models, new_voices)


def recognize_files(models, paths, nbest: int | None = None, progress=None, threshold: float | None = None,
                    reject: bool = True, adapt=None, new_voices: bool | None = None, jobs: int = 1) -> list[Answer]:
    """Score every file against every word; one :class:`Answer` per path.

    Parameters
    ----------
    threshold : float, optional
        Confidence below which an answer is rejected; default: the model's
        calibrated threshold.
    reject : bool
        False accepts every answer (the confidence is still given).
    adapt : wordrec.core.adapt.AdaptConfig, optional
        Treat the files as one speaker's: adapt the models to them
        (:func:`wordrec.core.adapt.adapt_unsupervised`) and answer with the
        adapted models.  The files are then one batch, held in memory.
    new_voices : bool, optional
        Answer with the model's calibration for voices unlike the training
        ones (True) or like them (False); None: the default operating point
        (:func:`wordrec.core.openset.active_calibration`).
    jobs : int
        Worker processes (without ``adapt``); the answers do not depend on it.
    """
    if adapt is None:
        return list(recognize_stream(models, paths, nbest, progress, threshold, reject, new_voices, jobs))
    return _answers(models, models, list(paths), nbest, threshold, reject, new_voices, progress, adapt)


#: Files recognised per task: the unit of work of a worker, and what bounds
#: the features held at once.
BLOCK_FILES = 256
# In a worker (or this process): the models and their prepared scorer.
_STATE: dict = {}


def _set_models(models) -> None:
    _STATE["models"], _STATE["scorer"] = models, prepared(models)


def _recognize_block(task) -> list:
    paths, nbest, threshold, reject, new_voices = task
    return _answers(_STATE["models"], _STATE["scorer"], paths, nbest, threshold, reject, new_voices)


def recognize_stream(models, paths, nbest: int | None = None, progress=None, threshold: float | None = None,
                     reject: bool = True, new_voices: bool | None = None, jobs: int = 1):
    """:func:`recognize_files` without adaptation, as a generator: answers in order, as they are ready.

    Files go in blocks of ``BLOCK_FILES`` to ``jobs`` worker processes, so
    that memory stays bounded however many files there are; ``progress``
    is called with the number of files after each block.
    """
    if not (hasattr(paths, "__len__") and hasattr(paths, "__getitem__")):
        paths = list(paths)
    paths = spilled(paths)  # compact paths (wordrec.io.items) are let go of as the blocks go out
    blocks = Lazy(-(-len(paths) // BLOCK_FILES),
                  lambda k: (list(paths[k * BLOCK_FILES : (k + 1) * BLOCK_FILES]), nbest, threshold, reject, new_voices))
    try:
        for k, answers in enumerate(ordered_iter(_recognize_block, blocks, jobs, _set_models, (models,))):
            let_go(paths, k, 64)
            if progress:
                progress(len(answers))
            yield from answers
    finally:
        _STATE.clear()


def _answers(models, scorer, paths, nbest, threshold, reject, new_voices=None, progress=None,
             adapt=None) -> list[Answer]:
    """The answers for ``paths`` as one batch (``scorer``: ``models`` or their :class:`Scorer`)."""
    feats = extract_files(list(paths), models.features, progress, silence=True)
    good = [i for i, f in enumerate(feats) if not isinstance(f, (Failure, Silence))]
    good_feats = [feats[i] for i in good]
    scores = score(scorer, good_feats) if good else np.zeros((0, len(models.models)))
    conf = confidences(models, good_feats, scores, new_voices) if good else None
    threshold = rejection_threshold(models, threshold, reject, new_voices)
    if adapt is not None and good:
        models, scores, _ = adapt_on_accepted(models, good_feats, scores, conf, threshold, adapt)
        conf = confidences(models, good_feats, scores, new_voices)
    answers: list = [None] * len(feats)
    for i, f in enumerate(feats):
        if isinstance(f, Failure):
            answers[i] = Answer(str(paths[i]), failure=f)
        elif isinstance(f, Silence):
            answers[i] = Answer(str(paths[i]), accepted=False, silent=True)
    longest = longest_word_frames(models)
    for k, (row, i) in enumerate(zip(scores, good)):
        ranked = rank(row, models.words, nbest)
        if not ranked.words:
            fail = Failure(str(paths[i]), f"{paths[i]}: {too_short(models, len(feats[i]))}")
            answers[i] = Answer(str(paths[i]), failure=fail)
            continue
        c = None if conf is None else float(conf[k])
        accepted = c is None or c >= threshold
        note = length_note(models, paths[i], len(feats[i]), longest)
        answers[i] = Answer(str(paths[i]), ranked, len(feats[i]), confidence=c, accepted=accepted, note=note)
    return answers


def adapt_on_accepted(models, feats, scores, conf, threshold: float, cfg):
    """:func:`wordrec.core.adapt.adapt_unsupervised` on the answers the unadapted
    models accept (``conf >= threshold``; all when ``conf`` is None), so that
    unknown words and noise do not pull the models towards themselves."""
    use = None if conf is None else conf >= threshold
    return adapt_unsupervised(models, feats, scores, cfg, use)
