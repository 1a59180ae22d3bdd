"""Training jobs: word models for many words (and several model sets) in one pool of workers, with calibration.

Each word's EM (:func:`wordrec.core.train.fit_word`) depends on its own
recordings only, so words run in worker processes and the result is the same
for any number of them.  :func:`train_with_rejection` trains the final word
models, the background model and the calibration folds' models in one pool
(largest first, so that both cores stay busy to the end), then scores the
held-out folds (one worker each) and calibrates the confidence on them
(:mod:`wordrec.core.calibration`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core import calibration as calib
from wordrec.core import confusable
from wordrec.core.augment import NoiseCopies
from wordrec.core.features import FeatureConfig
from wordrec.core.model import ModelSet
from wordrec.core.openset import (
    BACKGROUND_MIX,
    CALIBRATION_ITERS,
    SPEAKER_WARP,
    background_problem,
    held_out_folds,
)
from wordrec.core.train import (
    TrainConfig,
    fit_word,
    mixture_schedule,
    outlier_component,
)
from wordrec.errors import WordrecError
from wordrec.io.caps import check_planned
from wordrec.io.items import spilled
from wordrec.jobs.corpus_cache import features_by_word as cached_features_by_word
from wordrec.jobs.corpus_cache import headers
from wordrec.jobs.events import QUIET, Events
from wordrec.jobs.negatives import is_negative, negative_features, take_negatives
from wordrec.jobs.parallel import ordered_map
from wordrec.jobs.refs_file import in_memory
from wordrec.jobs.store import (
    MOMENT_FRAMES,
    FeatureCache,
    chunk_sums,
    frames_of,
    from_sums,
    joined,
    moment_chunks,
)
from wordrec.jobs.store import steady_floor as stored_steady_floor


def _fit_job(args):
    word, seqs, cfg, floor = args
    return fit_word(word, in_memory(seqs), cfg, floor)  # a word's references on disk are read here, in its worker


def fit_all(by_word: dict, features, cfg: TrainConfig, jobs: int = 1, progress=None, copies: dict | None = None) -> ModelSet:
    """Train every word; words run in parallel processes when ``jobs > 1``.

    Parameters
    ----------
    by_word : dict of str -> list of ndarray (n_frames, n_features)
    features : FeatureConfig
    cfg : TrainConfig
    jobs : int
        Worker processes.  The result is the same for any value.
    progress : callable, optional
        Called with the word after each word is trained.
    copies : dict of str -> list of ndarray, optional
        Noisy copies of recordings (:mod:`wordrec.core.augment`), trained on
        after each word's recordings.

    Returns
    -------
    ModelSet
    """
    return with_copies_noted(fit_sets([(merged(by_word, copies), cfg)], features, jobs, progress)[0], copies)


def merged(by_word: dict, copies: dict | None) -> dict:
    """Each word's recordings followed by its noisy copies."""
    return {w: joined([v, (copies or {}).get(w, [])]) for w, v in by_word.items()}


def with_copies_noted(models: ModelSet, copies: dict | None) -> ModelSet:
    """Diagnostics that count a word's recordings and its noisy copies apart."""
    for w, d in models.diagnostics["words"].items():
        n = len((copies or {}).get(w, []))
        d["n_recordings"] -= n
        d["n_noisy_copies"] = n
    return models


