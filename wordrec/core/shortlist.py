"""A cheap first pass over a large vocabulary: the words worth scoring exactly.

Exact scoring costs every Gaussian of every state of every word at every
frame (:mod:`wordrec.core.score`).  The first pass keeps, per word, one
Gaussian a state (the moments of the state's mixture) and no time
structure: a word's score for a recording is the sum over every second
frame of its best state's log density (with the outlier component mixed
in, as in the exact scores), in single precision.  That is a third of the
Gaussians, half the frames and no forward recursion; it ranks the words
well enough to keep the right one among the best few (measured in
docs/speed.md), and the exact pass (:mod:`wordrec.core.pairs`) then scores
those.
"""

from __future__ import annotations

import numpy as np

from wordrec.core.gmm import coefficients, design
from wordrec.core.model import ModelSet

#: Frames taken: every FRAME_STEP-th one.
FRAME_STEP = 2
# First-pass densities held at once (states x frames): bounds memory.
_CHUNK_ELEMENTS = 4_000_000


def state_moments(weights: np.ndarray, means: np.ndarray, variances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each state's whole mixture: two ``(n_states, n_features)`` arrays.

    Parameters
    ----------
    weights : ndarray, shape (n_states, n_mix)
    means, variances : ndarray, shape (n_states, n_mix, n_features)
    """
    mean = np.einsum("sm,smd->sd", weights, means)
    second = np.einsum("sm,smd->sd", weights, variances + means * means)
    return mean, np.maximum(second - mean * mean, variances.min(axis=1))


class Shortlister:
    """The first pass for a model set, prepared once.

    Parameters
    ----------
    models : ModelSet
    frame_step : int
        Every ``frame_step``-th frame is used.
    """

    def __init__(self, models: ModelSet, frame_step: int = FRAME_STEP):
        self.frame_step = frame_step
        means, variances = zip(*(state_moments(wm.weights, wm.means, wm.variances) for wm in models.models))
        mean, var = np.concatenate(means), np.concatenate(variances)
        coef, const = coefficients(np.zeros(len(mean)), mean, var)
        self.coef = coef.astype(np.float32)
        self.const = const.astype(np.float32)[:, None]
        sizes = np.array([wm.n_states for wm in models.models])
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.uniform = int(sizes[0]) if len(sizes) and np.all(sizes == sizes[0]) else 0
        self.min_frames = np.array([wm.min_frames() for wm in models.models])
        self.outlier = models.outlier

    def scores(self, feats) -> np.ndarray:
        """First-pass scores ``(n_recordings, n_words)``; ``-inf`` where a recording is too short for a word."""
        n_words = len(self.starts)
        out = np.empty((len(feats), n_words))
        max_frames = max(1, _CHUNK_ELEMENTS // max(1, len(self.coef)))
        a = 0
        while a < len(feats):
            b, frames = a, 0
            while b < len(feats) and (b == a or frames + self._taken(feats[b]) <= max_frames):
                frames += self._taken(feats[b])
                b += 1
            out[a:b] = self._chunk(feats[a:b])
            a = b
        lengths = np.array([len(f) for f in feats])
        out[lengths[:, None] < self.min_frames[None, :]] = -np.inf
        return out

    def _taken(self, f) -> int:
        return -(-len(f) // self.frame_step)

    def _chunk(self, feats) -> np.ndarray:
        parts = [f[:: self.frame_step] for f in feats]
        XX = design(np.concatenate(parts, axis=0))
        dens = self.coef @ XX.astype(np.float32)
        dens += self.const
        if self.uniform:
            best = dens.reshape(len(self.starts), self.uniform, -1).max(axis=1)
        else:
            best = np.maximum.reduceat(dens, self.starts, axis=0)
        best = best.astype(float)
        if self.outlier is not None:
            best += np.log1p(-self.outlier.weight)
            np.logaddexp(best, self.outlier.log_density(XX)[None, :], out=best)
        bounds = np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]])
        # Scaled back to all frames, so that scores of recordings compare.
        return (np.add.reduceat(best, bounds, axis=1) * self.frame_step).T

    def best(self, feats, k: int) -> np.ndarray:
        """The ``k`` words with the best first-pass scores for each recording: ``(n_recordings, k)`` indices.

        Best first, ties in word order.
        """
        s = self.scores(feats)
        k = min(k, s.shape[1])
        part = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(k), (len(s), 1))
        part.sort(axis=1)  # word order, so that the stable sort below breaks ties by it
        vals = np.take_along_axis(s, part, axis=1)
        return np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)
