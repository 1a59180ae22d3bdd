"""Each word's feature references on disk, beside the shards: what training keeps in memory is a few numbers a word.

The featurising workers write the features (:mod:`wordrec.jobs.store`);
the parent used to gather every recording's reference (:class:`~wordrec.jobs.store.Refs`,
28 bytes a recording) for the whole run, which made its memory grow with the
corpus.  Instead :class:`RefsWriter` appends each chunk's references to one
file per word as the chunks come in (a word's recordings, then its noisy
copies), and a word is a :class:`RefsOnDisk`: ranges of such files.  It is
read a block of ``BLOCK`` references at a time where a whole word is walked
(sampling, iterating, the moments' chunks), and whole only where one
word's work needs it: in the worker that trains that word.

The files are raw arrays of :data:`RECORD` (``ndarray.tofile``, read back
with ``numpy.fromfile``), never pickles.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from wordrec.jobs.store import Refs

#: One reference as stored: shard, first row, frames, spectral variation (28 bytes, packed).
RECORD = np.dtype([("shard", "<i4"), ("row", "<i8"), ("lengths", "<i8"), ("variation", "<f8")])

#: References read at a time when a word is walked through (1.8 MB).
BLOCK = 1 << 16


def _read(path: str, start: int, stop: int) -> np.ndarray:
    """Records ``start`` to ``stop`` of a references file."""
    got = np.fromfile(path, dtype=RECORD, count=stop - start, offset=start * RECORD.itemsize)
    if len(got) != stop - start:
        raise OSError(f"{path}: feature references truncated")
    return got


class RefsOnDisk:
    """Recordings whose references are in files: ``parts``, each ``(path, start, stop)`` records, end to end.

    Stands in for the :class:`~wordrec.jobs.store.Refs` it holds: ``len``,
    iteration (a :class:`~wordrec.jobs.store.Ref` each), indexing and
    slicing (a plain slice stays on disk; a step or an index array reads
    the blocks it picks from), ``lengths``, ``variation`` and
    ``load`` (these read the whole), and :meth:`refs` to hold it all.  It
    pickles as its file names and ranges.
    """

    __slots__ = ("folder", "parts")

    def __init__(self, folder: str, parts):
        self.folder = folder
        self.parts = tuple((str(p), int(a), int(b)) for p, a, b in parts if b > a)

    def __len__(self) -> int:
        return sum(b - a for _, a, b in self.parts)

    def _spans(self, size: int | None = None):
        """``(offset, path, start, stop)`` of each block of at most ``size`` (default ``BLOCK``) records."""
        size, offset = size or BLOCK, 0
        for path, a, b in self.parts:
            for s in range(a, b, size):
                yield offset + s - a, path, s, min(s + size, b)
            offset += b - a

    def _none(self) -> Refs:
        """No recording, of this folder (to start a join that may have nothing else)."""
        return Refs(self.folder, [], [], [])

    def _refs_of(self, path: str, start: int, stop: int) -> Refs:
        r = _read(path, start, stop)
        return Refs(self.folder, r["shard"], r["row"], r["lengths"], r["variation"])

    def blocks(self, size: int | None = None):
        """The references, ``size`` (default ``BLOCK``) at a time, as :class:`Refs`."""
        for _, path, s, e in self._spans(size):
            yield self._refs_of(path, s, e)

    def refs(self) -> Refs:
        """All the references, in memory."""
        return Refs.concat([self._none(), *self.blocks()])

    def take(self, index) -> Refs:
        """The references at ``index`` (any order, repeats allowed), reading only the blocks they are in."""
        index = np.asarray(index, dtype=np.int64)
        index = np.where(index < 0, index + len(self), index)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError("recording index out of range")
        order = np.argsort(index, kind="stable")
        wanted = index[order]
        picked = [self._none()]
        for offset, path, s, e in self._spans():
            lo, hi = np.searchsorted(wanted, [offset, offset + e - s])
            if hi > lo:
                picked.append(self._refs_of(path, s, e)[wanted[lo:hi] - offset])
        return Refs.concat(picked)[np.argsort(order, kind="stable")]

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            parts, offset = [], 0
            for path, a, b in self.parts:
                lo, hi = max(start - offset, 0), min(stop - offset, b - a)
                if lo < hi:
                    parts.append((path, a + lo, a + hi))
                offset += b - a
            return RefsOnDisk(self.folder, parts)
        if isinstance(key, (int, np.integer)):
            return self.take([key])[0]
        return self.take(np.arange(len(self))[key] if isinstance(key, slice) else key)

    def __iter__(self):
        for block in self.blocks():
            yield from block

    def _column(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in (self._none(), *self.blocks())])

    @property
    def lengths(self) -> np.ndarray:
        """Each recording's frames (read whole)."""
        return self._column("lengths")

    @property
    def variation(self) -> np.ndarray:
        """Each recording's spectral variation (read whole)."""
        return self._column("variation")

    def frames(self) -> int:
        """All the recordings' frames, summed a block at a time."""
        return sum(int(b.lengths.sum()) for b in self.blocks())

    def load(self, index) -> list[np.ndarray]:
        return self.refs().load(index)

    @classmethod
    def concat(cls, parts) -> "RefsOnDisk":
        """The recordings of ``parts`` (each a RefsOnDisk, all of one folder) end to end; a range that
        goes on where the one before it stops is joined to it."""
        parts = [p for p in parts if len(p)]
        if len({p.folder for p in parts}) > 1:
            raise ValueError("RefsOnDisk.concat: recordings of different folders")
        ranges: list = []
        for path, a, b in (r for p in parts for r in p.parts):
            if ranges and ranges[-1][0] == path and ranges[-1][2] == a:
                ranges[-1] = (path, ranges[-1][1], b)
            else:
                ranges.append((path, a, b))
        return cls(parts[0].folder if parts else "", ranges)

    def __repr__(self) -> str:
        return f"RefsOnDisk({self.folder!r}, {len(self)} recordings in {len(self.parts)} range(s))"