def fit_sets(problems, features, jobs: int = 1, progress=None) -> list[ModelSet]:
    """Train several independent sets of word models, all words in one pool.

    One pool keeps both cores busy across sets (the last word of one set
    need not finish before the next set starts).  Each set is exactly what
    :func:`fit_all` makes of it alone.

    Parameters
    ----------
    problems : list of (by_word, TrainConfig)
        ``by_word`` maps each word to its feature arrays (n_frames, n_features).
    features : FeatureConfig
    jobs : int
        Worker processes.  The result is the same for any value.
    progress : callable, optional
        Called with the word after each word of any set is trained.

    Returns
    -------
    list of ModelSet, one per problem
    """
    tasks = []  # (set index, word, fit_word arguments)
    sets = []  # per problem: (words, validated settings, outlier component)
    for by_word, _ in problems:
        if not by_word:
            raise WordrecError("nothing to train: no words with usable recordings")
    all_moments = problem_moments([joined(by_word[w] for w in sorted(by_word)) for by_word, _ in problems], jobs)
    for k, ((by_word, cfg), (mean, variance)) in enumerate(zip(problems, all_moments)):
        cfg = cfg.validated()
        words = sorted(by_word)
        floor = cfg.var_floor * variance
        sets.append((words, cfg, outlier_component(mean, variance, cfg)))
        tasks.extend((k, w, (w, by_word[w], cfg, floor)) for w in words)
    # The costliest first, so that no long word is left running alone at
    # the end; the order changes no result.
    tasks.sort(key=lambda t: -_cost(t[2][1], t[2][2]))
    def done(i: int) -> None:
        if progress:
            progress(tasks[i][1])

    outs = ordered_map(_fit_job, [t[2] for t in tasks], jobs, done)
    results = {(k, w): out for (k, w, _), out in zip(tasks, outs)}
    return [
        ModelSet(
            features,
            tuple(results[k, w][0] for w in words),
            {"config": cfg.to_dict()},
            {"words": {w: results[k, w][1] for w in words}},
            outlier=outlier,
        )
        for k, (words, cfg, outlier) in enumerate(sets)
    ]


#: Below this many blocks of frames in all, the moments are summed here, without a pool.
_POOL_BLOCKS = 8


def problem_moments(seq_lists, jobs: int = 1, block_frames: int = MOMENT_FRAMES) -> list:
    """:func:`wordrec.core.train.frame_moments` of each list of recordings, the blocks summed in ``jobs`` workers.

    The frames are read by the workers ``block_frames`` at a time
    (recordings may be :class:`~wordrec.jobs.store.Ref` objects), so that no
    process holds a corpus's features.  The same numbers as
    ``frame_moments`` when a list's frames fit one block; beyond, the blocks
    are fixed and their sums added in order, so the numbers do not depend
    on ``jobs``.
    """
    cut = [moment_chunks(seqs, block_frames) for seqs in seq_lists]
    tasks = [c for chunks in cut for c in chunks]
    sums = iter(ordered_map(chunk_sums, tasks, jobs if len(tasks) > _POOL_BLOCKS else 1))
    return [from_sums([next(sums) for _ in chunks]) for chunks in cut]


def _cost(seqs, cfg: TrainConfig) -> float:
    """A rough measure of a word's EM work, for scheduling only."""
    return float(frames_of(seqs)) * cfg.n_states * cfg.n_mix * cfg.max_iter * len(mixture_schedule(cfg.n_mix))


#: Held-out recordings scored per task in calibration.
EVIDENCE_CHUNK = 2048


