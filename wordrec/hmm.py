"""Log-domain forward, backward, posteriors and Viterbi over batches of sequences.

A batch holds many sequences padded to a common length, time-major
``(max_frames, n_seqs, n_states)``, sorted longest first so that at time ``t`` the
sequences still running are a prefix of the batch.  The recursion loops over
time once for the whole batch; each step is a handful of array operations.

Transitions are applied band by band: a transition matrix is split into its
diagonals that hold any allowed transition (offset 0 = stay, +1 = next
state, ...), and each step combines the shifted bands with ``logaddexp``.
That is exact (no scaling, no underflow), and a left-to-right model costs
two bands instead of ``n_states**2`` terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.gmm import logsumexp


@dataclass(frozen=True)
class Batch:
    """Layout of a set of sequences: padded time-major, longest first.

    Frames of the whole batch are also kept "stacked": the sequences laid
    end to end in batch order, ``(total_frames, ...)``.  :meth:`pad` and
    :meth:`unpad` move between the two layouts.

    Attributes
    ----------
    order : ndarray of int, shape (n_seqs,)
        ``order[k]`` is the caller's index of the k-th sequence in the batch.
    lengths : ndarray of int, shape (n_seqs,)
        Frames per sequence, non-increasing.
    time : ndarray of int, shape (total_frames,)
        Time index of every stacked frame.
    seq : ndarray of int, shape (total_frames,)
        Batch position of every stacked frame.
    """

    order: np.ndarray
    lengths: np.ndarray
    time: np.ndarray
    seq: np.ndarray

    @classmethod
    def of(cls, lengths) -> "Batch":
        lengths = np.asarray(lengths, dtype=np.int64)
        if np.any(lengths < 1):
            raise ValueError("every sequence needs at least one frame")
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        ends = np.cumsum(lengths)
        time = np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - lengths, lengths)
        seq = np.repeat(np.arange(len(lengths)), lengths)
        return cls(order, lengths, time, seq)

    @property
    def n_frames(self) -> int:
        """Frames of the longest sequence."""
        return int(self.lengths[0]) if len(self.lengths) else 0

    def active(self) -> np.ndarray:
        """``(max_frames,)``: how many sequences are still running at each time."""
        return np.searchsorted(-self.lengths, -np.arange(self.n_frames), side="left")

    def stack(self, seqs) -> np.ndarray:
        """Concatenate the caller's sequences in batch order: ``(total_frames, ...)``."""
        return np.concatenate([seqs[i] for i in self.order], axis=0)

    def pad(self, flat: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Stacked ``(total_frames, k)`` -> padded ``(max_frames, n_seqs, k)``."""
        out = np.full((self.n_frames, len(self.lengths)) + flat.shape[1:], fill)
        out[self.time, self.seq] = flat
        return out

    def unpad(self, padded: np.ndarray) -> np.ndarray:
        """Padded ``(max_frames, n_seqs, k)`` -> stacked ``(total_frames, k)``."""
        return padded[self.time, self.seq]


def bands(log_trans: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The diagonals of a log transition matrix that allow any transition.

    Returns
    -------
    list of (offset, values), the main diagonal first if it allows any
        ``values[i] = log_trans[i, i + offset]`` for the valid ``i`` when
        ``offset >= 0``, ``log_trans[i - offset, i]`` when negative.
    """
    n = log_trans.shape[0]
    out = []
    for d in sorted(range(-(n - 1), n), key=abs):
        v = np.diagonal(log_trans, offset=d)
        if np.any(np.isfinite(v)):
            out.append((d, v.copy()))
    return out


def _step(prev: np.ndarray, band_list) -> np.ndarray:
    """One time step: ``out[:, j] = logsumexp_i(prev[:, i] + log_trans[i, j])``."""
    n_states = prev.shape[1]
    if band_list[0][0] == 0:
        out = prev + band_list[0][1]
        rest = band_list[1:]
    else:
        out = np.full(prev.shape, -np.inf)
        rest = band_list
    for d, v in rest:
        if d > 0:
            np.logaddexp(out[:, d:], prev[:, : n_states - d] + v, out=out[:, d:])
        else:
            np.logaddexp(out[:, :d], prev[:, -d:] + v, out=out[:, :d])
    return out


def forward(log_b, batch: Batch, log_start, log_trans, log_end):
    """Forward pass.

    Parameters
    ----------
    log_b : ndarray, shape (max_frames, n_seqs, n_states)
        Emission log densities, padded (see :meth:`Batch.pad`).
    batch : Batch
    log_start : ndarray, shape (n_states,)
    log_trans : ndarray, shape (n_states, n_states)
        ``log_trans[i, j]`` = log P(state j at t+1 | state i at t).
    log_end : ndarray, shape (n_states,)
        0 for states a sequence may end in, ``-inf`` for the others.

    Returns
    -------
    log_alpha : ndarray, shape (max_frames, n_seqs, n_states)
        ``-inf`` at padding.
    log_lik : ndarray, shape (n_seqs,)
        ``log p(sequence)`` summed over all state paths (``-inf`` if no
        path fits the sequence).
    """
    n_frames, n_seqs, _ = log_b.shape
    la = np.full(log_b.shape, -np.inf)
    if n_seqs == 0:
        return la, np.zeros(0)
    band_list = bands(log_trans)
    active = batch.active()
    la[0] = log_start + log_b[0]
    for t in range(1, n_frames):
        k = active[t]
        la[t, :k] = _step(la[t - 1, :k], band_list) + log_b[t, :k]
    last = la[batch.lengths - 1, np.arange(n_seqs)]
    return la, logsumexp(last + log_end, axis=1)


def backward(log_b, batch: Batch, log_trans, log_end):
    """Backward pass: ``log_beta[t, n, i] = log p(x[t+1:] | state i at t)``.

    Same shapes as :func:`forward`; ``-inf`` at padding.
    """
    n_frames, n_seqs, _ = log_b.shape
    lbeta = np.full(log_b.shape, -np.inf)
    if n_seqs == 0:
        return lbeta
    band_list = bands(log_trans.T)
    active = batch.active()
    lbeta[batch.lengths - 1, np.arange(n_seqs)] = log_end
    for t in range(n_frames - 2, -1, -1):
        k = active[t + 1]  # sequences that have a frame at t + 1
        lbeta[t, :k] = _step(log_b[t + 1, :k] + lbeta[t + 1, :k], band_list)
    return lbeta


@dataclass(frozen=True)
class Posteriors:
    """What the E-step needs from one batch.

    Attributes
    ----------
    log_lik : ndarray, shape (n_seqs,)
        In batch order.
    gamma : ndarray, shape (total_frames, n_states)
        State posteriors of the stacked frames; each frame of a sequence
        with a finite likelihood sums to one, the others are zero.
    trans_counts : ndarray, shape (n_states, n_states)
        Expected transition counts summed over the batch.
    """

    log_lik: np.ndarray
    gamma: np.ndarray
    trans_counts: np.ndarray


def posteriors(log_b, batch: Batch, log_start, log_trans, log_end) -> Posteriors:
    """Forward-backward state posteriors and expected transition counts.

    Parameters
    ----------
    log_b : ndarray, shape (total_frames, n_states)
        Emission log densities of the stacked frames.

    Sequences with zero likelihood (e.g. shorter than the model allows)
    contribute nothing.
    """
    padded = batch.pad(log_b)
    la, ll = forward(padded, batch, log_start, log_trans, log_end)
    lbeta = backward(padded, batch, log_trans, log_end)
    ok = np.isfinite(ll)[batch.seq]  # per stacked frame
    ll_frame = np.where(ok, ll[batch.seq], 0.0)[:, None]
    log_alpha = batch.unpad(la) - ll_frame
    log_beta = batch.unpad(lbeta)
    with np.errstate(invalid="ignore"):
        gamma = np.where(ok[:, None], np.exp(log_alpha + log_beta), 0.0)
    n_states = log_trans.shape[0]
    counts = np.zeros((n_states, n_states))
    src_idx = np.flatnonzero(ok & (batch.time < batch.lengths[batch.seq] - 1))
    if len(src_idx):
        src = log_alpha[src_idx]
        dst = (log_b + log_beta)[src_idx + 1]
        for d, v in bands(log_trans):
            if d >= 0:
                x = src[:, : n_states - d] + v + dst[:, d:]
                rows = np.arange(n_states - d)
            else:
                x = src[:, -d:] + v + dst[:, :d]
                rows = np.arange(-d, n_states)
            counts[rows, rows + d] = np.exp(x).sum(axis=0)
    return Posteriors(ll, gamma, counts)


def log_likelihood(log_b, batch: Batch, log_start, log_trans, log_end) -> np.ndarray:
    """Forward log-likelihood of stacked frames ``(total_frames, n_states)``: ``(n_seqs,)`` in batch order."""
    return forward(batch.pad(log_b), batch, log_start, log_trans, log_end)[1]


def viterbi(log_b: np.ndarray, log_start, log_trans, log_end) -> tuple[np.ndarray, float]:
    """Most likely state path of one sequence.

    Parameters
    ----------
    log_b : ndarray, shape (n_frames, n_states)

    Returns
    -------
    path : ndarray of int, shape (n_frames,)
    log_prob : float
        Log probability of that path and the frames (``-inf`` if none exists).
    """
    n_frames, n_states = log_b.shape
    delta = log_start + log_b[0]
    back = np.zeros((n_frames, n_states), dtype=np.int64)
    for t in range(1, n_frames):
        scores = delta[:, None] + log_trans  # (from, to)
        back[t] = np.argmax(scores, axis=0)
        delta = scores[back[t], np.arange(n_states)] + log_b[t]
    final = delta + log_end
    path = np.empty(n_frames, dtype=np.int64)
    path[-1] = int(np.argmax(final))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path, float(final[path[-1]])
