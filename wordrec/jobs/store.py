"""Features of a corpus on disk: float32 ``.npy`` shards, read back one recording at a time.

Training a large corpus used to hold every recording's features (float64)
in the parent process for the whole run, and send each word's to a worker
in one piece.  Instead the featurising workers write each chunk's features
to a shard (``shard_NNNNNN.npy``: the chunk's recordings' frames end to
end, float32, written with ``numpy.save``; never a pickle).  A recording is
four numbers: shard, first row, frames and spectral variation, held for
many recordings in the arrays of a :class:`Refs` (and, while training, in
a file per word: :mod:`wordrec.jobs.refs_file`).  A ``Refs``'s items
are :class:`Ref` objects, which stand in for the array wherever the
training code takes one: its ``len`` is its frames, and numpy reads it from
the shard when it needs the numbers (``__array__``).  A word's ``Refs``
is read in the worker that trains it, a chunk at a time when
the word is large (:data:`wordrec.core.train.EM_CHUNK_FRAMES`), a run of
neighbouring recordings in one read.  float32 keeps 7 digits:
plenty for features (the front end itself is not more exact), and half
the disk and memory traffic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from wordrec.core.baumwelch import em_runs

#: Open shards of this process, most recently used last: path -> (file
#: descriptor, where the data start, features, dtype).  Reads are
#: positional (``os.pread``), so that worker processes that inherit the
#: descriptors through fork never move a shared file offset.
_OPEN: dict = {}
_MAX_OPEN = 64


def _shard(path: str):
    hit = _OPEN.pop(path, None)
    if hit is None:
        with open(path, "rb") as f:
            fmt = np.lib.format
            version = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
            start = f.tell()
        hit = (os.open(path, os.O_RDONLY), start, shape[1], dtype)
        while len(_OPEN) >= _MAX_OPEN:
            os.close(_OPEN.pop(next(iter(_OPEN)))[0])
    _OPEN[path] = hit
    return hit


def _stored_rows(path: str, row: int, n_frames: int) -> np.ndarray:
    """Rows ``row`` to ``row + n_frames`` of a shard, as stored (float32, read-only)."""
    fd, start, n_features, dtype = _shard(path)
    size = n_frames * n_features * dtype.itemsize
    raw = os.pread(fd, size, start + row * n_features * dtype.itemsize)
    if len(raw) != size:
        raise OSError(f"{path}: feature cache truncated")
    return np.frombuffer(raw, dtype=dtype).reshape(n_frames, n_features)


def _rows(path: str, row: int, n_frames: int) -> np.ndarray:
    """Rows ``row`` to ``row + n_frames`` of a shard, as float64."""
    return _stored_rows(path, row, n_frames).astype(float)


class Ref:
    """One recording's features in a shard: ``len()`` frames; an ndarray ``(n_frames, n_features)`` on demand.

    Attributes
    ----------
    path : str
        The shard.
    row : int
        Its first frame's row in the shard.
    n_frames : int
    """

    __slots__ = ("path", "row", "n_frames", "variation")

    def __init__(self, path: str, row: int, n_frames: int, variation: float | None = None):
        self.path, self.row, self.n_frames = path, row, n_frames
        #: :func:`wordrec.core.confidence.spectral_variation` of the recording, if the writer gave it.
        self.variation = variation

    def __len__(self) -> int:
        return self.n_frames

    def load(self) -> np.ndarray:
        """The features, float64: ``(n_frames, n_features)``."""
        return _rows(self.path, self.row, self.n_frames)

    def __array__(self, dtype=None, copy=None):
        a = self.load()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __getitem__(self, key):
        return self.load()[key]

    @property
    def shape(self) -> tuple:
        return (self.n_frames, _shard(self.path)[2])

    def __getstate__(self):
        return (self.path, self.row, self.n_frames, self.variation)

    def __setstate__(self, state):
        self.path, self.row, self.n_frames, self.variation = state

    def __repr__(self) -> str:
        return f"Ref({self.path!r}, {self.row}, {self.n_frames})"


def shard_path(folder: str, number: int) -> str:
    """Where shard ``number`` of ``folder`` is."""
    return os.path.join(folder, f"shard_{number:06d}.npy")


class Refs:
    """Many recordings' features in the shards of one folder, held as four arrays, not an object each.

    A sequence of :class:`Ref` (an item is made when asked for), which
    slices and indexes (a slice, a step or an index array gives a
    :class:`Refs`) and pickles as its arrays: 28 bytes a recording,
    against some 150 for a list of Ref objects.  :func:`wordrec.core.train.fit_word`
    reads it as a source (``lengths``, ``load``).

    Attributes
    ----------
    folder : str
    shard, row, lengths : ndarray of int
        Each recording's shard number, first row in it and frames.
    variation : ndarray of float
        Each recording's spectral variation (NaN where not given).
    """

    __slots__ = ("folder", "shard", "row", "lengths", "variation")

    def __init__(self, folder: str, shard, row, lengths, variation=None):
        self.folder = folder
        self.shard = np.asarray(shard, dtype=np.int32)
        self.row = np.asarray(row, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.variation = (np.full(len(self.lengths), np.nan) if variation is None
                          else np.asarray(variation, dtype=float))

    @classmethod
    def concat(cls, parts) -> "Refs":
        """The recordings of ``parts`` (each a Refs, all of one folder) end to end."""
        parts = list(parts)
        if not parts:
            return cls("", [], [], [])
        if any(p.folder != parts[0].folder for p in parts):
            raise ValueError("Refs.concat: recordings of different folders")
        return cls(parts[0].folder, *(np.concatenate([getattr(p, a) for p in parts])
                                      for a in ("shard", "row", "lengths", "variation")))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            v = self.variation[key]
            return Ref(shard_path(self.folder, int(self.shard[key])), int(self.row[key]), int(self.lengths[key]),
                       None if np.isnan(v) else float(v))
        return Refs(self.folder, self.shard[key], self.row[key], self.lengths[key], self.variation[key])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def load(self, index) -> list[np.ndarray]:
        """The features (float64) of the recordings at ``index``, as :class:`Ref.load` reads them.

        Recordings that follow each other in a shard (with at most a
        recording's worth of rows between them: a noisy copy) are read in
        one system call; only their own rows are converted.
        """
        index = np.asarray(index, dtype=np.int64)
        if not len(index):
            return []
        shard, row, n = self.shard[index], self.row[index], self.lengths[index]
        gap = row[1:] - (row[:-1] + n[:-1])
        cut = np.flatnonzero((shard[1:] != shard[:-1]) | (gap < 0) | (gap > n[1:])) + 1
        out = []
        for a, b in zip(np.concatenate([[0], cut]).tolist(), np.concatenate([cut, [len(index)]]).tolist()):
            first = int(row[a])
            block = _stored_rows(shard_path(self.folder, int(shard[a])), first, int(row[b - 1] + n[b - 1]) - first)
            for r, k in zip(row[a:b].tolist(), n[a:b].tolist()):
                out.append(block[r - first : r - first + k].astype(float))
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Refs) and self.folder == other.folder and all(
            np.array_equal(getattr(self, a), getattr(other, a), equal_nan=a == "variation")
            for a in ("shard", "row", "lengths", "variation"))

    __hash__ = None

    def __repr__(self) -> str:
        return f"Refs({self.folder!r}, {len(self)} recordings)"


def write_shard(folder: str, number: int, arrays, variation=None) -> list[Ref]:
    """Write ``arrays`` (each ``(n_frames, n_features)``) end to end as shard ``number`` in ``folder``.

    Returns a :class:`Ref` per array, in order, with its ``variation`` if
    given (one number per array, or None).  An empty list writes nothing.
    """
    arrays = list(arrays)
    if not arrays:
        return []
    path = shard_path(folder, number)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        np.save(f, np.concatenate(arrays, axis=0).astype(np.float32))
    Path(tmp).replace(path)
    rows = np.concatenate([[0], np.cumsum([len(a) for a in arrays])[:-1]])
    variation = [None] * len(arrays) if variation is None else variation
    return [Ref(path, int(r), len(a), v if v is None else float(v)) for r, a, v in zip(rows, arrays, variation)]


class FeatureCache:
    """A scratch folder of shards that lives as long as a ``with`` block (removed at its end, also on errors).

    ``folder``: where to make it (default: the system's temporary folder,
    ``$TMPDIR``); on a cluster, a folder every worker can read.
    """

    def __init__(self, folder: str | None = None):
        self.folder = folder
        self.path = None

    def __enter__(self) -> "FeatureCache":
        self.path = tempfile.mkdtemp(prefix="wordrec-features-", dir=self.folder)
        return self

    def __exit__(self, *exc) -> None:
        for path in list(_OPEN):
            if path.startswith(self.path):
                os.close(_OPEN.pop(path)[0])
        shutil.rmtree(self.path, ignore_errors=True)


#: Frames summed at a time for the frame moments (:func:`wordrec.jobs.training.problem_moments`):
#: 65,536 frames of 39 features are 20 MB as float64.
MOMENT_FRAMES = 1 << 16


def lengths_of(seqs) -> np.ndarray:
    """Frames of each recording of ``seqs`` (:class:`Refs` and references on disk know them without a loop)."""
    if hasattr(seqs, "lengths"):
        return np.asarray(seqs.lengths)
    return np.array([len(s) for s in seqs], dtype=np.int64)


def frames_of(seqs) -> int:
    """All the frames of ``seqs``, without holding the lengths of references on disk."""
    return seqs.frames() if hasattr(seqs, "frames") else int(lengths_of(seqs).sum())


def joined(parts):
    """The recordings of several sequences end to end: a :class:`Refs` (or references on disk) when all are
    of that kind (non-empty ones, of one folder), else a list."""
    parts = [p for p in parts if len(p)]
    kinds = {type(p) for p in parts}
    if len(kinds) == 1 and hasattr(parts[0], "concat") and len({p.folder for p in parts}) == 1:
        return parts[0] if len(parts) == 1 else type(parts[0]).concat(parts)
    return [s for p in parts for s in p]


def moment_chunks(seqs, block_frames: int = MOMENT_FRAMES) -> list:
    """``seqs`` cut, in order, into runs of at most ``block_frames`` frames (a longer recording is a run alone),
    as slices of ``seqs``: the rule of :func:`wordrec.core.baumwelch.em_chunks`.  References on disk
    are walked a block at a time, and their slices stay on disk."""
    blocks = (b.lengths for b in seqs.blocks()) if hasattr(seqs, "blocks") else [lengths_of(seqs)]
    return [seqs[a:b] for a, b in em_runs(blocks, block_frames)]


def chunk_sums(seqs) -> tuple[np.ndarray, np.ndarray, int]:
    """The per-dimension sum and sum of squares of the frames of ``seqs`` (read as float64), and their count."""
    arrays = seqs.load(range(len(seqs))) if hasattr(seqs, "load") else [np.asarray(s, dtype=float) for s in seqs]
    X = np.concatenate(arrays, axis=0)
    return X.sum(axis=0), np.einsum("ij,ij->j", X, X), len(X)


def from_sums(parts) -> tuple[np.ndarray, np.ndarray]:
    """Mean and floored variance (as :func:`wordrec.core.train.frame_moments`) from
    :func:`chunk_sums` of consecutive chunks, added in their order."""
    s1 = s2 = 0.0
    total = 0
    for a, b, n in parts:
        s1, s2, total = s1 + a, s2 + b, total + n
    mean, mean_sq = s1 / total, s2 / total
    scale = np.maximum(1e-4 * mean_sq, 1e-12)
    return mean, np.maximum(mean_sq - mean * mean, scale)


def steady_floor(seqs, n_ceps: int) -> float:
    """:func:`wordrec.core.confidence.steady_floor` of recordings, from the spectral variation their
    :class:`Ref` carries when every one does (worked out by the worker that wrote them), else read."""
    from wordrec.core import confidence

    if hasattr(seqs, "variation"):  # Refs, or references on disk
        variation = np.asarray(seqs.variation)
    else:
        seqs = list(seqs)
        known = all(getattr(s, "variation", None) is not None for s in seqs)
        variation = np.array([s.variation for s in seqs]) if known else np.array([np.nan])
    if len(variation) and not np.isnan(variation).any():
        return float(confidence.STEADY_FRACTION * np.quantile(variation, 0.01))
    return confidence.steady_floor(list(seqs), n_ceps)
