"""A cheap first pass over a large vocabulary: the words worth scoring exactly.

Exact scoring costs every Gaussian of every state of every word at every
frame (:mod:`wordrec.core.score`).  The first pass keeps, per word, one
Gaussian a state (the moments of the state's mixture) and only a coarse
time structure: a recording is cut into ``SEGMENTS`` equal parts, and a
frame of part ``g`` is scored against the states of the word's ``g``-th
part and ``WINDOW`` states either side.  A word's score is the sum over
every second frame of its best such state's log density (with the outlier
component mixed in, as in the exact scores), in single precision.  That is
a sixth of the Gaussians, half the frames and no forward recursion; it
ranks the words well enough to keep the right one among the best few
(docs/speed.md), and the exact pass (:mod:`wordrec.core.pairs`) then
scores those.
"""

from __future__ import annotations

import numpy as np

from wordrec.core.gmm import coefficients, design
from wordrec.core.model import ModelSet

#: Frames taken: every FRAME_STEP-th one.
FRAME_STEP = 2
#: Parts a recording is cut into, and the states either side of a part's
#: own that its frames are scored against.
SEGMENTS = 4
WINDOW = 1
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

    def __init__(self, models: ModelSet, frame_step: int = FRAME_STEP, segments: int = SEGMENTS,
                 window: int = WINDOW):
        self.frame_step, self.segments = frame_step, segments
        moments = [state_moments(wm.weights, wm.means, wm.variances) for wm in models.models]
        # Per part: the states of every word it is scored against, stacked,
        # and where each word's rows start.
        self.parts = []
        for g in range(segments):
            rows, starts = [], []
            for (mean, var), wm in zip(moments, models.models):
                s = wm.n_states
                lo, hi = max(0, (g * s) // segments - window), min(s, -(-((g + 1) * s) // segments) + window)
                starts.append(sum(len(r[0]) for r in rows))
                rows.append((mean[lo:hi], var[lo:hi]))
            mean, var = np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows])
            coef, const = coefficients(np.zeros(len(mean)), mean, var)
            self.parts.append((coef.astype(np.float32), const.astype(np.float32)[:, None], np.array(starts)))
        self.n_words = len(models.models)
        self.min_frames = np.array([wm.min_frames() for wm in models.models])
        self.outlier = models.outlier

    def scores(self, feats) -> np.ndarray:
        """First-pass scores ``(n_recordings, n_words)``; ``-inf`` where a recording is too short for a word."""
        out = np.empty((len(feats), self.n_words))
        widest = max((len(c) for c, _, _ in self.parts), default=1)
        max_frames = max(1, self.segments * _CHUNK_ELEMENTS // max(1, widest))
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
        taken = [np.arange(0, len(f), self.frame_step) for f in feats]
        XX = design(np.concatenate([f[t] for f, t in zip(feats, taken)], axis=0)).astype(np.float32)
        # Part of every frame taken, and the recording it belongs to.
        part = np.concatenate([np.minimum(t * self.segments // len(f), self.segments - 1) for f, t in zip(feats, taken)])
        owner = np.repeat(np.arange(len(feats)), [len(t) for t in taken])
        total = np.zeros((self.n_words, len(feats)))
        log_keep = np.log1p(-self.outlier.weight) if self.outlier is not None else 0.0
        for g, (coef, const, starts) in enumerate(self.parts):
            cols = np.flatnonzero(part == g)
            if not len(cols):
                continue
            dens = coef @ XX[:, cols]
            dens += const
            best = np.maximum.reduceat(dens, starts, axis=0).astype(float)
            if self.outlier is not None:
                best += log_keep
                np.logaddexp(best, self.outlier.log_density(XX[:, cols].astype(float))[None, :], out=best)
            # Sum over each recording's frames of this part (frames are in recording order).
            firsts = np.flatnonzero(np.diff(np.concatenate([[-1], owner[cols]])))
            total[:, owner[cols][firsts]] += np.add.reduceat(best, firsts, axis=1)
        # Scaled back to all frames, so that scores of recordings compare.
        return (total * self.frame_step).T

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
