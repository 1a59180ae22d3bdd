"""Open-set recognition: the background model, held-out evidence and confidences.

The background model is one Gaussian mixture (a one-state HMM) trained on
the frames of every word: generic speech.  Calibration holds out folds of
the training recordings, trains word models on the rest (that is
:mod:`wordrec.jobs.training`'s part), and turns the held-out scores into
in-vocabulary and simulated out-of-vocabulary evidence (see
:mod:`wordrec.core.confidence`).  Why each setting is what it is:
docs/rejection.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core.confidence import evidence, spectral_variation
from wordrec.core.confusable import near_counts
from wordrec.core.gmm import design, state_log_densities
from wordrec.core.score import score
from wordrec.core.train import TrainConfig
from wordrec.core.warp import frequency_warp

#: Name and Gaussians of the background model.
BACKGROUND = "<background>"
BACKGROUND_MIX = 32
#: EM iterations per mixture size, at most, for the calibration folds' models:
#: they need to score like the final models, not to match them.
CALIBRATION_ITERS = 5
#: Formants of the held-out recordings are moved this fraction up (every
#: other recording) or down before they are scored for calibration, so that
#: the threshold is set for voices the models have not heard
#: (docs/rejection.md: what it trades).
SPEAKER_WARP = 0.10
#: Utterances per word used for the background model, about: it needs
#: coverage, not every frame.
_BACKGROUND_UTTERANCES = 40


def background_problem(by_word: dict, cfg: TrainConfig) -> tuple[dict, TrainConfig]:
    """The background model's training set and settings, for :func:`wordrec.jobs.training.fit_sets`.

    A one-state, ``BACKGROUND_MIX``-Gaussian model named ``"<background>"``,
    trained on a sample of every word's recordings.
    """
    seqs = []
    for w in sorted(by_word):
        words = by_word[w]
        step = max(1, len(words) // _BACKGROUND_UTTERANCES)
        seqs.extend(words[::step])
    bg_cfg = dataclasses.replace(
        cfg, n_states=1, n_mix=BACKGROUND_MIX, topology="ergodic", max_iter=min(cfg.max_iter, 10), state_frames=0
    )
    return {BACKGROUND: seqs}, bg_cfg


def background_scores(background, feats, outlier=None) -> np.ndarray:
    """Background log-likelihood of each recording: ``(n_recordings,)``.

    ``outlier``: the word models' :class:`wordrec.core.model.Outlier`, mixed
    into the background model too, so that a frame nothing explains costs
    the background what it costs the words.
    """
    if not feats:
        return np.zeros(0)
    XX = design(np.concatenate(feats, axis=0))
    log_b, _ = state_log_densities(XX, background.log_weights, background.means, background.variances)
    if outlier is not None:
        log_b = outlier.mix_into(log_b.T, XX).T
    bounds = np.cumsum([0] + [len(f) for f in feats])
    return np.add.reduceat(log_b[:, 0], bounds[:-1])


def top_two(scores: np.ndarray, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best index, best and second-best score per row (optionally excluding one column per row)."""
    s = scores.copy()
    if exclude is not None:
        s[np.arange(len(s)), exclude] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")
    rows = np.arange(len(s))
    best = s[rows, order[:, 0]]
    second = s[rows, order[:, 1]] if s.shape[1] > 1 else np.full(len(s), -np.inf)
    return order[:, 0], best, second


def held_out_folds(by_word: dict, folds: int = 2) -> list[tuple[dict, list]]:
    """Deal each word's recordings into ``folds`` folds in a fixed order.

    Returns
    -------
    list of (train, test)
        Per usable fold: ``train`` maps each word to its recordings outside
        the fold; ``test`` lists ``(word index, features)`` inside it, words
        in sorted order.  A fold that would leave a word without training
        data, or has nothing to test, is left out.
    """
    words = sorted(by_word)
    out = []
    for k in range(folds):
        train = {w: [s for i, s in enumerate(by_word[w]) if i % folds != k] for w in words}
        test = [(j, s) for j, w in enumerate(words) for i, s in enumerate(by_word[w]) if i % folds == k]
        if all(train.values()) and test:
            out.append((train, test))
    return out


def fold_evidence(models, test, background, speaker_warp: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evidence of one fold's held-out recordings: ``(in_vocabulary, out_of_vocabulary, near)``.

    Every held-out recording is scored against all words of ``models``
    (trained without it): an in-vocabulary example if its best word is its
    own, and against all words but its own: an out-of-vocabulary example.
    A held-out recording that gets a wrong word is no in-vocabulary example:
    answering ``<unknown>`` there is no false rejection but the better
    answer.  With ``speaker_warp`` > 0 the recordings first get their
    formants moved (:func:`wordrec.core.warp.frequency_warp`): every other
    one by ``1 + speaker_warp``, the rest by ``1 - speaker_warp``; without
    it the threshold is set for the training voices only.

    Parameters
    ----------
    models : ModelSet
        Trained on the other folds.
    test : list of (int, ndarray (n_frames, n_features))
        Each held-out recording's word index and features.
    background : WordModel
    speaker_warp : float

    Returns
    -------
    in_vocabulary, out_of_vocabulary : ndarray, each shape (n, 2)
        :func:`wordrec.core.confidence.evidence` of the examples.
    near : ndarray of int, shape (n_words, n_words)
        Which words came close to each other on these recordings
        (:func:`wordrec.core.confusable.near_counts`).
    """
    feats = [s for _, s in test]
    if speaker_warp > 0:
        factors = (1.0 + speaker_warp, 1.0 - speaker_warp)
        feats = [frequency_warp(f, models.features, factors[i % 2]) for i, f in enumerate(feats)]
    truth = np.array([j for j, _ in test])
    # Over a large vocabulary, each recording's own word is scored with the
    # first pass's short list (its score is the in-vocabulary evidence).
    scores = score(models, feats, include=truth)
    bgs = background_scores(background, feats, models.outlier)
    n = np.array([len(f) for f in feats])
    top, best, second = top_two(scores)
    right = top == truth
    ev_in = evidence(best[right], second[right], bgs[right], n[right])
    _, best, second = top_two(scores, exclude=truth)
    return ev_in, evidence(best, second, bgs, n), near_counts(scores, truth, n)


def confidences(models, feats, scores: np.ndarray) -> np.ndarray | None:
    """Confidence of the best word for each recording, or None if the model has no calibration.

    Parameters
    ----------
    models : ModelSet
    feats : list of ndarray (n_frames, n_features)
    scores : ndarray, shape (n_recordings, n_words)
        From :func:`wordrec.core.score.score`.
    """
    if models.background is None or models.calibration is None:
        return None
    _, best, second = top_two(scores)
    outlier = models.outlier if models.calibration.background_outlier else None
    ev = evidence(best, second, background_scores(models.background, feats, outlier), np.array([len(f) for f in feats]))
    conf = models.calibration.confidence(ev, spectral_variation(feats, models.features.n_ceps))
    return np.where(np.isfinite(conf), conf, 0.0)