def held_out_evidence(fold_models, fold_tests, background, features, negatives=(), speaker_warp: float = 0.0,
                      jobs: int = 1) -> tuple[calib.HeldOut, np.ndarray | None]:
    """:func:`wordrec.core.calibration.fold_held_out` of every fold, in chunks of recordings, one worker process each.

    ``negatives`` are dealt to the folds in turn (each is scored once), and
    a fold's share to its chunks in turn.  A fold of at most
    ``EVIDENCE_CHUNK`` recordings (and negatives) is one chunk; larger ones
    are cut so that a fold's features need not fit in memory (its
    impostors are then spliced within each chunk; chunks beyond the
    recordings hold negatives only).

    Returns
    -------
    held_out : HeldOut
        Pooled over the folds.
    near : ndarray of int, shape (n_words, n_words), or None without folds
        Summed over the folds.
    """
    negatives = list(negatives)
    n = len(fold_models)
    tasks = []
    for k, (m, test) in enumerate(zip(fold_models, fold_tests)):
        mine = negatives[k::n]
        chunks = max(1, -(-len(test) // EVIDENCE_CHUNK), -(-len(mine) // EVIDENCE_CHUNK))
        for c in range(chunks):
            # Every other recording of a chunk is warped up, the rest down: chunks start at even places.
            part = test[c * EVIDENCE_CHUNK : (c + 1) * EVIDENCE_CHUNK]
            tasks.append((m, part, background, features, mine[c::chunks], speaker_warp, k + n * c))
    parts = ordered_map(_fold_job, tasks, jobs)
    near = sum(p[1] for p in parts) if parts else None
    return calib.HeldOut.pooled([p[0] for p in parts]), near


def _fold_job(task):
    return calib.fold_held_out(*task)


def train_with_rejection(by_word: dict, features_cfg, cfg: TrainConfig, false_rejection: float = calib.FALSE_REJECTION,
                         folds: int | None = None, jobs: int = 1, progress=None, copies: dict | None = None,
                         speaker_warp: float = SPEAKER_WARP, negatives=()) -> ModelSet:
    """Word models for ``by_word`` with a background model and a calibrated rejection threshold.

    Trains, in one pool: the word models on all recordings, the background
    model, and per held-out fold word models on the other folds.  The fold
    models only need to score like the final ones, not to match them: they
    get at most ``CALIBRATION_ITERS`` EM iterations per mixture size, which
    cuts the cost of calibrating by two thirds; and a word's recordings beyond
    ``calibration.CALIBRATION_RECORDINGS`` are sampled for the folds (a
    large corpus then calibrates at a bounded cost).  The background model is the
    final one, trained on a sample of all recordings and the negatives: it
    models generic speech, and refitting it per fold changed nothing
    measurable (docs/rejection.md).

    Parameters
    ----------
    folds : int, optional
        Default :func:`wordrec.core.calibration.fold_count`.
    copies : dict of str -> list of ndarray, optional
        Noisy copies of recordings, by word: the final word models' training
        data only.
    speaker_warp : float
        > 0 also fits the new-voices calibration (:mod:`wordrec.core.calibration`).
    negatives : sequence of ndarray (n_frames, n_features)
        Recordings of no word (``_unknown_``, ``_background_noise_``):
        unknown examples for the calibration and part of the background
        model's training data.  (A one-word vocabulary's background model of
        that word alone fits other words worse than the word's own model
        does, and its llr then says "known" for them.)

    Returns
    -------
    ModelSet
        The same for any ``jobs``.  ``progress`` is called with the word
        after each model of any kind is trained.  Its
        ``diagnostics["held_out"]`` records which words came close to each
        other on the held-out recordings (:mod:`wordrec.core.confusable`).
        With too little held-out data its calibration rejects nothing and
        has no expected rates (:func:`wordrec.core.calibration.accept_all`).
    """
    fold_cfg = dataclasses.replace(cfg, max_iter=min(cfg.max_iter, CALIBRATION_ITERS))
    sample = calib.calibration_sample(by_word, calib.CALIBRATION_RECORDINGS)
    splits = held_out_folds(sample, folds or calib.fold_count(by_word))
    generic = dict(by_word, **({"<negatives>": list(negatives)} if len(negatives) else {}))
    problems = [(merged(by_word, copies), cfg), background_problem(generic, cfg)]
    problems += [(train, fold_cfg) for train, _ in splits]
    models, background_set, *fold_models = fit_sets(problems, features_cfg, jobs, progress)
    models = with_copies_noted(models, copies)
    background = background_set.models[0]
    data, near = held_out_evidence(fold_models, [test for _, test in splits], background, features_cfg,
                                   negatives, speaker_warp, jobs)
    fitted = calib.calibrate_both(data, false_rejection, speaker_warp)
    # The steady-sound floor means nothing under variance normalisation (0: off).
    floor = 0.0 if features_cfg.var_norm else stored_steady_floor(
        joined(by_word[w] for w in sorted(by_word)), features_cfg.n_ceps
    )
    shared = dict(min_variation=floor, background_outlier=True)
    # The default calibration is fitted on the recordings as they are (speaker_warp 0); the new-voices one says its warp.
    calibration = dataclasses.replace(fitted or calib.accept_all(false_rejection), **shared)
    if calibration.new_voices is not None:
        calibration = dataclasses.replace(calibration, new_voices=dataclasses.replace(calibration.new_voices, **shared))
    if near is not None:  # which words came close to each other on held-out recordings
        models = dataclasses.replace(
            models, diagnostics={**models.diagnostics, confusable.FIELD: confusable.record(near, sorted(by_word))}
        )
    return dataclasses.replace(models, background=background, calibration=calibration)


def n_models(by_word: dict, folds: int | None = None) -> int:
    """How many models :func:`train_with_rejection` trains (for a progress bar)."""
    sample = calib.calibration_sample(by_word, calib.CALIBRATION_RECORDINGS)
    return len(by_word) * (1 + len(held_out_folds(sample, folds or calib.fold_count(by_word)))) + 1


def train_corpus(items, words, train_cfg: TrainConfig, *, sample_rate: int | None = None, trim: bool = True,
                 reject: bool = True, false_rejection: float = calib.FALSE_REJECTION,
                 speaker_warp: float = SPEAKER_WARP, negatives=(), jobs: int = 1, events: Events = QUIET,
                 name: str = "the data", cache: str | None = None) -> tuple[ModelSet, list]:
    """Everything ``wordrec train`` does between finding the recordings and saving the model.

    Parameters
    ----------
    items : list of (path, word)
        Words named like ``_unknown_`` (:func:`wordrec.jobs.negatives.is_negative`)
        are negatives: recordings of no word.
    words : list of str
        Every word of the corpus: one left without a usable recording is
        reported, also when all its files were passed over before.
    train_cfg : TrainConfig
    sample_rate : int, optional
        Hz; default the lowest rate in the data.
    trim : bool
        Cut leading and trailing non-speech (here and in recognition).
    reject : bool
        Train a background model and calibrate the rejection threshold.
    false_rejection, speaker_warp : float
        See :func:`train_with_rejection`.
    negatives : sequence of paths or :class:`wordrec.io.audio.Samples`
        More recordings of no word (``train --negatives DIR``).
    jobs : int
        Worker processes; the model does not depend on it.
    events : Events
        Told of the stages, progress, every unusable recording as it happens,
        and what the calibration could not do (``warn``).
    name : str
        What the data is called in the error raised when nothing is usable.
    cache : str, optional
        Folder in which to keep the features while training (a scratch
        folder inside it, removed at the end); default the system's
        temporary folder.  Memory then does not grow with the corpus.

    Returns
    -------
    models : ModelSet
    failures : list of Failure
        Every unusable recording, and every word left out.
    """
    # Before any file is read: a model the file format would refuse is not trained.
    check_planned(len(set(words)), train_cfg.n_states, train_cfg.n_mix, FeatureConfig().n_features,
                  train_cfg.topology, BACKGROUND_MIX if reject else None)
    # While the workers featurise and train, this process holds none of the corpus's paths.
    rate, usable, unreadable = headers(spilled(items, cache), sample_rate, jobs)
    usable = spilled(usable, cache)
    for f in unreadable:
        events.failed(f)
    feature_cfg = FeatureConfig.for_rate(rate, trim=trim)
    with FeatureCache(cache) as store:
        return _train_cached(usable, words, feature_cfg, train_cfg, store.path, reject, false_rejection,
                             speaker_warp, negatives, jobs, events, name, len(items), unreadable)


def _train_cached(usable, words, feature_cfg, train_cfg, folder, reject, false_rejection, speaker_warp, negatives,
                  jobs, events, name, n_items, unreadable):
    """:func:`train_corpus` from the readable items on, with the features in ``folder``."""
    events.stage("Features", len(usable))
    by_word, failures, copies = cached_features_by_word(
        usable, feature_cfg, folder, events.advance, words=words, jobs=jobs, noise=NoiseCopies.of(train_cfg)
    )
    negative = take_negatives(by_word, copies, feature_cfg)
    failures = [f for f in failures if not is_negative(f.path)]  # an empty _unknown_/ leaves no word out
    if len(negatives):
        events.stage("Negatives", len(negatives))
        more, unusable = negative_features(negatives, feature_cfg, events.advance, jobs)
        negative += more
        failures += unusable
    for f in failures:
        events.failed(f)
    if not by_word and negative:
        raise WordrecError(f"{name}: holds only negatives (folders like _unknown_/), no word to train; no model written")
    if not by_word:
        raise WordrecError(f"{name}: none of its {n_items} recordings is usable (see above); no model written")
    if reject:
        events.stage("Training and calibrating", n_models(by_word))
        models = train_with_rejection(
            by_word, feature_cfg, train_cfg, false_rejection, jobs=jobs, progress=lambda word: events.advance(1),
            copies=copies, speaker_warp=speaker_warp, negatives=negative,
        )
        calibrated = models.calibration if models.calibration.expected_false_rejection is not None else None
        for line in calib.warnings(by_word, calibrated, len(negative)):
            events.warn(line)
    else:
        if negative:
            events.warn("the negatives (folders like _unknown_/) are left unused: without rejection nothing uses them")
        events.stage("Training", len(by_word))
        models = fit_all(by_word, feature_cfg, train_cfg, jobs=jobs, progress=lambda word: events.advance(1), copies=copies)
    return models, unreadable + failures
