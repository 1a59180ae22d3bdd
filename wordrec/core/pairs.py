"""Exact scores of chosen (recording, word) pairs: each recording against its own short list.

When each recording is to be scored against a few words of a large
vocabulary (:mod:`wordrec.core.shortlist`; the competitors of a held-out
recording in calibration), the words differ from one recording to the next,
so the block-diagonal groups of :mod:`wordrec.core.score` would score many
words nobody asked for.  Here every pair is a sequence of its own: the
pairs of words with the same shape (states, Gaussians, allowed jumps) run
through one forward recursion together, each row carrying its own word's
transitions (:func:`wordrec.core.hmm.forward_packed` with per-row bands).
The scores are the forward log-likelihoods :func:`wordrec.core.score.score`
gives (the same sums; equal to rounding).
"""

from __future__ import annotations

import numpy as np

from wordrec.core.gmm import design, logsumexp
from wordrec.core.hmm import Batch, forward_packed
from wordrec.core.model import ModelSet
from wordrec.core.wordgroups import Group

# Pair frames x states held at once: bounds memory.
_CHUNK_ELEMENTS = 4_000_000


class PairScorer:
    """Word models prepared for scoring (recording, word) pairs.

    Parameters
    ----------
    models : ModelSet
    """

    def __init__(self, models: ModelSet):
        self.models = models
        self.words = [Group.of(models, [j]) for j in range(len(models.models))]
        # Words of one shape share a recursion; per shape, the words' bands
        # and start and end states stacked.
        self.shape = [(wm.n_states, wm.n_mix, wm.jumps()) for wm in models.models]
        self.keys = sorted(set(self.shape))
        self.key_index = np.array([self.keys.index(s) for s in self.shape], dtype=np.int64)
        self.slot = np.zeros(len(self.words), dtype=np.int64)
        self.stacks = {}
        for key in self.keys:
            members = [j for j, s in enumerate(self.shape) if s == key]
            self.slot[members] = np.arange(len(members))
            bands = [
                (d, np.stack([self.words[j].bands[b][1] for j in members]))
                for b, (d, _) in enumerate(self.words[members[0]].bands)
            ]
            starts = np.stack([self.words[j].log_start for j in members])
            ends = np.stack([self.words[j].log_end for j in members])
            self.stacks[key] = (bands, starts, ends)

    def score(self, feats, chosen: np.ndarray) -> np.ndarray:
        """Scores of every recording against its chosen words.

        Parameters
        ----------
        feats : sequence of ndarray, each shape (n_frames, n_features)
        chosen : ndarray of int, shape (n_recordings, k)
            Word indices per recording (-1: none).

        Returns
        -------
        ndarray, shape (n_recordings, n_words)
            Forward log-likelihoods of the chosen pairs, ``-inf`` elsewhere.
        """
        out = np.full((len(feats), len(self.words)), -np.inf)
        most_states = max((s[0] for s in self.shape), default=1)
        max_frames = max(1, _CHUNK_ELEMENTS // most_states)
        a = 0
        while a < len(feats):
            b, frames = a, 0
            while b < len(feats) and (b == a or frames + len(feats[b]) * chosen.shape[1] <= max_frames):
                frames += len(feats[b]) * chosen.shape[1]
                b += 1
            self._chunk(feats[a:b], chosen[a:b], out[a:b])
            a = b
        return out

    def _chunk(self, feats, chosen: np.ndarray, out: np.ndarray) -> None:
        lengths = np.array([len(f) for f in feats])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        XX = design(np.concatenate(feats, axis=0))
        outlier = self.models.outlier
        density = outlier.log_density(XX) if outlier is not None else None
        rec, col = np.nonzero(chosen >= 0)
        word = chosen[rec, col]
        shapes = self.key_index[word]
        for c, key in enumerate(self.keys):
            sel = np.flatnonzero(shapes == c)
            if len(sel):
                out[rec[sel], word[sel]] = self._shape(key, XX, density, lengths[rec[sel]], starts[rec[sel]], word[sel])

    def _shape(self, key, XX, density, lengths, starts, word) -> np.ndarray:
        """Scores of pairs whose words have one shape: ``(n_pairs,)`` in the pairs' order."""
        bands, log_start, log_end = self.stacks[key]
        batch = Batch.of(lengths)
        n_states = key[0]
        # Frames of each pair, stacked in batch order.
        ends = np.cumsum(batch.lengths)
        first = ends - batch.lengths
        log_b = np.empty((int(ends[-1]), n_states))
        pair_word = word[batch.order]
        for w in np.unique(pair_word):
            q = np.flatnonzero(pair_word == w)
            n = batch.lengths[q]
            src = np.repeat(starts[batch.order[q]] - np.cumsum(n) + n, n) + np.arange(n.sum())
            dst = np.repeat(first[q] - np.cumsum(n) + n, n) + np.arange(n.sum())
            dens = None if density is None else density[src]
            log_b[dst] = self.words[w].emissions(XX[:, src], self.models.outlier, dens).T
        row_pair = batch.seq[batch.packed]
        slot = self.slot[pair_word]
        row_bands = [(d, v[slot[row_pair]]) for d, v in bands]
        la = forward_packed(log_b[batch.packed], batch.offsets, log_start[slot], None, row_bands)
        scores = np.empty(len(lengths))
        scores[batch.order] = logsumexp(la[batch.last_rows()] + log_end[slot], axis=1)
        return scores
