"""Score recordings against every word model and pick the best.

Scores are forward log-likelihoods (the sum over all state paths, not the
best path).  Recordings are scored in batches of similar length, so one
long recording does not inflate the padding of all the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.gmm import design, state_log_densities
from wordrec.hmm import Batch, log_likelihood
from wordrec.model import ModelSet

# Padded frames per batch (sequences x longest sequence): bounds memory.
_BATCH_FRAMES = 200_000


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
    order = sorted(range(len(feats)), key=lambda i: -len(feats[i]))
    a = 0
    while a < len(order):
        longest = max(1, len(feats[order[a]]))
        b = a + max(1, _BATCH_FRAMES // longest)
        chunk = order[a:b]
        out[chunk] = _score_chunk(models, [feats[i] for i in chunk])
        a = b
    return out


def _score_chunk(models: ModelSet, feats) -> np.ndarray:
    batch = Batch.of([len(f) for f in feats])
    XX = design(batch.stack(feats))
    scores = np.empty((len(feats), len(models.models)))
    for j, wm in enumerate(models.models):
        log_b, _ = state_log_densities(XX, wm.log_weights, wm.means, wm.variances)
        scores[batch.order, j] = log_likelihood(log_b, batch, wm.log_start, wm.log_trans, wm.log_end)
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
