"""Score recordings against every word model and pick the best.

Scores are forward log-likelihoods (the sum over all state paths, not the
best path).  Word models are scored in groups: the states of a group's
words are laid side by side as one block-diagonal model (no transition
crosses from one word to another), so the loop over time runs once per
group and batch of recordings (:mod:`wordrec.core.wordgroups`).  A group's
size is bounded (``GROUP_MOVES``), so that memory does not grow with the
vocabulary; a default vocabulary is one group.

Everything a group needs that does not depend on the recordings is
computed once, in :class:`Scorer`, and reused for every batch.  Recordings are taken in batches per group, as
many as the group's Gaussian densities allow, so that a large vocabulary
does not shrink the batches.  Over ``shortlist`` words, a cheap first pass
(:mod:`wordrec.core.shortlist`) picks the words worth scoring exactly
(:mod:`wordrec.core.pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core import wordgroups
from wordrec.core.gmm import design
from wordrec.core.hmm import Batch, forward_packed
from wordrec.core.model import ModelSet
from wordrec.core.pairs import PairScorer
from wordrec.core.shortlist import Shortlister
from wordrec.core.wordgroups import Group, groups, segment_logsumexp

#: Vocabularies of more than SHORTLIST_FROM words are scored exactly only
#: against the SHORTLIST words the first pass finds best for each recording
#: (:func:`default_shortlist`; what it costs in accuracy: docs/speed.md).
SHORTLIST_FROM = 100
SHORTLIST = 32


def default_shortlist(n_words: int) -> int | None:
    """Words scored exactly per recording in a vocabulary of ``n_words``: None (all) up to ``SHORTLIST_FROM``."""
    return SHORTLIST if n_words > SHORTLIST_FROM else None


def score(models, feats, shortlist: int | None | str = "auto", include=None) -> np.ndarray:
    """Forward log-likelihood of every recording under every word model.

    Parameters
    ----------
    models : ModelSet or Scorer
        A :class:`Scorer` saves preparing the models again.
    feats : sequence of ndarray, each shape (n_frames, n_features)
    shortlist : int, None or "auto"
        If an int smaller than the vocabulary, only the ``shortlist`` words
        a cheap first pass finds best for a recording are scored exactly
        (:mod:`wordrec.core.shortlist`); the others get ``-inf``.  None:
        every word exactly.  "auto" (the default): :func:`default_shortlist`.
    include : sequence of int, optional
        With a short list: one word per recording scored exactly whatever
        the first pass says (calibration: the recording's own word).

    Returns
    -------
    ndarray, shape (n_recordings, n_words)
        ``-inf`` where a recording is too short for a model.
    """
    scorer = models if isinstance(models, Scorer) else prepared(models)
    return scorer.score(feats, shortlist, include)


#: The models last prepared in this process and their Scorer.
_LAST: list = []


def prepared(models: ModelSet) -> "Scorer":
    """The :class:`Scorer` of ``models``, made once for the model set last asked for.

    Recognising one recording at a time (the Python API, listening) would
    otherwise prepare the same models for every call, which cost more than
    scoring a 1-s recording.  Model sets are immutable, so the same object
    always has the same Scorer.
    """
    last = _LAST[0] if _LAST else None
    if last is not None and last[0] is models:
        return last[1]
    scorer = Scorer(models)
    _LAST[:] = [(models, scorer)]
    return scorer


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

    def score(self, feats, shortlist: int | None | str = "auto", include=None) -> np.ndarray:
        """:func:`score` with these models."""
        n_words = len(self.models.models)
        if shortlist == "auto":
            shortlist = default_shortlist(n_words)
        if shortlist is not None and 0 < shortlist < n_words:
            if self._shortlister is None:
                self._shortlister = Shortlister(self.models)
                self._pairs = PairScorer(self.models)
            chosen = self._shortlister.best(feats, shortlist)
            if include is not None:
                extra = np.asarray(include, dtype=np.int64)[:, None]
                extra = np.where((chosen == extra).any(axis=1, keepdims=True), -1, extra)
                chosen = np.concatenate([chosen, extra], axis=1)
            return self._pairs.score(feats, chosen)
        out = np.full((len(feats), n_words), -np.inf)
        if not feats or not n_words:
            return out
        # Recordings in batches whose Gaussian densities (of the largest
        # group) fit the budget; longest first, so that a batch holds
        # recordings of similar length.
        widest = max(len(g.const) for g in self.groups)
        max_frames = max(1, wordgroups.CHUNK_ELEMENTS // widest)
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
    order = np.argsort(-row, kind="stable")
    order = order[np.isfinite(row[order])]
    order = (order[:k] if k else order).tolist()
    return Ranked(tuple(words[i] for i in order), tuple(row[order].tolist()))
