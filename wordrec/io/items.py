"""Labelled recordings held compactly: a million ``(path, word)`` pairs in about the bytes of their paths.

As a list of tuples of str, a pair costs about 250 bytes besides its path,
and under ``-j`` the forked workers' copies of those pages count again
(the parent's reference counting writes to them).  :class:`Items` keeps
the paths as one array of bytes and the words as numbers: 12 bytes a pair
besides the path's bytes, in three arrays that are never written after
they are made.
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np


class Items:
    """``(path, word)`` pairs held compactly: the paths as one block of bytes, the words as numbers.

    A sequence of ``(str, str)`` pairs (made when asked for): ``len``,
    iteration, an index gives a pair, a slice or :meth:`take` gives Items.
    A million pairs take about the bytes of their paths plus 12 each (as
    a list of tuples of str, about 250 bytes each), and pickle as three
    arrays.  Equal to any sequence of the same pairs.
    """

    __slots__ = ("_blob", "_ends", "_codes", "_names", "_map")

    def __init__(self, blob, ends, codes, names):
        self._blob = np.asarray(blob, dtype=np.uint8)
        self._ends = np.asarray(ends, dtype=np.int64)
        self._codes = np.asarray(codes, dtype=np.int32)
        self._names = tuple(names)
        self._map = None

    def __reduce__(self):
        return Items, (self._blob, self._ends, self._codes, self._names)

    def spill(self, folder: str | None = None) -> "Items":
        """Hold the arrays in a nameless temporary file mapped into memory instead (in place; the same pairs).

        Their pages are then the system's file cache, not this process's
        memory: :meth:`release` lets go of the ones read so far, and they
        are read back from the file when next needed.  So a run that walks
        a large corpus holds it without growing with it.  ``folder``:
        where the file is made (default ``$TMPDIR``); where no file can be
        made, the arrays stay as they are.  Returns self.
        """
        if self._map is not None or not len(self):
            return self
        arrays = (self._blob, self._ends, self._codes)
        try:
            with tempfile.TemporaryFile(dir=folder) as f:
                at = []
                for a in arrays:
                    f.write(b"\0" * (-f.tell() % 8))  # each array starts 8-byte aligned
                    at.append(f.tell())
                    a.tofile(f)
                f.flush()
                self._map = mmap.mmap(f.fileno(), f.tell(), access=mmap.ACCESS_READ)  # outlives the file's name
        except (OSError, ValueError):  # no room or no temporary folder: the arrays stay in memory, as they were
            return self
        self._blob, self._ends, self._codes = (np.frombuffer(self._map, a.dtype, len(a), o) for a, o in zip(arrays, at))
        return self

    def release(self) -> None:
        """Let go of the pages of a :meth:`spill`-ed Items read so far (they stay in the file); else nothing."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    @classmethod
    def of(cls, pairs) -> "Items":
        """Items of an iterable of ``(path, word)`` pairs, in its order."""
        numbers: dict = {}
        encoded, codes = [], []
        for path, word in pairs:
            encoded.append(os.fsencode(path))
            codes.append(numbers.setdefault(word, len(numbers)))
        blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        ends = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        return cls(blob, ends, codes, list(numbers))

    @classmethod
    def concat(cls, parts) -> "Items":
        """The pairs of several Items end to end."""
        parts = [p for p in parts if len(p)]
        names = list(dict.fromkeys(n for p in parts for n in p._names))
        number = {n: i for i, n in enumerate(names)}
        offsets = np.cumsum([0] + [len(p._blob) for p in parts])[:-1]
        return cls(
            np.concatenate([p._blob for p in parts]) if parts else np.zeros(0, np.uint8),
            np.concatenate([p._ends + o for p, o in zip(parts, offsets)]) if parts else np.zeros(0, np.int64),
            np.concatenate([np.array([number[n] for n in p._names], dtype=np.int32)[p._codes] for p in parts])
            if parts else np.zeros(0, np.int32),
            names,
        )

    def __len__(self) -> int:
        return len(self._ends)

    def path(self, i: int) -> str:
        """The ``i``-th path."""
        start = int(self._ends[i - 1]) if i > 0 else 0
        return os.fsdecode(self._blob[start : int(self._ends[i])].tobytes())

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(key)
            return self.path(i), self._names[self._codes[i]]
        if isinstance(key, slice) and key.step in (None, 1):
            a, b, _ = key.indices(len(self))
            b = max(a, b)
            first = int(self._ends[a - 1]) if a > 0 else 0
            last = int(self._ends[b - 1]) if b > a else first
            return Items(self._blob[first:last].copy(), self._ends[a:b] - first, self._codes[a:b], self._names)
        return self.take(np.arange(len(self))[key])

    def take(self, index) -> "Items":
        """The pairs at ``index`` (an array of positions), in its order."""
        index = np.asarray(index, dtype=np.int64)
        starts = np.concatenate([[0], self._ends[:-1]])[index] if len(self) else index
        sizes = self._ends[index] - starts
        ends = np.cumsum(sizes)
        # Byte k of the result comes from its path's start plus k's place in it.
        at = np.repeat(starts - (ends - sizes), sizes) + np.arange(int(ends[-1]) if len(ends) else 0)
        return Items(self._blob[at], ends, self._codes[index], self._names)

    def __iter__(self):
        blob, names, start = self._blob, self._names, 0
        for a in range(0, len(self), 4096):  # a block at a time: no list of a number per pair
            for end, code in zip(self._ends[a : a + 4096].tolist(), self._codes[a : a + 4096].tolist()):
                yield os.fsdecode(blob[start:end].tobytes()), names[code]
                start = end

    @property
    def paths(self) -> "Paths":
        """The paths alone, as a sequence of str (a slice of it is a list)."""
        return Paths(self)

    @property
    def words(self) -> list[str]:
        """The sorted distinct words."""
        return sorted(self.counts())

    def counts(self) -> dict:
        """``{word: number of pairs}``, words sorted."""
        n = np.bincount(self._codes, minlength=len(self._names))
        return {w: int(n[i]) for w, i in sorted((w, i) for i, w in enumerate(self._names)) if n[i]}

    def __eq__(self, other) -> bool:
        try:
            return len(other) == len(self) and tuple(self) == tuple(other)
        except TypeError:
            return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"Items({len(self)} recordings of {len(self.words)} words)"


