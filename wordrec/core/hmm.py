"""Log-domain forward, backward, posteriors and Viterbi over batches of sequences.

A batch holds many sequences sorted longest first, so that at time ``t`` the
sequences still running are a prefix of the batch.  Inside, frames are kept
*packed*: time-major, and at each time only the sequences still running,
``(total_frames, n_states)`` with the frames of time ``t`` in the rows
``offsets[t]:offsets[t + 1]``.  The recursion loops over time once for the
whole batch; each step is a handful of array operations on contiguous rows,
and no memory goes to padding.

Transitions are applied band by band: a transition matrix is split into its
diagonals that hold any allowed transition (offset 0 = stay, +1 = next
state, ...), and each step combines the shifted bands with ``logaddexp``.
That is exact (no scaling, no underflow), and a left-to-right model costs
two bands instead of ``n_states**2`` terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core.batch import Batch
from wordrec.core.gmm import logsumexp


def bands(log_trans: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The diagonals of a log transition matrix that allow any transition.

    Returns
    -------
    list of (offset, values), the main diagonal first if it allows any
        ``values[i] = log_trans[i, i + offset]`` for the valid ``i`` when
        ``offset >= 0``, ``log_trans[i - offset, i]`` when negative.
    """
    rows, cols = np.nonzero(np.isfinite(log_trans))
    offsets = sorted(set((cols - rows).tolist()), key=lambda d: (abs(d), d))
    return [(d, np.diagonal(log_trans, offset=d).copy()) for d in offsets]


def _band_terms(log_b: np.ndarray, band_list) -> list[tuple[int, np.ndarray]]:
    """Every band's transition log-probabilities plus the destination's emission, flat.

    ``terms[r * S + j] = log_trans[j - d, j] + log_b[r, j]`` for band ``d``,
    ``-inf`` where ``j - d`` is not a state.  With them a time step is, per
    band, one add and one ``logaddexp`` on contiguous 1-D slices: the rows
    of a time step lie end to end, a transition ``i -> i + d`` is a shift
    by ``d`` along them, and the ``-inf`` keeps it from wrapping into the
    next row.

    A band's values may also be given per row, ``(n_rows, n_states - |d|)``
    (sequences of different models side by side, see
    :func:`wordrec.core.pairs.score_pairs`).

    Returns
    -------
    list of (offset, ndarray of shape (n_rows * n_states,)), in band order
    """
    n_states = log_b.shape[1]
    out = []
    for d, v in band_list:
        terms = np.full(log_b.shape, -np.inf)
        cols = slice(d, None) if d >= 0 else slice(None, n_states + d)
        np.add(log_b[:, cols], v, out=terms[:, cols])
        out.append((d, terms.reshape(-1)))
    return out


def _step(flat: np.ndarray, src: int, dst: int, size: int, terms, scratch: np.ndarray, at: int | None = None) -> None:
    """One time step on flat arrays: ``flat[dst:dst + size]`` from ``flat[src:src + size]``.

    ``out[j] = logsumexp_i(prev[i] + log_trans[i, j]) + log_b[j]`` row by
    row, with the ``terms`` of :func:`_band_terms`, where the destination
    rows start at ``at`` (default ``dst``).
    """
    at = dst if at is None else at
    out = flat[dst : dst + size]
    d, t = terms[0]
    if d == 0:
        np.add(flat[src : src + size], t[at : at + size], out=out)
        rest = terms[1:]
    else:
        out.fill(-np.inf)
        rest = terms
    for d, t in rest:
        n = size - abs(d)
        tmp = scratch[:n]
        if d > 0:
            np.add(flat[src : src + n], t[at + d : at + size], out=tmp)
            np.logaddexp(out[d:], tmp, out=out[d:])
        else:
            np.add(flat[src - d : src + size], t[at : at + n], out=tmp)
            np.logaddexp(out[:n], tmp, out=out[:n])


#: Bytes the band terms of one pass may hold at once.  Within it (every
#: left-to-right case we train or score), the terms of all frames are made in
#: one go; beyond it (dense transitions on long recordings, where they would
#: take n_states x (2 n_states - 1) numbers a frame), time steps are taken
#: in chunks whose terms fit.
TERMS_BYTES = 64 * 1024 * 1024


