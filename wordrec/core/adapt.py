"""Speaker adaptation: MAP re-estimation of the Gaussian means on one speaker's recordings.

The word models are speaker-independent: they pool every training voice,
and a new voice's systematic differences (its formants, its way of saying
a word) cost it accuracy.  Given a batch of one speaker's recordings, each
Gaussian's mean is moved towards the frames it explains in them, by
maximum a posteriori estimation with the trained mean as the prior::

    new_mean = (prior * old_mean + sum_t gamma_t x_t) / (prior + sum_t gamma_t)

where ``gamma_t`` is the Gaussian's posterior at frame ``t`` (forward-
backward through the word's HMM) and ``prior`` is worth that many frames.
A Gaussian that sees few frames keeps its mean; one that sees many moves to
the speaker.  Weights, variances and transitions are kept.

*Unsupervised* (:func:`adapt_unsupervised`): the recordings are first
recognised with the models, each word is adapted on the recordings
recognised as it, and the batch is recognised again; this repeats with the
new answers (always starting from the trained means) until the answers stop
changing or ``rounds`` are done.  *Supervised* (:func:`adapt_supervised`):
the words are known, one pass.

All functions are pure: models and arrays in, new models out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from wordrec.core.gmm import design, state_log_densities
from wordrec.core.hmm import Batch, posteriors
from wordrec.core.score import score
from wordrec.errors import WordrecError

#: Frames' worth of weight of the trained mean: small enough that a speaker's
#: few recordings move it, large enough to keep it steady when a batch holds
#: few recordings of a word (docs/accuracy.md, "Speaker adaptation").
PRIOR = 10.0
#: Recognise-adapt rounds at most.
ROUNDS = 3


@dataclass(frozen=True)
class AdaptConfig:
    """How to adapt: the prior's weight in frames, and the rounds of unsupervised adaptation."""

    prior: float = PRIOR
    rounds: int = ROUNDS

    def validated(self) -> "AdaptConfig":
        if not (np.isfinite(self.prior) and self.prior > 0):
            raise WordrecError(f"adaptation prior must be a positive number of frames, not {self.prior!r}")
        if int(self.rounds) != self.rounds or self.rounds < 1:
            raise WordrecError(f"adaptation rounds must be a positive integer, not {self.rounds!r}")
        return self


def mean_statistics(wm, seqs) -> tuple[np.ndarray, np.ndarray]:
    """Occupancy and first-order statistics of every Gaussian of ``wm`` on ``seqs``.

    Parameters
    ----------
    wm : wordrec.core.model.WordModel
    seqs : list of ndarray, each (n_frames, n_features)
        Recordings the model can explain (at least as many frames as it needs).

    Returns
    -------
    occupancy : ndarray, shape (n_states, n_mix)
        Expected number of frames each Gaussian explains.
    sums : ndarray, shape (n_states, n_mix, n_features)
        Posterior-weighted sums of those frames.
    """
    n_states, n_mix, n_features = wm.means.shape
    if not seqs:
        return np.zeros((n_states, n_mix)), np.zeros((n_states, n_mix, n_features))
    batch = Batch.of(np.array([len(s) for s in seqs]))
    X = batch.stack(seqs)
    # A model the loader accepts can still be degenerate (variances at the
    # 1e-30 floor) and overflow here; its NaNs are caught below.
    with np.errstate(all="ignore"):
        log_b, resp = state_log_densities(design(X), wm.log_weights, wm.means, wm.variances)
        post = posteriors(log_b, batch, wm.log_start, wm.log_trans, wm.log_end)
        occ = resp * post.gamma.T  # (n_mix, n_states, n_frames)
    # Recordings the model cannot explain, or not in finite numbers, are left out.
    finite = np.isfinite(occ).all(axis=(0, 1))
    starts = np.concatenate([[0], np.cumsum(batch.lengths)[:-1]])
    usable = np.isfinite(post.log_lik) & np.logical_and.reduceat(finite, starts)
    occ = np.where(np.repeat(usable, batch.lengths), occ, 0.0)
    occupancy = occ.sum(axis=2).T
    sums = (occ.reshape(n_mix * n_states, -1) @ X).reshape(n_mix, n_states, n_features).transpose(1, 0, 2)
    return occupancy, sums