class Paths:
    """The paths of :class:`Items`: a sequence of str (a slice of it is a list), compact as they are."""

    __slots__ = ("items",)

    def __init__(self, items: Items):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.items[key][0]
        return [p for p, _ in self.items[key]]

    def __iter__(self):
        return (p for p, _ in self.items)


def _items_under(seq):
    return seq.items if isinstance(seq, Paths) else seq


def spilled(seq, folder: str | None = None):
    """``seq`` with its :class:`Items` (also under :class:`Paths`) moved to a mapped file and its pages let go of
    (:meth:`Items.spill`, :meth:`Items.release`); any other sequence as it is."""
    items = _items_under(seq)
    if isinstance(items, Items):
        items.spill(folder).release()
    return seq


def release(seq) -> None:
    """Let go of the pages of ``seq``'s spilled :class:`Items` (also under :class:`Paths`) read so far."""
    items = _items_under(seq)
    if isinstance(items, Items):
        items.release()


def let_go(seq, k: int, every: int) -> None:
    """:func:`release` on every ``every``-th task (``k`` counts them from 0), so that walking a corpus
    does not hold it."""
    if k % every == every - 1:
        release(seq)


def give_back_freed_memory() -> None:
    """Hand the memory this process has freed back to the system, where the C library can (glibc's ``malloc_trim``).

    The C library keeps freed memory for later; workers forked afterwards
    inherit those pages, and each process that writes to them gets its own
    copy.  Reading a manifest of 300,000 lines left about 20 MB so (68 MB of RSS,
    47 MB after this).  Elsewhere (no ``malloc_trim``) this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
