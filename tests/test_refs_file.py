"""Each word's feature references on disk (wordrec.jobs.refs_file): they stand in exactly for the Refs they hold.

Training's parent keeps a few numbers a word (file, range), not 28 bytes a
recording; these tests pin that every way training reads a word gives what
the references in memory give, across block edges and files.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from wordrec.core.baumwelch import em_chunks, em_runs
from wordrec.jobs import refs_file
from wordrec.jobs.refs_file import RefsOnDisk, RefsWriter, in_memory
from wordrec.jobs.store import (
    Refs,
    joined,
    lengths_of,
    moment_chunks,
    steady_floor,
    write_shard,
)


def _same(a, b) -> bool:
    a, b = list(a), list(b)
    return len(a) == len(b) and all((x.path, x.row, x.n_frames, x.variation) == (y.path, y.row, y.n_frames, y.variation)
                                    for x, y in zip(a, b))


def _written(folder, rng, n_chunks=6, words=("b", "a", "c")):
    """Chunks of references for interleaved words, some with noisy copies: the writer's result and the
    Refs the chunks make in memory."""
    writer = RefsWriter(str(folder))
    clean, noisy = {}, {}
    for k in range(n_chunks):
        for w in words[k % 2 :]:  # "b" misses every other chunk
            n = int(rng.integers(1, 9))
            part = Refs(str(folder), np.full(n, k), rng.integers(0, 500, n), rng.integers(1, 60, n), rng.uniform(size=n))
            writer.add(w, part.shard, part.row, part.lengths, part.variation)
            clean.setdefault(w, []).append(part)
            if k % 3 and w != "c":  # "c" has no copies; the copies start later than the words
                copy = Refs(str(folder), part.shard, part.row + 1000, part.lengths)
                writer.add(w, copy.shard, copy.row, copy.lengths, np.nan, copies=True)
                noisy.setdefault(w, []).append(copy)
    by_word, copies = writer.finish()
    return by_word, copies, {w: Refs.concat(v) for w, v in clean.items()}, {w: Refs.concat(v) for w, v in noisy.items()}


def test_the_writer_gives_each_word_its_recordings_then_its_copies_in_the_order_they_came(tmp_path, rng):
    by_word, copies, clean, noisy = _written(tmp_path, rng)
    assert list(by_word) == list(clean) == ["b", "a", "c"] and list(copies) == list(noisy) == ["a", "b"]
    for got, want in ((by_word, clean), (copies, noisy)):
        for w in want:
            assert isinstance(got[w], RefsOnDisk) and got[w].refs() == want[w] and _same(got[w], want[w])
    for w in copies:  # one file a word: the merged word (recordings, then copies) is one range
        both = joined([by_word[w], copies[w]])
        assert isinstance(both, RefsOnDisk) and len(both.parts) == 1
        assert both.refs() == Refs.concat([clean[w], noisy[w]])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs_000000.bin", "refs_000001.bin", "refs_000002.bin"]
    # A second writer in the same folder starts its files afresh.
    again, _, clean2, _ = _written(tmp_path, np.random.default_rng(5), n_chunks=2)
    assert all(again[w].refs() == clean2[w] for w in clean2)


def test_what_the_parent_holds_of_a_word_does_not_grow_with_its_recordings(tmp_path, rng):
    sizes = []
    for n, name in ((10, "small"), (10_000, "large")):
        writer = RefsWriter(str(tmp_path / name))
        (tmp_path / name).mkdir()
        writer.add("w", np.zeros(n), np.arange(n), np.full(n, 30), np.ones(n))
        word = writer.finish()[0]["w"]
        assert len(word) == n and word.frames() == 30 * n
        sizes.append(len(pickle.dumps(word)))
    assert sizes[1] <= sizes[0] + 8  # a larger number in the range, nothing a recording


def test_a_word_on_disk_reads_as_the_refs_it_holds_across_blocks_and_files(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(refs_file, "BLOCK", 5)  # many blocks, with edges everywhere
    by_word, copies, clean, noisy = _written(tmp_path, rng, n_chunks=9)
    disk = joined([by_word[w] for w in sorted(by_word)] + [copies["b"]])  # three files and a copies range
    mem = Refs.concat([clean[w] for w in sorted(clean)] + [noisy["b"]])
    assert isinstance(disk, RefsOnDisk) and len(disk.parts) == 4 and len(disk) == len(mem)
    assert _same(disk, mem) and disk.refs() == mem and in_memory(disk) == mem and in_memory(mem) is mem
    n = len(mem)
    for key in (slice(3, n - 4), slice(7, 8), slice(None, None, 3), slice(n - 2, 2, -2), slice(9, 4),
                np.array([n - 1, 0, 0, 12, 6]), [], -1, 0, n - 1):
        got, want = disk[key], mem[key]
        if isinstance(key, slice) and key.step is None:
            assert isinstance(got, RefsOnDisk), key  # a plain slice stays on disk
        assert _same([got] if np.ndim(key) == 0 and not isinstance(key, slice) else got,
                     [want] if np.ndim(key) == 0 and not isinstance(key, slice) else want), key
    assert disk[4:20][3:9].refs() == mem[7:13]
    with pytest.raises(IndexError):
        disk.take([n])
    assert np.array_equal(disk.lengths, mem.lengths) and np.array_equal(lengths_of(disk), mem.lengths)
    assert np.array_equal(disk.variation, mem.variation, equal_nan=True) and disk.frames() == mem.lengths.sum()
    assert steady_floor(by_word["a"], 2) == steady_floor(clean["a"], 2)
    back = pickle.loads(pickle.dumps(disk))
    assert back.parts == disk.parts and back.refs() == mem
    assert RefsOnDisk.concat([disk[:10], disk[10:]]).parts == disk.parts  # cut and joined again: the same ranges
    assert len(RefsOnDisk.concat([])) == 0 and len(disk[5:5]) == 0 and list(disk[5:5]) == []


def test_a_word_on_disk_is_read_as_the_features_of_its_refs(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(refs_file, "BLOCK", 4)
    arrays = [rng.normal(size=(int(n), 3)) for n in rng.integers(1, 30, size=25)]
    refs = write_shard(str(tmp_path), 0, arrays, variation=rng.uniform(size=25))
    writer = RefsWriter(str(tmp_path))
    writer.add("w", np.zeros(25), [r.row for r in refs], [len(r) for r in refs], [r.variation for r in refs])
    disk = writer.finish()[0]["w"]
    for index in ([24, 0, 3, 3], range(25), []):
        got, want = disk.load(index), [np.asarray(refs[i]) for i in index]
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    # The frame moments' chunks: cut where the references in memory are cut, and still on disk.
    mem = disk.refs()
    for frames in (1, 40, 100, 10_000):
        got, want = moment_chunks(disk, frames), moment_chunks(mem, frames)
        assert all(isinstance(c, RefsOnDisk) for c in got) and [c.refs() for c in got] == want


def test_runs_given_a_block_at_a_time_are_em_chunks_runs(rng):
    for _ in range(50):
        lengths = rng.integers(1, 80, size=int(rng.integers(0, 60)))
        cap = int(rng.integers(1, 200))
        index = np.arange(len(lengths))
        want = [(int(c[0]), int(c[-1]) + 1) for c in em_chunks(lengths, index, cap)]
        cuts = np.sort(rng.integers(0, len(lengths) + 1, size=3))
        assert list(em_runs(np.split(lengths, cuts), cap)) == want
        # Brute force: every run but a lone long recording fits the cap, and the next recording would not.
        for a, b in want:
            assert b - a == 1 or lengths[a:b].sum() <= cap
            assert b == len(lengths) or lengths[a : b + 1].sum() > cap
