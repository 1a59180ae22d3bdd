"""A batch of sequences of different lengths: the layouts the recursions and their callers share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """Layout of a set of sequences: longest first, stacked, padded and packed.

    Frames of the whole batch are "stacked": the sequences laid end to end in
    batch order, ``(total_frames, ...)``; that is the layout callers use.
    :meth:`pad` and :meth:`unpad` move to and from a padded time-major
    layout ``(max_frames, n_seqs, ...)``.  The recursions work on the packed
    layout (see the module docstring).

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
    packed : ndarray of int, shape (total_frames,)
        Stacked index of the frame in every packed row.
    offsets : ndarray of int, shape (max_frames + 1,)
        Packed rows of time ``t`` are ``offsets[t]:offsets[t + 1]``.
    """

    order: np.ndarray
    lengths: np.ndarray
    time: np.ndarray
    seq: np.ndarray
    packed: np.ndarray
    offsets: np.ndarray

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
        # Stable sort by time keeps batch order within a time step.
        packed = np.argsort(time, kind="stable")
        n_frames = int(lengths[0]) if len(lengths) else 0
        active = np.searchsorted(-lengths, -np.arange(n_frames), side="left")
        offsets = np.concatenate([[0], np.cumsum(active)])
        return cls(order, lengths, time, seq, packed, offsets)

    @property
    def n_frames(self) -> int:
        """Frames of the longest sequence."""
        return int(self.lengths[0]) if len(self.lengths) else 0

    def active(self) -> np.ndarray:
        """``(max_frames,)``: how many sequences are still running at each time."""
        return np.diff(self.offsets)

    def last_rows(self) -> np.ndarray:
        """``(n_seqs,)``: packed row of every sequence's last frame."""
        return self.offsets[self.lengths - 1] + np.arange(len(self.lengths))

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
