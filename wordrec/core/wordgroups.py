"""Word models scored together: groups of words as one block-diagonal model, prepared once.

The states of a group's words are laid side by side as one block-diagonal
model (no transition crosses from one word to another), so that one loop
over time scores them all.  What a group needs that does not depend on the
recordings (the Gaussians' coefficients, start and end states, the
transitions as bands) is computed once, in :class:`Group`; no dense
transition matrix is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core.gmm import coefficients, logsumexp
from wordrec.core.model import ModelSet

#: Gaussian log densities held at once (Gaussians x frames): bounds memory.
CHUNK_ELEMENTS = 4_000_000
#: Work per frame of the words scored together, at most: their states times
#: the jumps their transitions allow (:meth:`WordModel.jumps`; two for
#: left-to-right words, so 1024 of their states).  It bounds the forward
#: pass's terms (16 kB a frame) however many words there are; a word over
#: it is scored alone.  Ten words of 8 states are one group.
GROUP_MOVES = 2048


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
        under ``CHUNK_ELEMENTS`` however long a recording is.
        """
        n_mix = len(self.const) // self.n_states
        const = self.const
        if outlier is not None:
            const = const + np.log1p(-outlier.weight)
            if outlier_density is None:
                outlier_density = outlier.log_density(XX)
        out = np.empty((self.n_states, XX.shape[1]))
        step = max(1, CHUNK_ELEMENTS // len(const))
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
