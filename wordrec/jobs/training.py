"""Training jobs: word models for many words (and several model sets) in one pool of workers, with calibration.

Each word's EM (:func:`wordrec.core.train.fit_word`) depends on its own
recordings only, so words run in worker processes and the result is the same
for any number of them.  :func:`train_with_rejection` trains the final word
models, the background model and the calibration folds' models in one pool
(largest first, so that both cores stay busy to the end), then calibrates
the confidence on the held-out folds.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core import confusable
from wordrec.core.augment import NoiseCopies
from wordrec.core.confidence import calibrate
from wordrec.core.features import FeatureConfig
from wordrec.core.model import ModelSet
from wordrec.core.openset import (
    BACKGROUND_MIX,
    CALIBRATION_ITERS,
    SPEAKER_WARP,
    background_problem,
    fold_evidence,
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
from wordrec.jobs.events import QUIET, Events
from wordrec.jobs.corpus_cache import features_by_word as cached_features_by_word
from wordrec.jobs.corpus_cache import headers
from wordrec.jobs.parallel import ordered_map
from wordrec.jobs.store import FeatureCache, moments
from wordrec.jobs.store import steady_floor as stored_steady_floor


def _fit_job(args):
    word, seqs, cfg, floor = args
    return fit_word(word, seqs, cfg, floor)


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
    return {w: list(v) + list((copies or {}).get(w, [])) for w, v in by_word.items()}


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
    for k, (by_word, cfg) in enumerate(problems):
        cfg = cfg.validated()
        words = sorted(by_word)
        if not words:
            raise WordrecError("nothing to train: no words with usable recordings")
        mean, variance = moments(s for w in words for s in by_word[w])
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


def _cost(seqs, cfg: TrainConfig) -> float:
    """A rough measure of a word's EM work, for scheduling only."""
    frames = sum(len(s) for s in seqs)
    return float(frames) * cfg.n_states * cfg.n_mix * cfg.max_iter * len(mixture_schedule(cfg.n_mix))


#: Held-out recordings scored per task in calibration (even).
EVIDENCE_CHUNK = 2048


def held_out_evidence(fold_models, fold_tests, background, jobs: int = 1, speaker_warp: float = 0.0):
    """:func:`wordrec.core.openset.fold_evidence` of every fold, one worker process each.

    Returns
    -------
    in_vocabulary, out_of_vocabulary : ndarray, each shape (n, 2)
        Pooled over the folds.
    """
    return _held_out(fold_models, fold_tests, background, jobs, speaker_warp)[:2]


def _held_out(fold_models, fold_tests, background, jobs: int = 1, speaker_warp: float = 0.0):
    """:func:`held_out_evidence`, and the near counts of :func:`wordrec.core.confusable.near_counts`
    summed over the folds (None without folds)."""
    # In chunks of recordings (an even number, so that every other one is
    # still warped up), so that a fold's features need not fit in memory.
    tasks = [
        (models, test[a : a + EVIDENCE_CHUNK], background, speaker_warp)
        for models, test in zip(fold_models, fold_tests)
        for a in range(0, len(test), EVIDENCE_CHUNK)
    ]
    parts = ordered_map(_fold_evidence, tasks, jobs)
    if not parts:
        return np.zeros((0, 2)), np.zeros((0, 2)), None
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts]), sum(p[2] for p in parts)


def _fold_evidence(task):
    return fold_evidence(*task)