def map_means(wm, seqs, prior: float = PRIOR):
    """``wm`` with every mean moved towards ``seqs`` by MAP (see the module docstring)."""
    return means_from_statistics(wm, *mean_statistics(wm, seqs), prior)


def means_from_statistics(wm, occupancy: np.ndarray, sums: np.ndarray, prior: float = PRIOR):
    """``wm`` with the MAP means of statistics from :func:`mean_statistics` (summed over recordings)."""
    means = (prior * wm.means + sums) / (prior + occupancy)[:, :, None]
    return dataclasses.replace(wm, means=means)


class Adapted(NamedTuple):
    """What :func:`adapt_unsupervised` returns."""

    models: object  # ModelSet
    #: The adapted models' scores of the recordings, (n_recordings, n_words).
    scores: np.ndarray
    #: The word index each recording adapted, -1 for none, (n_recordings,).
    answers: np.ndarray


def adapt_supervised(models, feats, labels, cfg: AdaptConfig = AdaptConfig()):
    """Adapt every word model on the recordings labelled with it.

    Parameters
    ----------
    models : ModelSet
    feats : list of ndarray (n_frames, n_features)
    labels : list of str, one per recording
        Words the models do not know are ignored.
    cfg : AdaptConfig

    Returns
    -------
    ModelSet
        Words without recordings keep their means.  The background model
        (if any) is adapted on all the recordings, so that confidences
        compare adapted words with an adapted background.
    """
    index = {w: j for j, w in enumerate(models.words)}
    return _adapted(models, feats, np.array([index.get(w, -1) for w in labels], dtype=np.int64), cfg)


def adapt_unsupervised(models, feats, scores: np.ndarray, cfg: AdaptConfig = AdaptConfig(), use=None):
    """Adapt to a batch of one speaker's unlabelled recordings.

    Parameters
    ----------
    models : ModelSet
    feats : list of ndarray (n_frames, n_features)
    scores : ndarray, shape (n_recordings, n_words)
        ``models``' scores of ``feats`` (:func:`wordrec.core.score.score`).
    cfg : AdaptConfig
    use : ndarray of bool, shape (n_recordings,), optional
        The recordings that may adapt the models (default: all).  Callers
        pass the answers the unadapted models accepted, so that unknown
        words and noise do not pull the models towards themselves
        (docs/rejection.md).

    Returns
    -------
    Adapted
        The adapted models, their scores of ``feats``, and the answers
        they were adapted on.
    """
    adapted = models
    previous = np.full(len(feats), -1, dtype=np.int64)
    for _ in range(cfg.rounds):
        answers = _best(scores)
        if use is not None:
            answers = np.where(use, answers, -1)
        if np.array_equal(answers, previous):
            break
        adapted = _adapted(models, feats, answers, cfg)
        scores = score(adapted, feats)
        previous = answers
    return Adapted(adapted, scores, previous)


def _best(scores: np.ndarray) -> np.ndarray:
    """The best word of every row, or -1 where no word can explain the recording."""
    if scores.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argmax(scores, axis=1)
    return np.where(np.isfinite(scores[np.arange(len(scores)), best]), best, -1)


def _adapted(models, feats, answers: np.ndarray, cfg: AdaptConfig):
    """``models`` with word ``j`` adapted on the recordings answered ``j`` (-1: none)."""
    words = []
    for j, wm in enumerate(models.models):
        mine = [f for f, a in zip(feats, answers) if a == j]
        words.append(map_means(wm, mine, cfg.prior) if mine else wm)
    background = models.background
    if background is not None:
        used = [f for f, a in zip(feats, answers) if a >= 0]
        background = map_means(background, used, cfg.prior) if used else background
    return dataclasses.replace(models, models=tuple(words), background=background)
