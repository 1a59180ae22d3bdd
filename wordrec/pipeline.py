"""The jobs the commands do, as functions: files in, models and results out.

This is where I/O (audio, corpus, model files) meets the numeric core.  A
bad file never stops a batch: it becomes a :class:`Failure` naming the file
and the problem, and the caller reports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wordrec import audio, corpus, features, vad
from wordrec.errors import WordrecError
from wordrec.features import FeatureConfig
from wordrec.parallel import ordered_map

# Files read and featurised together: at most this many (bounds memory on
# large corpora), at least the smaller number unless there are fewer files.
_CHUNK_FILES = 512
_MIN_CHUNK_FILES = 64


@dataclass(frozen=True)
class Failure:
    """A file that could not be used, and why (the message names the file)."""

    path: str
    message: str


def check_headers(items, rate: int | None = None) -> tuple[int, list, list[Failure]]:
    """Read the header of every ``(path, word)`` item; pick the sample rate to train at.

    Returns
    -------
    rate : int
        ``rate`` if given, else the lowest rate in the readable files (no
        recording is upsampled into a band it never had); the default
        front-end rate when no file is readable.
    readable : list of (path, word)
        The items whose headers read.
    failures : list of Failure
        The others, in order.
    """
    failures, rates, readable = [], [], []
    for p, word in items:
        try:
            rates.append(audio.info(p)[0])
            readable.append((p, word))
        except WordrecError as exc:
            failures.append(Failure(str(p), str(exc)))
    if rate is None:
        rate = min(rates) if rates else FeatureConfig.sample_rate
    return int(rate), readable, failures


def pick_rate(paths, rate: int | None = None) -> tuple[int, list[Failure]]:
    """The sample rate to train at: ``rate`` if given, else the lowest rate in the data.

    Returns the rate and the files whose headers could not be read; raises
    WordrecError when no file can be read and no rate is given.
    """
    rate_found, readable, failures = check_headers([(p, None) for p in paths], rate)
    if rate is None and not readable:
        raise WordrecError("no readable recordings")
    return rate_found, failures


def extract_files(paths, cfg: FeatureConfig, progress=None, labelled: bool = False, jobs: int = 1, noise=None):
    """Read and featurise files in chunks, in ``jobs`` worker processes.

    With ``labelled`` (training data, whose labels say a word is there), a
    recording in which endpointing finds no speech is kept whole instead of
    failing: the detector can miss a very quiet word, the label cannot.

    A path that is a folder stands for a folder in which no audio file was
    found (see :func:`wordrec.corpus.expand`) and fails as such.

    Parameters
    ----------
    noise : wordrec.augment.NoiseCopies, optional
        Recordings it picks (by their position in ``paths``) also give the
        features of a noisy copy, made after endpointing.

    Returns
    -------
    list, one per path
        A Failure, an ndarray (n_frames, n_features), or with ``noise`` a
        pair of them (the recording's, its noisy copy's) for the picked
        recordings.  The same for any ``jobs``.
    """
    paths = list(paths)
    # Chunks small enough to keep every worker busy, large enough that the
    # front end batches many recordings per FFT.
    size = max(_MIN_CHUNK_FILES, min(_CHUNK_FILES, -(-len(paths) // (4 * max(1, jobs)))))
    chunks = [(paths[a : a + size], a, cfg, labelled, noise) for a in range(0, len(paths), size)]

    def done(i: int) -> None:
        if progress:
            progress(len(chunks[i][0]))

    return [f for part in ordered_map(_extract_chunk, chunks, jobs, done) for f in part]


def _extract_chunk(task) -> list:
    """:func:`extract_files` on one chunk of paths, in this process."""
    paths, first, cfg, labelled, noise = task
    signals, slots = [], []
    for k, p in enumerate(paths):
        try:
            if corpus.is_folder(Path(p)):
                raise WordrecError(f"{p}: folder holds no audio files")
            signal, _ = audio.read(p, cfg.sample_rate)
            if len(signal) == 0:
                raise WordrecError(f"{p}: no samples left after resampling")
            if cfg.trim:
                trimmed = vad.trim(signal, cfg.sample_rate, cfg)
                if trimmed is None and not labelled:
                    raise WordrecError(f"{p}: no speech found")
                signal = signal if trimmed is None else trimmed
            copy = noise.copy(signal, first + k) if noise is not None else None
            slots.append(len(signals) if copy is None else (len(signals), len(signals) + 1))
            signals.extend([signal] if copy is None else [signal, copy])
        except WordrecError as exc:
            slots.append(Failure(str(p), str(exc)))
    feats = features.extract_many(signals, cfg)
    out = []
    for s in slots:
        if isinstance(s, Failure):
            out.append(s)
        elif isinstance(s, tuple):
            out.append((feats[s[0]], feats[s[1]]))
        else:
            out.append(feats[s])
    return out


def features_by_word(items, cfg: FeatureConfig, progress=None, words=None, jobs: int = 1,
                     noise=None) -> tuple[dict, list[Failure], dict]:
    """Featurise ``(path, word)`` items, grouped by word.

    Parameters
    ----------
    items : list of (path, word)
    cfg : FeatureConfig
    progress : callable, optional
        Called with the number of files done after each chunk.
    words : iterable of str, optional
        Every word of the corpus (default: those of ``items``).  A word
        left without a usable recording is reported as a failure, also
        when all its files were filtered out before this call.
    jobs : int
        Worker processes for reading and featurising.
    noise : wordrec.augment.NoiseCopies, optional
        Noisy copies to make (see :func:`extract_files`).

    Returns
    -------
    by_word : dict of str -> list of ndarray (n_frames, n_features)
        Empty when nothing was usable; the caller decides what that means.
    failures : list of Failure
        Unusable files, and words left with no usable recording.
    copies : dict of str -> list of ndarray
        The noisy copies' features, by word (empty without ``noise``).
    """
    feats = extract_files([p for p, _ in items], cfg, progress, labelled=True, jobs=jobs, noise=noise)
    by_word: dict = {}
    copies: dict = {}
    failures = []
    for (path, word), f in zip(items, feats):
        if isinstance(f, Failure):
            failures.append(f)
            continue
        clean, copy = f if isinstance(f, tuple) else (f, None)
        short = too_short_to_train(path, clean, cfg)
        if short:
            failures.append(short)
            continue
        by_word.setdefault(word, []).append(clean)
        if copy is not None:
            copies.setdefault(word, []).append(copy)
    wanted = set(words) if words is not None else {w for _, w in items}
    for word in sorted(wanted - set(by_word)):
        failures.append(Failure(word, f"word {word!r}: no usable recordings (word left out)"))
    return by_word, failures, copies


def min_training_frames(cfg: FeatureConfig) -> int:
    """Frames a training recording needs: the shortest sound the endpointer
    takes for speech (``vad_min_speech``).  A click of a few frames would
    give its word a model of one or two states that matches any short noise."""
    return max(1, int(np.ceil(cfg.vad_min_speech / cfg.win_step - 1e-9)))


def too_short_to_train(path, feats: np.ndarray, cfg: FeatureConfig) -> Failure | None:
    """A failure naming ``path`` if its features are too few frames to train on."""
    least = min_training_frames(cfg)
    if len(feats) >= least:
        return None
    return Failure(str(path), f"{path}: too short to train on ({len(feats)} frames; a word needs {least})")


def too_short(models, n_frames: int, word: str | None = None) -> str:
    """Why ``n_frames`` are too few for every word model (or for ``word``'s)."""
    if word is None:
        need = min(m.min_frames() for m in models.models)
        what = "to recognise", "the models need"
    else:
        need = models.models[models.words.index(word)].min_frames()
        what = f"for the model of {word!r}", "it needs"
    seconds = need * models.features.win_step
    return f"too short {what[0]} ({n_frames} frames; {what[1]} at least {need}, about {seconds:.2f} s)"


@dataclass(frozen=True)
class Answer:
    """The ranked words for one file, or why there are none.

    ``confidence`` is None when the model has no calibration; ``accepted``
    is False when the confidence is below the rejection threshold (the
    answer is then ``<unknown>``).
    """

    path: str
    ranked: object = None  # recognize.Ranked
    n_frames: int = 0
    failure: Failure | None = None
    confidence: float | None = None
    accepted: bool = True

    @property
    def word(self) -> str:
        from wordrec.confidence import UNKNOWN

        return self.ranked.best if self.accepted else UNKNOWN


def rejection_threshold(models, threshold: float | None = None, reject: bool = True) -> float:
    """The confidence below which an answer is ``<unknown>``: 0 (accept all)
    without ``reject`` or without a calibration, else ``threshold`` if given,
    else the model's calibrated one."""
    if not reject:
        return 0.0
    if threshold is not None:
        return threshold
    return models.calibration.threshold if models.calibration is not None else 0.0


def recognize_files(models, paths, nbest: int | None = None, progress=None,
                    threshold: float | None = None, reject: bool = True, adapt=None) -> list[Answer]:
    """Score every file against every word; one :class:`Answer` per path.

    Parameters
    ----------
    threshold : float, optional
        Confidence below which an answer is rejected; default: the model's
        calibrated threshold.
    reject : bool
        False accepts every answer (the confidence is still given).
    adapt : wordrec.adapt.AdaptConfig, optional
        Treat the files as one speaker's: adapt the models to them
        (:func:`wordrec.adapt.adapt_unsupervised`) and answer with the
        adapted models.
    """
    from wordrec.openset import confidences
    from wordrec.recognize import rank, score

    feats = extract_files(list(paths), models.features, progress)
    good = [i for i, f in enumerate(feats) if not isinstance(f, Failure)]
    good_feats = [feats[i] for i in good]
    scores = score(models, good_feats) if good else np.zeros((0, len(models.models)))
    conf = confidences(models, good_feats, scores) if good else None
    threshold = rejection_threshold(models, threshold, reject)
    if adapt is not None and good:
        models, scores, _ = _adapt_on_accepted(models, good_feats, scores, conf, threshold, adapt)
        conf = confidences(models, good_feats, scores)
    answers: list = [None] * len(feats)
    for i, f in enumerate(feats):
        if isinstance(f, Failure):
            answers[i] = Answer(str(paths[i]), failure=f)
    for k, (row, i) in enumerate(zip(scores, good)):
        ranked = rank(row, models.words, nbest)
        if not ranked.words:
            fail = Failure(str(paths[i]), f"{paths[i]}: {too_short(models, len(feats[i]))}")
            answers[i] = Answer(str(paths[i]), failure=fail)
            continue
        c = None if conf is None else float(conf[k])
        accepted = c is None or c >= threshold
        answers[i] = Answer(str(paths[i]), ranked, len(feats[i]), confidence=c, accepted=accepted)
    return answers


def _adapt_on_accepted(models, feats, scores, conf, threshold: float, cfg):
    """:func:`wordrec.adapt.adapt_unsupervised` on the answers the unadapted
    models accept (``conf >= threshold``; all when ``conf`` is None), so that
    unknown words and noise do not pull the models towards themselves."""
    from wordrec.adapt import adapt_unsupervised

    use = None if conf is None else conf >= threshold
    return adapt_unsupervised(models, feats, scores, cfg, use)


def evaluate_corpus(models, items, progress=None, adapt=None) -> tuple[dict, list[Failure]]:
    """Recognise labelled ``(path, word)`` items and summarise (``adapt``: as for :func:`recognize_files`).

    Returns the report of :func:`wordrec.evaluate.report` (labels: the
    model's words plus any true word it lacks) and the files that failed.
    """
    from wordrec.evaluate import report

    answers = recognize_files(models, [p for p, _ in items], 1, progress, adapt=adapt)
    ok = [(a, w) for a, (_, w) in zip(answers, items) if a.failure is None]
    failures = [a.failure for a in answers if a.failure is not None]
    truth = [w for _, w in ok]
    labels = list(models.words) + sorted(set(truth) - set(models.words))
    rep = report(truth, [a.ranked.best for a, _ in ok], labels, [a.path for a, _ in ok])
    rep["n_failed"] = len(failures)
    return rep, failures


def evaluate_open_set(models, items, oov_paths, progress=None, threshold: float | None = None,
                      adapt=None) -> tuple[dict, list[Failure]]:
    """In-vocabulary ``(path, word)`` items and out-of-vocabulary files, with rejection.

    With ``adapt``, all of them are one batch for :func:`recognize_files`.

    Returns
    -------
    report : dict
        The :func:`wordrec.evaluate.report` fields over all files, where OOV
        files have the truth ``<unknown>`` and rejected answers are
        ``<unknown>`` (so the confusion matrix has an ``<unknown>`` row and
        column), plus ``closed_set_accuracy`` (in-vocabulary, rejection
        ignored), ``false_rejection`` (in-vocabulary files answered
        ``<unknown>``), ``false_acceptance`` (OOV files given a word),
        ``threshold``, ``eer`` and ``points`` (the DET curve: false rejection
        and false acceptance at every threshold).
    failures : list of Failure
    """
    from wordrec.confidence import UNKNOWN, error_rates
    from wordrec.evaluate import report

    if models.calibration is None or models.background is None:
        what = "rejection calibration" if models.calibration is None else "background model, so no confidences"
        raise WordrecError(f"the model has no {what} (train it without --no-reject)")
    paths = [p for p, _ in items] + list(oov_paths)
    truth_all = [w for _, w in items] + [UNKNOWN] * len(oov_paths)
    answers = recognize_files(models, paths, 1, progress, threshold, adapt=adapt)
    failures = [a.failure for a in answers if a.failure is not None]
    ok = [(a, t) for a, t in zip(answers, truth_all) if a.failure is None]
    truth = [t for _, t in ok]
    labels = list(models.words) + sorted(set(truth) - set(models.words) - {UNKNOWN}) + [UNKNOWN]
    rep = report(truth, [a.word for a, _ in ok], labels, [a.path for a, _ in ok])
    inv = [(a, t) for a, t in ok if t != UNKNOWN]
    oov = [a for a, t in ok if t == UNKNOWN]
    # A rate over no recordings is unknown (null), not 0; so is the DET curve
    # without recordings on both sides.
    rates = error_rates([a.confidence for a, _ in inv], [a.confidence for a in oov]) if inv and oov else None
    rep.update(
        closed_set_accuracy=sum(a.ranked.best == t for a, t in inv) / len(inv) if inv else None,
        n_in_vocabulary=len(inv),
        n_out_of_vocabulary=len(oov),
        false_rejection=sum(not a.accepted for a, _ in inv) / len(inv) if inv else None,
        false_acceptance=sum(a.accepted for a in oov) / len(oov) if oov else None,
        threshold=rejection_threshold(models, threshold),
        eer=rates["eer"] if rates else None,
        points=rates["points"] if rates else [],
        n_failed=len(failures),
    )
    return rep, failures


def adaptation_features(models, items, progress=None, jobs: int = 1, labelled: bool = True) -> tuple[list, list, list[Failure]]:
    """Features of one speaker's recordings, for :func:`adapt_to_speaker` or :func:`adapt_to_voice`.

    Parameters
    ----------
    items : list of (path, word) with ``labelled``, else list of paths
        Labelled items whose word the models do not know are failures, and
        so are recordings without speech or too short for the model
        (of their word, if labelled).

    Returns
    -------
    feats : list of ndarray (n_frames, n_features)
    words : list of str (labelled) or None (unlabelled), one per feature array
    failures : list of Failure
    """
    if not labelled:
        items = [(p, None) for p in items]
    # Frames each word's model needs; None (unlabelled): the fewest any needs.
    need = {m.word: m.min_frames() for m in models.models}
    need[None] = min(need.values())
    failures = [Failure(str(p), f"{p}: word {w!r} is not one of the model's words") for p, w in items if w not in need]
    items = [(p, w) for p, w in items if w in need]
    # Recordings without speech fail here as they do in recognition: a
    # label does not make hiss worth adapting to.
    extracted = extract_files([p for p, _ in items], models.features, progress, jobs=jobs)
    feats, words = [], []
    for f, (p, w) in zip(extracted, items):
        if isinstance(f, Failure):
            failures.append(f)
        elif len(f) < need[w]:
            failures.append(Failure(str(p), f"{p}: {too_short(models, len(f), w)}"))
        else:
            feats.append(f)
            words.append(w)
    return feats, words, failures


def adapt_to_speaker(models, feats, words, cfg=None) -> tuple[object, dict]:
    """Adapt ``models`` to the speaker of labelled recordings (supervised MAP).

    Returns
    -------
    adapted : ModelSet
        With an entry appended to ``training["adaptation"]`` (see
        :func:`_noting_adaptation`).
    used : dict of str -> int
        Recordings each word was adapted on.
    """
    from wordrec.adapt import AdaptConfig, adapt_supervised

    cfg = (cfg or AdaptConfig()).validated()
    if not feats:
        raise WordrecError("none of the recordings is usable for adaptation; no model written")
    adapted = adapt_supervised(models, feats, words, cfg)
    used = {w: sum(1 for x in words if x == w) for w in models.words}
    return _noting_adaptation(adapted, cfg, used, labelled=True), used


def adapt_to_voice(models, feats, cfg=None) -> tuple[object, dict]:
    """Adapt ``models`` to the speaker of unlabelled recordings (unsupervised MAP).

    The recordings are recognised; those the models accept (all, without a
    calibration) adapt them, each to the word it was recognised as
    (:func:`wordrec.adapt.adapt_unsupervised`).  Returns as
    :func:`adapt_to_speaker`.
    """
    from wordrec.adapt import AdaptConfig
    from wordrec.openset import confidences
    from wordrec.recognize import score

    cfg = (cfg or AdaptConfig()).validated()
    if not feats:
        raise WordrecError("none of the recordings is usable for adaptation; no model written")
    scores = score(models, feats)
    conf = confidences(models, feats, scores)
    adapted, _, answers = _adapt_on_accepted(models, feats, scores, conf, rejection_threshold(models), cfg)
    used = {w: int(np.sum(answers == j)) for j, w in enumerate(models.words)}
    if not any(used.values()):
        raise WordrecError(
            f"the model recognised none of the {len(feats)} usable recordings confidently enough to adapt to them; "
            "no model written"
        )
    return _noting_adaptation(adapted, cfg, used, labelled=False), used


def _noting_adaptation(models, cfg, used: dict, labelled: bool):
    """``models`` with ``{prior, labelled, recordings}`` appended to ``training["adaptation"]``."""
    record = {"prior": cfg.prior, "labelled": labelled, "recordings": used}
    training = dict(models.training, adaptation=list(models.training.get("adaptation", [])) + [record])
    return dataclasses.replace(models, training=training)