def train_with_rejection(by_word: dict, features_cfg, cfg: TrainConfig, false_rejection: float = 0.02,
                         folds: int = 2, jobs: int = 1, progress=None, copies: dict | None = None,
                         speaker_warp: float = SPEAKER_WARP):
    """Word models for ``by_word`` with a background model and a calibrated rejection threshold.

    Trains, in one pool: the word models on all recordings, the background
    model, and per held-out fold word models on the other folds.  The fold
    models only need to score like the final ones, not to match them: they
    get at most ``CALIBRATION_ITERS`` EM iterations per mixture size, which
    cuts the cost of calibrating by two thirds.  The background model is the
    final one, trained on a sample of all recordings: it models generic
    speech, and refitting it per fold changed nothing measurable
    (docs/rejection.md).

    ``copies`` (noisy copies of recordings, by word) join the final word
    models' training data only.  ``speaker_warp``: see
    :func:`held_out_evidence`.

    Returns
    -------
    ModelSet
        The same for any ``jobs``.  ``progress`` is called with the word
        after each model of any kind is trained.  Its
        ``diagnostics["held_out"]`` records which words came close to each
        other on the held-out recordings (:mod:`wordrec.core.confusable`).
    """
    fold_cfg = dataclasses.replace(cfg, max_iter=min(cfg.max_iter, CALIBRATION_ITERS))
    splits = held_out_folds(by_word, folds)
    problems = [(merged(by_word, copies), cfg), background_problem(by_word, cfg)]
    problems += [(train, fold_cfg) for train, _ in splits]
    models, background_set, *fold_models = fit_sets(problems, features_cfg, jobs, progress)
    models = with_copies_noted(models, copies)
    background = background_set.models[0]
    ev_in, ev_out, near = _held_out(fold_models, [test for _, test in splits], background, jobs, speaker_warp)
    # The steady-sound floor means nothing under variance normalisation (0: off).
    floor = 0.0 if features_cfg.var_norm else stored_steady_floor(
        [s for w in sorted(by_word) for s in by_word[w]], features_cfg.n_ceps
    )
    calibration = dataclasses.replace(
        calibrate(ev_in, ev_out, false_rejection), min_variation=floor, speaker_warp=speaker_warp, background_outlier=True
    )
    if near is not None:  # which words came close to each other on held-out recordings
        held_out = confusable.record(near, sorted(by_word), *confusable.held_out_rates(calibration, ev_in, ev_out))
        models = dataclasses.replace(models, diagnostics={**models.diagnostics, confusable.FIELD: held_out})
    return dataclasses.replace(models, background=background, calibration=calibration)


def n_models(by_word: dict, folds: int = 2) -> int:
    """How many models :func:`train_with_rejection` trains (for a progress bar)."""
    return len(by_word) * (1 + len(held_out_folds(by_word, folds))) + 1




def train_corpus(items, words, train_cfg: TrainConfig, *, sample_rate: int | None = None, trim: bool = True,
                 reject: bool = True, false_rejection: float = 0.02, speaker_warp: float = SPEAKER_WARP,
                 jobs: int = 1, events: Events = QUIET, name: str = "the data",
                 cache: str | None = None) -> tuple[ModelSet, list]:
    """Everything ``wordrec train`` does between finding the recordings and saving the model.

    Parameters
    ----------
    items : list of (path, word)
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
    jobs : int
        Worker processes; the model does not depend on it.
    events : Events
        Told of the stages, progress and every unusable recording as it happens.
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
    rate, usable, unreadable = headers(items, sample_rate, jobs)
    for f in unreadable:
        events.failed(f)
    feature_cfg = FeatureConfig.for_rate(rate, trim=trim)
    with FeatureCache(cache) as store:
        return _train_cached(usable, words, feature_cfg, train_cfg, store.path, reject, false_rejection,
                             speaker_warp, jobs, events, name, len(items), unreadable)


def _train_cached(usable, words, feature_cfg, train_cfg, folder, reject, false_rejection, speaker_warp, jobs,
                  events, name, n_items, unreadable):
    """:func:`train_corpus` from the readable items on, with the features in ``folder``."""
    events.stage("Features", len(usable))
    by_word, failures, copies = cached_features_by_word(
        usable, feature_cfg, folder, events.advance, words=words, jobs=jobs, noise=NoiseCopies.of(train_cfg)
    )
    for f in failures:
        events.failed(f)
    if not by_word:
        raise WordrecError(f"{name}: none of its {n_items} recordings is usable (see above); no model written")
    if reject:
        events.stage("Training and calibrating", n_models(by_word))
        models = train_with_rejection(
            by_word, feature_cfg, train_cfg, false_rejection, jobs=jobs, progress=lambda word: events.advance(1),
            copies=copies, speaker_warp=speaker_warp,
        )
    else:
        events.stage("Training", len(by_word))
        models = fit_all(by_word, feature_cfg, train_cfg, jobs=jobs, progress=lambda word: events.advance(1), copies=copies)
    return models, unreadable + failures
