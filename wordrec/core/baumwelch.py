"""One Baum-Welch iteration as a sum and a division: the E-step's statistics, then the M-step.

The E-step is a sum over recordings: :func:`accumulate` gives the
statistics of one batch of recordings, :class:`Stats` add up over batches
(a map and a reduce), and :func:`maximise` turns the total into new
parameters.  A word with more frames than fit in memory is then trained in
chunks of recordings with the same mathematics; the result depends on how
the recordings are cut into chunks (the order of floating-point sums), so
callers cut them by a fixed rule, never by the number of workers.

Parameters ``p`` are :class:`wordrec.core.train` parameter records
(``start``, ``trans``, ``final``, ``weights``, ``means``, ``variances``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wordrec.core.gmm import design, safe_log, state_log_densities
from wordrec.core.hmm import Batch, posteriors


@dataclass(frozen=True)
class Stats:
    """Sufficient statistics of one iteration over some recordings.

    Attributes
    ----------
    occupancy : ndarray, shape (n_states * n_mix,)
        Expected frames of every Gaussian, state-major.
    sums : ndarray, shape (n_states * n_mix, 2 * n_features)
        Their posterior-weighted sums of ``x**2``, then of ``x``.
    trans : ndarray, shape (n_states, n_states)
        Expected transition counts.
    first : ndarray, shape (n_states,)
        Expected occupancy of every state at the first frame.
    log_lik : float
        Total log-likelihood of the recordings a path fits.
    """

    occupancy: np.ndarray
    sums: np.ndarray
    trans: np.ndarray
    first: np.ndarray
    log_lik: float

    def __add__(self, other: "Stats") -> "Stats":
        return Stats(
            self.occupancy + other.occupancy, self.sums + other.sums, self.trans + other.trans,
            self.first + other.first, self.log_lik + other.log_lik,
        )


def accumulate(p, XX: np.ndarray, batch: Batch) -> Stats:
    """The E-step on one batch of recordings.

    Parameters
    ----------
    p : parameters (see the module docstring)
    XX : ndarray, shape (2 * n_features, total_frames)
        ``design`` of the batch's stacked frames.
    batch : Batch
    """
    n_states, n_mix, _ = p.means.shape
    log_b, resp = state_log_densities(XX, safe_log(p.weights), p.means, p.variances)
    post = posteriors(log_b, batch, safe_log(p.start), safe_log(p.trans), np.where(p.final, 0.0, -np.inf))
    ok = np.isfinite(post.log_lik)
    occ = resp  # (n_mix, n_states, n_frames): P(state s, Gaussian m | x) at every frame, in place
    occ *= post.gamma.T
    n = occ.sum(axis=2).T.reshape(-1)  # (S * M,)
    # Sums of x^2, then of x, for all Gaussians in one product: (S * M, 2D).
    sums = occ.reshape(n_mix * n_states, -1) @ XX.T
    sums = sums.reshape(n_mix, n_states, -1).transpose(1, 0, 2).reshape(n_states * n_mix, -1)
    # The first frame of every sequence (stacked order): its state posteriors.
    first = post.gamma[np.cumsum(batch.lengths) - batch.lengths].sum(axis=0)
    return Stats(n, sums, post.trans_counts, first, float(post.log_lik[ok].sum()))


def maximise(p, stats: Stats, cfg, floor: np.ndarray):
    """The M-step: new parameters from the statistics of all recordings.

    ``cfg``: the :class:`wordrec.core.train.TrainConfig` (``min_occupancy``,
    ``weight_floor``, ``topology``); ``floor``: the variance floor
    ``(n_features,)``.  Gaussians seen less than ``min_occupancy`` keep
    their mean and variance; states never left keep their transitions.
    """
    n_states, n_mix, n_features = p.means.shape
    n = stats.occupancy
    keep = n < max(cfg.min_occupancy, 1e-10)
    n_safe = np.where(keep, 1.0, n)[:, None]
    means = stats.sums[:, n_features:] / n_safe
    variances = np.maximum(stats.sums[:, :n_features] / n_safe - means**2, floor)
    means[keep] = p.means.reshape(-1, n_features)[keep]
    variances[keep] = p.variances.reshape(-1, n_features)[keep]
    weights = n.reshape(n_states, n_mix)
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), p.weights)
    weights = np.maximum(weights, cfg.weight_floor)
    weights /= weights.sum(axis=1, keepdims=True)
    rows = stats.trans.sum(axis=1, keepdims=True)
    trans = np.where(rows > 0, stats.trans / np.where(rows > 0, rows, 1.0), p.trans)
    start = p.start
    if cfg.topology == "ergodic":
        first = stats.first
        start = first / first.sum() if first.sum() > 0 else p.start
    return dataclasses.replace(
        p, start=start, trans=trans, weights=weights,
        means=means.reshape(n_states, n_mix, n_features), variances=variances.reshape(n_states, n_mix, n_features),
    )


class InMemory:
    """Recordings held as arrays, as :func:`fit_word` reads them (``lengths``, ``load``)."""

    def __init__(self, seqs):
        self.seqs = list(seqs)
        self.lengths = np.array([len(s) for s in self.seqs], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.seqs)

    def load(self, index) -> list:
        return [self.seqs[i] for i in index]


def em_chunks(lengths: np.ndarray, index: np.ndarray, max_frames: int) -> list[np.ndarray]:
    """``index`` cut, in order, into runs of at most ``max_frames`` frames (one recording at least)."""
    index = np.asarray(index)
    return [index[a:b] for a, b in em_runs([np.asarray(lengths)[index]], max_frames)]


def em_runs(length_blocks, max_frames: int):
    """``(start, stop)`` of each run :func:`em_chunks` makes, for lengths given a block at a time
    (so that a long list of recordings need not be held to be cut)."""
    start = frames = k = 0
    for lengths in length_blocks:
        for n in np.asarray(lengths).tolist():
            if k > start and frames + n > max_frames:
                yield start, k
                start, frames = k, 0
            frames += n
            k += 1
    if start < k:
        yield start, k


def batches_of(source, chunks):
    """``(batch, X, XX)`` of every chunk of recordings, read from ``source`` as needed."""
    for c in chunks:
        seqs = source.load(c)
        batch = Batch.of([len(s) for s in seqs])
        X = np.asarray(batch.stack(seqs), dtype=float)
        yield batch, X, design(X)
