"""Score recordings against every word model and pick the best.

Scores are forward log-likelihoods (the sum over all state paths, not the
best path).  All word models are scored in one pass: their states are laid
side by side as one block-diagonal model (no transition crosses from one
word to another), so the loop over time runs once for all words, and the
Gaussians of all words go through one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.gmm import design, logsumexp, mixture_log_densities, mixture_logsumexp
from wordrec.hmm import Batch, forward_packed
from wordrec.model import ModelSet

# Gaussian log densities held at once (Gaussians x frames): bounds memory.
_CHUNK_ELEMENTS = 4_000_000


def score(models: ModelSet, feats) -> np.ndarray:
    """Forward log-likelihood of every recording under every word model.

    Parameters
    ----------
    models : ModelSet
    feats : sequence of ndarray, each shape (n_frames, n_features)

    Returns
    -------
    ndarray, shape (n_recordings, n_words)
        ``-inf`` where a recording is too short for a model.
    """
    out = np.full((len(feats), len(models.models)), -np.inf)
    n_gauss = sum(wm.means.shape[0] * wm.means.shape[1] for wm in models.models)
    max_frames = max(1, _CHUNK_ELEMENTS // max(1, n_gauss))
    # Longest first, so that a chunk holds recordings of similar length.
    order = sorted(range(len(feats)), key=lambda i: -len(feats[i]))
    a = 0
    while a < len(order):
        b, frames = a, 0
        while b < len(order) and (b == a or frames + len(feats[order[b]]) <= max_frames):
            frames += len(feats[order[b]])
            b += 1
        chunk = order[a:b]
        out[chunk] = _score_chunk(models, [feats[i] for i in chunk])
        a = b
    return out


def _joint_model(models: ModelSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All words as one block-diagonal model: ``(log_start, log_trans, bounds)``.

    ``bounds[j]:bounds[j + 1]`` are the states of word ``j``; transitions
    between words are ``-inf``.
    """
    sizes = [wm.n_states for wm in models.models]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    log_trans = np.full((bounds[-1], bounds[-1]), -np.inf)
    for j, wm in enumerate(models.models):
        log_trans[bounds[j] : bounds[j + 1], bounds[j] : bounds[j + 1]] = wm.log_trans
    log_start = np.concatenate([wm.log_start for wm in models.models])
    return log_start, log_trans, bounds


def _score_chunk(models: ModelSet, feats) -> np.ndarray:
    batch = Batch.of([len(f) for f in feats])
    XX = design(batch.stack(feats))
    log_start, log_trans, bounds = _joint_model(models)
    log_b = np.empty((bounds[-1], XX.shape[1]))  # (all states, stacked frames)
    for j, wm in enumerate(models.models):
        log_comp = mixture_log_densities(XX, wm.log_weights, wm.means, wm.variances)
        log_b[bounds[j] : bounds[j + 1]], _ = mixture_logsumexp(log_comp, with_resp=False)
    if models.outlier is not None:
        models.outlier.mix_into(log_b, XX)
    la = forward_packed(np.ascontiguousarray(log_b.T[batch.packed]), batch.offsets, log_start, log_trans)
    last = la[batch.last_rows()]
    scores = np.empty((len(feats), len(models.models)))
    for j, wm in enumerate(models.models):
        block = last[:, bounds[j] : bounds[j + 1]] + wm.log_end
        scores[batch.order, j] = logsumexp(block, axis=1)
    return scores


@dataclass(frozen=True)
class Ranked:
    """Words ranked for one recording, best first (ties in word order)."""

    words: tuple
    log_liks: tuple

    @property
    def best(self) -> str:
        return self.words[0]

    @property
    def log_lik(self) -> float:
        return self.log_liks[0]


def rank(row: np.ndarray, words, k: int | None = None) -> Ranked:
    """Rank one row of :func:`score`; words with ``-inf`` are left out."""
    order = [int(i) for i in np.argsort(-row, kind="stable") if np.isfinite(row[i])]
    order = order[:k] if k else order
    return Ranked(tuple(words[i] for i in order), tuple(float(row[i]) for i in order))