def _chunked_terms(log_b: np.ndarray, offsets: np.ndarray, band_list, times):
    """For each time ``t`` of ``times`` (ascending or descending): the band
    terms covering the packed rows of ``t`` and the flat index in them where
    those rows start.  Terms are made for a chunk of consecutive times at a
    time, at most :data:`TERMS_BYTES` of them (one time step at least)."""
    n_states = log_b.shape[1]
    rows = max(1, TERMS_BYTES // (8 * n_states * max(1, len(band_list))))
    lo = hi = 0
    terms = None
    for t in times:
        if terms is None or not lo <= t < hi:
            if times[0] <= times[-1]:  # forward in time: the chunk starts at t
                lo = t
                hi = max(t + 1, int(np.searchsorted(offsets, offsets[t] + rows, side="right")) - 1)
            else:  # backward: the chunk ends with t
                hi = t + 1
                lo = min(t, int(np.searchsorted(offsets, offsets[hi] - rows, side="left")))
            hi = min(hi, len(offsets) - 1)
            rows_lo, rows_hi = offsets[lo], offsets[hi]
            chunk = [(d, v if v.ndim == 1 else v[rows_lo:rows_hi]) for d, v in band_list]
            terms = _band_terms(log_b[rows_lo:rows_hi], chunk)
        yield t, terms, (offsets[t] - offsets[lo]) * n_states


def forward_packed(log_b: np.ndarray, offsets: np.ndarray, log_start, log_trans, band_list=None) -> np.ndarray:
    """Forward pass over packed frames.

    Parameters
    ----------
    log_b : ndarray, shape (total_frames, n_states)
        Emission log densities, packed (rows of time ``t`` are
        ``offsets[t]:offsets[t + 1]``, in batch order).
    offsets : ndarray of int, shape (max_frames + 1,)
        :attr:`Batch.offsets`.
    log_start : ndarray, shape (n_states,) or (offsets[1], n_states)
        One per sequence in the second form.
    log_trans : ndarray, shape (n_states, n_states)
        ``log_trans[i, j]`` = log P(state j at t+1 | state i at t); None
        when ``band_list`` is given.
    band_list : list of (offset, ndarray), optional
        :func:`bands` of the transitions, made by the caller (who may have
        them without a dense matrix); values ``(n_states - |d|,)``, or
        ``(total_frames, n_states - |d|)``: the transitions into each packed
        row's frame, for sequences of different models.

    Returns
    -------
    log_alpha : ndarray, shape (total_frames, n_states)
        ``log p(x[:t+1], state at t)``, packed.
    """
    la = np.empty_like(log_b)
    if len(la) == 0:
        return la
    n_states = log_b.shape[1]
    np.add(log_start, log_b[: offsets[1]], out=la[: offsets[1]])
    flat = la.reshape(-1)
    scratch = np.empty(offsets[1] * n_states)
    off = (offsets * n_states).tolist()
    times = range(1, len(off) - 1)
    band_list = bands(log_trans) if band_list is None else band_list
    for t, terms, at in _chunked_terms(log_b, offsets, band_list, times):
        _step(flat, off[t - 1], off[t], off[t + 1] - off[t], terms, scratch, at)
    return la


def backward_packed(log_b: np.ndarray, offsets: np.ndarray, log_trans, log_end) -> np.ndarray:
    """Backward pass over packed frames (see :func:`forward_packed`).

    Returns
    -------
    log_b_beta : ndarray, shape (total_frames, n_states)
        ``log_b + log_beta`` with ``log_beta = log p(x[t+1:] | state at t)``,
        packed: the recursion runs on this sum, and the transition counts
        need it too.
    """
    bb = np.add(log_b, log_end)  # the rows of last frames; the others are overwritten
    if len(bb) == 0:
        return bb
    n_states = log_b.shape[1]
    flat = bb.reshape(-1)
    scratch = np.empty(offsets[1] * n_states)
    off = (offsets * n_states).tolist()
    times = range(len(off) - 3, -1, -1)
    for t, terms, at in _chunked_terms(log_b, offsets, bands(log_trans.T), times):
        # The rows of time t with a frame at t + 1 are the first ones.
        _step(flat, off[t + 1], off[t], off[t + 2] - off[t + 1], terms, scratch, at)
    return bb


def _packed_rows(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """Time and batch position of every packed row: two ``(total_frames,)`` arrays."""
    return batch.time[batch.packed], batch.seq[batch.packed]


def _has_next(offsets: np.ndarray) -> np.ndarray:
    """``(total_frames,)`` bool: packed rows whose sequence goes on at the next time."""
    active = np.diff(offsets)
    position = np.arange(offsets[-1]) - np.repeat(offsets[:-1], active)
    return position < np.repeat(np.append(active[1:], 0), active)


def forward(log_b, batch: Batch, log_start, log_trans, log_end):
    """Forward pass on padded arrays.

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
    time, seq = _packed_rows(batch)
    la = forward_packed(log_b[time, seq], batch.offsets, log_start, log_trans)
    out = np.full(log_b.shape, -np.inf)
    out[time, seq] = la
    return out, logsumexp(la[batch.last_rows()] + log_end, axis=1)


def backward(log_b, batch: Batch, log_trans, log_end):
    """Backward pass on padded arrays: ``log_beta[t, n, i] = log p(x[t+1:] | state i at t)``.

    Same shapes as :func:`forward`; ``-inf`` at padding.
    """
    time, seq = _packed_rows(batch)
    bb = backward_packed(log_b[time, seq], batch.offsets, log_trans, log_end)
    # log_beta from the next frame's log_b + log_beta: one step over all those rows at once.
    lbeta = np.empty_like(bb)
    lbeta[:] = log_end
    has_next = _has_next(batch.offsets)
    rows = np.flatnonzero(has_next)
    if len(rows):
        active = np.diff(batch.offsets)
        size = len(rows) * bb.shape[1]
        flat = np.concatenate([bb[rows + np.repeat(active, active)[has_next]].reshape(-1), np.empty(size)])
        terms = _band_terms(np.zeros((2 * len(rows), bb.shape[1])), bands(log_trans.T))
        _step(flat, 0, size, size, terms, np.empty(size))
        lbeta[rows] = flat[size:].reshape(len(rows), -1)
    out = np.full(log_b.shape, -np.inf)
    out[time, seq] = lbeta
    return out


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
    n_states = log_trans.shape[0]
    lb = log_b[batch.packed]
    la = forward_packed(lb, batch.offsets, log_start, log_trans)
    bb = backward_packed(lb, batch.offsets, log_trans, log_end)
    ll = logsumexp(la[batch.last_rows()] + log_end, axis=1)
    # Subtracting +inf gives sequences that no path fits zero posteriors.
    ll_row = np.where(np.isfinite(ll), ll, np.inf)[batch.seq[batch.packed]][:, None]
    la -= ll_row  # now log p(state at t, x[:t+1]) / p(x)
    with np.errstate(invalid="ignore"):
        log_gamma = la + bb
        log_gamma -= lb
        gamma_packed = np.exp(log_gamma, out=log_gamma)
    gamma_packed[np.isnan(gamma_packed)] = 0.0  # log_b = -inf: the state cannot emit the frame
    # State-major inside, so that the M-step's products over frames read it contiguously.
    gamma = np.empty((n_states, len(la)))
    gamma[:, batch.packed] = gamma_packed.T
    # Transitions t -> t+1: every packed row from time 1 on has a predecessor,
    # in the same order as the rows that have a successor.
    src = la[_has_next(batch.offsets)]
    dst = bb[batch.offsets[1] :] if len(la) else bb
    counts = np.zeros((n_states, n_states))
    for d, v in bands(log_trans):
        i = np.arange(max(0, -d), n_states - max(0, d))
        x = src[:, i] + v
        x += dst[:, i + d]
        counts[i, i + d] = np.exp(x, out=x).sum(axis=0)
    return Posteriors(ll, gamma.T, counts)


def log_likelihood(log_b, batch: Batch, log_start, log_trans, log_end) -> np.ndarray:
    """Forward log-likelihood of stacked frames ``(total_frames, n_states)``: ``(n_seqs,)`` in batch order."""
    la = forward_packed(log_b[batch.packed], batch.offsets, log_start, log_trans)
    return logsumexp(la[batch.last_rows()] + log_end, axis=1)


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
