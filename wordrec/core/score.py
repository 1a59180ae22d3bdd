"""Score recordings against every word model and pick the best.

Scores are forward log-likelihoods (the sum over all state paths, not the
best path).  Word models are scored in groups: the states of a group's
words are laid side by side as one block-diagonal model (no transition
crosses from one word to another), so the loop over time runs once per
group.  A group's size is bounded (``GROUP_MOVES``), so that memory does
not grow with the vocabulary; a default vocabulary is one group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core.gmm import design, logsumexp, mixture_log_densities, mixture_logsumexp
from wordrec.core.hmm import Batch, forward_packed
from wordrec.core.model import ModelSet

# Gaussian log densities held at once (Gaussians x frames): bounds memory.
_CHUNK_ELEMENTS = 4_000_000
#: Work per frame of the words scored together, at most: their states times
#: the jumps their transitions allow (:meth:`WordModel.jumps`; two for
#: left-to-right words, so 1024 of their states).  It bounds the joint
#: transition matrix (8 MB) and the forward pass's terms (16 kB a frame)
#: however many words there are; a word over it is scored alone.  Ten words
#: of 8 states are one group.
GROUP_MOVES = 2048


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


def groups(models: ModelSet) -> list[list[int]]:
    """Indices of the words scored together, each group in word order.

    A group holds words that allow the same jumps (so that none pays for
    another's in the forward pass), taken in word order until their states
    times their jumps would pass ``GROUP_MOVES``.
    """
    out, growing = [], {}
    for j, wm in enumerate(models.models):
        jumps = wm.jumps()
        group = growing.get(jumps)
        if group is None or (group[1] + wm.n_states) * len(jumps) > GROUP_MOVES:
            group = growing[jumps] = [[], 0]
            out.append(group[0])
        group[0].append(j)
        group[1] += wm.n_states
    return out


def _joint_model(words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word models as one block-diagonal model: ``(log_start, log_trans, bounds)``.

    ``bounds[j]:bounds[j + 1]`` are the states of ``words[j]``;
    transitions between words are ``-inf``.
    """
    sizes = [wm.n_states for wm in words]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    log_trans = np.full((bounds[-1], bounds[-1]), -np.inf)
    for j, wm in enumerate(words):
        log_trans[bounds[j] : bounds[j + 1], bounds[j] : bounds[j + 1]] = wm.log_trans
    log_start = np.concatenate([wm.log_start for wm in words])
    return log_start, log_trans, bounds


def _score_chunk(models: ModelSet, feats) -> np.ndarray:
    batch = Batch.of([len(f) for f in feats])
    XX = design(batch.stack(feats))
    outlier = models.outlier.log_density(XX) if models.outlier is not None else None
    scores = np.empty((len(feats), len(models.models)))
    for group in groups(models):
        words = [models.models[j] for j in group]
        log_start, log_trans, bounds = _joint_model(words)
        log_b = np.empty((bounds[-1], XX.shape[1]))  # (the group's states, stacked frames)
        for k, wm in enumerate(words):
            _emissions(wm, XX, log_b[bounds[k] : bounds[k + 1]])
        if outlier is not None:
            models.outlier.mix_into(log_b, XX, outlier)
        la = forward_packed(np.ascontiguousarray(log_b.T[batch.packed]), batch.offsets, log_start, log_trans)
        last = la[batch.last_rows()]
        for k, (j, wm) in enumerate(zip(group, words)):
            block = last[:, bounds[k] : bounds[k + 1]] + wm.log_end
            scores[batch.order, j] = logsumexp(block, axis=1)
    return scores


def _emissions(wm, XX: np.ndarray, out: np.ndarray) -> None:
    """State log densities of ``wm`` for the frames of ``XX`` into ``out`` ``(n_states, n_frames)``.

    In blocks of frames, so that the Gaussians' densities held at once stay
    under ``_CHUNK_ELEMENTS`` however long a recording is.
    """
    step = max(1, _CHUNK_ELEMENTS // (wm.n_states * wm.n_mix))
    for a in range(0, XX.shape[1], step):
        log_comp = mixture_log_densities(XX[:, a : a + step], wm.log_weights, wm.means, wm.variances)
        out[:, a : a + step], _ = mixture_logsumexp(log_comp, with_resp=False)


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