def in_memory(seqs):
    """``seqs`` as a sequence that holds its references: a :class:`RefsOnDisk` read whole, else itself."""
    return seqs.refs() if isinstance(seqs, RefsOnDisk) else seqs


class RefsWriter:
    """Appends chunks of each word's references (and of its noisy copies) to files in ``folder``.

    :meth:`finish` puts each word's copies after its recordings in one file
    and returns, per word, the recordings and the copies as :class:`RefsOnDisk`.
    Files are numbered by the word's first appearance and started afresh by
    this writer.  The parent then holds a few numbers a word, however many
    recordings it has.
    """

    def __init__(self, folder: str):
        self.folder = folder
        self._number: dict = {}  # word -> file number
        self._count: dict = {}  # (word, copies?) -> references written

    def _path(self, word: str, copies: bool) -> str:
        n = self._number.setdefault(word, len(self._number))
        return os.path.join(self.folder, f"refs_{n:06d}{'.copies' if copies else ''}.bin")

    def add(self, word: str, shard, row, lengths, variation, copies: bool = False) -> None:
        """Append references (arrays of one length) for ``word``'s recordings, or its noisy copies."""
        record = np.empty(len(lengths), dtype=RECORD)
        record["shard"], record["row"], record["lengths"], record["variation"] = shard, row, lengths, variation
        key = (word, copies)
        with open(self._path(word, copies), "ab" if key in self._count else "wb") as f:
            record.tofile(f)
        self._count[key] = self._count.get(key, 0) + len(record)

    def finish(self) -> tuple[dict, dict]:
        """``(by_word, copies)``: word -> :class:`RefsOnDisk`, each in the order its words first came."""
        by_word = {w: RefsOnDisk(self.folder, [(self._path(w, False), 0, n)])
                   for (w, copied), n in self._count.items() if not copied}
        copies = {}
        for (word, copied), extra in self._count.items():
            if copied:
                path, n = self._path(word, False), self._count[word, False]
                with open(path, "ab") as out, open(self._path(word, True), "rb") as more:
                    shutil.copyfileobj(more, out)
                os.remove(self._path(word, True))
                copies[word] = RefsOnDisk(self.folder, [(path, n, n + extra)])
        return by_word, copies
