"""Score recordings against every word model and pick the best.

Scores are forward log-likelihoods (the sum over all state paths, not the
best path).  Word models are scored in groups: the states of a group's
words are laid side by side as one block-diagonal model (no transition
crosses from one word to another), so the loop over time runs once per
group and batch of recordings.  A group's size is bounded
(``GROUP_MOVES``), so that memory does not grow with the vocabulary; a
default vocabulary is one group.

Everything a group needs that does not depend on the recordings (the
Gaussians' coefficients, log transitions as bands, start and end states) is
computed once, in :class:`Scorer`, and reused for every batch; no dense
transition matrix is made.  Recordings are taken in batches per group, as
many as the group's Gaussian densities allow, so that a large vocabulary
does not shrink the batches.  Over ``shortlist`` words, a cheap first pass
(:mod:`wordrec.core.shortlist`) picks the words worth scoring exactly
(:mod:`wordrec.core.pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core.gmm import coefficients, design, logsumexp
from wordrec.core.hmm import Batch, forward_packed
from wordrec.core.model import ModelSet

# Gaussian log densities held at once (Gaussians x frames): bounds memory.
_CHUNK_ELEMENTS = 4_000_000
#: Work per frame of the words scored together, at most: their states times
#: the jumps their transitions allow (:meth:`WordModel.jumps`; two for
#: left-to-right words, so 1024 of their states).  It bounds the forward
#: pass's terms (16 kB a frame) however many words there are; a word over
#: it is scored alone.  Ten words of 8 states are one group.
GROUP_MOVES = 2048


def score(models, feats, shortlist: int | None = None) -> np.ndarray:
    """Forward log-likelihood of every recording under every word model.

    Parameters
    ----------
    models : ModelSet or Scorer
        A :class:`Scorer` saves preparing the models again.
    feats : sequence of ndarray, each shape (n_frames, n_features)
    shortlist : int, optional
        If given and smaller than the vocabulary, only the ``shortlist``
        words a cheap first pass finds best for a recording are scored
        exactly (:mod:`wordrec.core.shortlist`); the others get ``-inf``.

    Returns
    -------
    ndarray, shape (n_recordings, n_words)
        ``-inf`` where a recording is too short for a model.
    """
    scorer = models if isinstance(models, Scorer) else Scorer(models)
    return scorer.score(feats, shortlist)


def groups(models: ModelSet) -> list[list[int]]:
    """Indices of the words scored together, each group in word order.

    A group holds words that allow the same jumps (so that none pays for
    another's in the forward pass) and have as many Gaussians a state (so
    that their densities are one matrix product), taken in word order until
    their states times their jumps would pass ``GROUP_MOVES``.
    """
    out, growing = [], {}
    for j, wm in enumerate(models.models):
        jumps = wm.jumps()
        key = (jumps, wm.n_mix)
        group = growing.get(key)
        if group is None or (group[1] + wm.n_states) * len(jumps) > GROUP_MOVES:
            group = growing[key] = [[], 0]
            out.append(group[0])
        group[0].append(j)
        group[1] += wm.n_states
    return out


def band_values(words, jumps) -> list[tuple[int, np.ndarray]]:
    """The bands (:func:`wordrec.core.hmm.bands`) of the block-diagonal model of ``words``, without making it.

    ``jumps``: the offsets every word allows.  Transitions that would
    cross from one word into the next are ``-inf``.  Bands come in
    :func:`~wordrec.core.hmm.bands`' order (by ``|d|``, then ``d``).
    """
    sizes = [wm.n_states for wm in words]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    out = []
    for d in sorted(jumps, key=lambda d: (abs(d), d)):
        v = np.full(bounds[-1] - abs(d), -np.inf)
        for j, wm in enumerate(words):
            diag = np.diagonal(wm.log_trans, offset=d)
            v[bounds[j] : bounds[j] + len(diag)] = diag
        out.append((d, v))
    return out


@dataclass(frozen=True)
class Group:
    """Words scored together, prepared.

    Attributes
    ----------
    index : ndarray of int, shape (n_group_words,)
        The words' indices in the model set.
    bounds : ndarray of int, shape (n_group_words + 1,)
        States of word ``k`` are ``bounds[k]:bounds[k + 1]``.
    coef : ndarray, shape (n_mix * n_group_states, 2 * n_features)
    const : ndarray, shape (n_mix * n_group_states,)
        Gaussian ``m`` of state ``s`` is row ``m * n_group_states + s``:
        ``log w + log N(x) = coef . design(x) + const``.
    log_start, log_end : ndarray, shape (n_group_states,)
    bands : list of (int, ndarray)
        The transitions, as for :func:`wordrec.core.hmm.forward_packed`.
    """

    index: np.ndarray
    bounds: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    log_start: np.ndarray
    log_end: np.ndarray
    bands: list

    @classmethod
    def of(cls, models: ModelSet, index) -> "Group":
        words = [models.models[j] for j in index]
        bounds = np.concatenate([[0], np.cumsum([wm.n_states for wm in words])])
        # (n_mix, states, ...): mixture-major over all the group's states.
        log_w = np.concatenate([wm.log_weights for wm in words]).T
        means = np.concatenate([wm.means for wm in words]).transpose(1, 0, 2)
        variances = np.concatenate([wm.variances for wm in words]).transpose(1, 0, 2)
        coef, const = coefficients(log_w, means, variances)
        return cls(
            np.asarray(index), bounds, coef.reshape(-1, coef.shape[-1]), const.reshape(-1),
            np.concatenate([wm.log_start for wm in words]), np.concatenate([wm.log_end for wm in words]),
            band_values(words, words[0].jumps()),
        )

    @property
    def n_states(self) -> int:
        return int(self.bounds[-1])

    def emissions(self, XX: np.ndarray, outlier=None, outlier_density=None) -> np.ndarray:
        """State log densities ``(n_group_states, n_frames)`` of the frames of ``XX = design(X)``.

        ``outlier`` (:class:`wordrec.core.model.Outlier`) is mixed into every
        state, as one more Gaussian of the sum (``outlier_density``: its
        :meth:`~wordrec.core.model.Outlier.log_density` of ``XX`` if known).
        In blocks of frames, so that the Gaussian densities held at once stay
        under ``_CHUNK_ELEMENTS`` however long a recording is.
        """
        n_mix = len(self.const) // self.n_states
        const = self.const
        if outlier is not None:
            const = const + np.log1p(-outlier.weight)
            if outlier_density is None:
                outlier_density = outlier.log_density(XX)
        out = np.empty((self.n_states, XX.shape[1]))
        step = max(1, _CHUNK_ELEMENTS // len(const))
        for a in range(0, XX.shape[1], step):
            log_comp = self.coef @ XX[:, a : a + step]
            log_comp += const[:, None]
            log_comp = log_comp.reshape(n_mix, self.n_states, -1)
            # The log of the sum over Gaussians (and the outlier), shifted by
            # the largest term so that the exponentials cannot overflow.
            top = np.maximum.reduce(log_comp, axis=0)
            if outlier is not None:
                o = outlier_density[a : a + step]
                np.maximum(top, o, out=top)
            log_comp -= top
            total = np.add.reduce(np.exp(log_comp, out=log_comp), axis=0)
            if outlier is not None:
                extra = np.subtract(o, top)
                total += np.exp(extra, out=extra)
            np.log(total, out=total)
            out[:, a : a + step] = total
            out[:, a : a + step] += top
        return out


class Scorer:
    """Word models prepared once for scoring any number of batches.

    Parameters
    ----------
    models : ModelSet
    """

    def __init__(self, models: ModelSet):
        self.models = models
        self.groups = [Group.of(models, g) for g in groups(models)]
        self._shortlister = None
        self._pairs = None

    @property
    def words(self) -> list[str]:
        return self.models.words

    def score(self, feats, shortlist: int | None = None) -> np.ndarray:
        """:func:`score` with these models."""
        n_words = len(self.models.models)
        if shortlist is not None and 0 < shortlist < n_words:
            from wordrec.core.pairs import PairScorer
            from wordrec.core.shortlist import Shortlister

            if self._shortlister is None:
                self._shortlister = Shortlister(self.models)
                self._pairs = PairScorer(self.models)
            return self._pairs.score(feats, self._shortlister.best(feats, shortlist))
        out = np.full((len(feats), n_words), -np.inf)
        if not feats or not n_words:
            return out
        # Recordings in batches whose Gaussian densities (of the largest
        # group) fit the budget; longest first, so that a batch holds
        # recordings of similar length.
        widest = max(len(g.const) for g in self.groups)
        max_frames = max(1, _CHUNK_ELEMENTS // widest)
        order = sorted(range(len(feats)), key=lambda i: -len(feats[i]))
        a = 0
        while a < len(order):
            b, frames = a, 0
            while b < len(order) and (b == a or frames + len(feats[order[b]]) <= max_frames):
                frames += len(feats[order[b]])
                b += 1
            chunk = order[a:b]
            out[chunk] = self._score_chunk([feats[i] for i in chunk])
            a = b
        return out

    def _score_chunk(self, feats) -> np.ndarray:
        batch = Batch.of([len(f) for f in feats])
        XX = design(batch.stack(feats))
        outlier = self.models.outlier
        density = outlier.log_density(XX) if outlier is not None else None
        scores = np.empty((len(feats), len(self.models.models)))
        for g in self.groups:
            log_b = g.emissions(XX, outlier, density)
            la = forward_packed(np.ascontiguousarray(log_b.T[batch.packed]), batch.offsets, g.log_start, None, g.bands)
            last = la[batch.last_rows()] + g.log_end
            scores[np.ix_(batch.order, g.index)] = segment_logsumexp(last, g.bounds)
        return scores


def segment_logsumexp(a: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``logsumexp`` of ``a[:, bounds[k]:bounds[k + 1]]`` for every ``k``: ``(n_rows, len(bounds) - 1)``.

    All ``-inf`` segments give ``-inf``; segments must not be empty.
    """
    sizes = np.diff(bounds)
    if len(sizes) and np.all(sizes == sizes[0]):
        return logsumexp(a.reshape(len(a), len(sizes), sizes[0]), axis=2)
    top = np.maximum.reduceat(a, bounds[:-1], axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.add.reduceat(np.exp(a - np.repeat(top, sizes, axis=1)), bounds[:-1], axis=1)) + top


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
