"""Compact corpora: Items (paths and words as arrays), Refs (feature references as arrays), lazy tasks, Tally.

What a large run holds per recording is a few array entries, not objects;
these tests pin that each stands in exactly for the list it replaces.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import make_tone_corpus, tone, write_wav

from wordrec.io.items import Items

ODD = b"/x/\xff\xfe.wav".decode("utf-8", "surrogateescape")  # a Linux file name that is not UTF-8
PAIRS = [("/a/b.wav", "yes"), ("/a/cé ü.wav", "no"), (ODD, "yes"), ("rel/x.flac", "stop"), ("", "no"), ("z", "yes")]


def test_items_are_the_pairs_they_were_made_of():
    items = Items.of(PAIRS)
    assert len(items) == len(PAIRS) and list(items) == PAIRS
    assert items == PAIRS and items == tuple(PAIRS) and items != PAIRS[:-1] and items != PAIRS[::-1]
    assert [items[i] for i in range(-len(PAIRS), len(PAIRS))] == PAIRS + PAIRS
    with pytest.raises(IndexError):
        items[len(PAIRS)]
    for key in (slice(1, 4), slice(None, None, 2), slice(4, 1), slice(-2, None), slice(None, None, -1)):
        assert list(items[key]) == PAIRS[key], key
    assert list(items.take([4, 0, 0, 2])) == [PAIRS[4], PAIRS[0], PAIRS[0], PAIRS[2]]
    assert list(items.take([])) == []
    assert list(pickle.loads(pickle.dumps(items))) == PAIRS
    assert items.words == ["no", "stop", "yes"] and items.counts() == {"no": 2, "stop": 1, "yes": 3}
    assert list(items.paths) == [p for p, _ in PAIRS] and items.paths[1:3] == [PAIRS[1][0], PAIRS[2][0]]
    assert items.paths[2] == ODD


def test_items_join_with_their_words_renumbered():
    a, b = Items.of(PAIRS[:3]), Items.of([("q", "zz"), ("r", "yes")] + PAIRS[3:])
    joined = Items.concat([a, Items.of([]), b])
    assert list(joined) == PAIRS[:3] + [("q", "zz"), ("r", "yes")] + PAIRS[3:]
    assert joined.counts() == {"no": 2, "stop": 1, "yes": 4, "zz": 1}
    assert list(Items.concat([])) == []


def test_a_slice_pickles_as_its_own_pairs_not_the_whole_corpus():
    items = Items.of((f"/data/words/w{k % 7}/recording_{k:06d}.wav", f"w{k % 7}") for k in range(20000))
    whole, part = len(pickle.dumps(items)), len(pickle.dumps(items[100:228]))
    assert part < whole / 100
    held = items._blob.nbytes + items._ends.nbytes + items._codes.nbytes
    assert held < 20000 * (len("/data/words/w0/recording_000000.wav") + 13)


def test_a_corpus_is_read_into_items_sorted_by_word_then_path(tmp_path):
    from wordrec.io import corpus

    data = make_tone_corpus(tmp_path / "data", n_per_word=3)
    found = corpus.load(data)
    expected = sorted(((str(p), p.parent.name) for p in data.glob("*/*.wav")), key=lambda pw: (pw[1], pw[0]))
    assert isinstance(found.items, Items) and list(found.items) == expected
    manifest = tmp_path / "m.tsv"
    manifest.write_text("".join(f"{p}\t{w}\n" for p, w in reversed(expected)))
    assert list(corpus.load(manifest).items) == expected


def _hostile_corpus(root):
    data = make_tone_corpus(root, n_per_word=5)
    (data / "mid" / "broken.wav").write_bytes(b"RIFF not really")
    write_wav(data / "low" / "click.wav", tone([400], 0.02, seed=3))
    (data / "empty").mkdir()
    write_wav(data / "empty" / "tiny.wav", tone([600], 0.01, seed=4))
    return data


def test_the_cached_features_are_the_plain_ones_with_the_same_failures_in_order(tmp_path):
    from wordrec.core.augment import NoiseCopies
    from wordrec.core.features import FeatureConfig
    from wordrec.io import corpus
    from wordrec.jobs import corpus_cache, featurise
    from wordrec.jobs.refs_file import RefsOnDisk

    found = corpus.load(_hostile_corpus(tmp_path / "data"))
    cfg = FeatureConfig.for_rate(8000)
    noise = NoiseCopies(0.5, 5.0, 20.0, 0)
    plain = featurise.features_by_word(list(found.items), cfg, noise=noise)
    (tmp_path / "cache").mkdir()
    for items, jobs in ((found.items, 1), (list(found.items), 2)):
        cached = corpus_cache.features_by_word(items, cfg, str(tmp_path / "cache"), jobs=jobs, noise=noise)
        assert [f.message for f in cached[1]] == [f.message for f in plain[1]]
        assert any("broken.wav" in f.message for f in cached[1]) and any("too short" in f.message for f in cached[1])
        assert any("'empty'" in f.message for f in cached[1])
        for got, want in ((cached[0], plain[0]), (cached[2], plain[2])):
            assert list(got) == list(want) and all(isinstance(v, RefsOnDisk) for v in got.values())
            for w in want:
                assert len(got[w]) == len(want[w])
                for r, a in zip(got[w], want[w]):
                    np.testing.assert_array_equal(np.asarray(r), a.astype(np.float32).astype(float))
        assert cached[2], "the noisy copies are there"


def test_refs_index_slice_join_and_load_as_the_refs_they_hold(tmp_path, rng):
    from wordrec.jobs.store import Ref, Refs, joined, lengths_of, steady_floor, write_shard

    arrays = [rng.normal(size=(int(n), 4)) for n in rng.integers(1, 20, size=30)]
    refs = write_shard(str(tmp_path), 0, arrays[:20], variation=rng.uniform(size=20))
    refs += write_shard(str(tmp_path), 1, arrays[20:], variation=rng.uniform(size=10))
    many = Refs(str(tmp_path), [0] * 20 + [1] * 10, [r.row for r in refs], [len(r) for r in refs],
                [r.variation for r in refs])

    def same(a, b):
        a, b = list(a), list(b)
        return len(a) == len(b) and all(isinstance(x, Ref) and (x.path, x.row, x.n_frames, x.variation)
                                        == (y.path, y.row, y.n_frames, y.variation) for x, y in zip(a, b))

    assert same(many, refs) and same([many[-1]], [refs[-1]])
    for key in (slice(3, 25), slice(None, None, 4), slice(10, 2), np.array([29, 0, 5])):
        assert isinstance(many[key], Refs) and same(many[key], np.array(refs, dtype=object)[key])
    assert same(Refs.concat([many[:5], many[25:]]), refs[:5] + refs[25:]) and same(Refs.concat([many[:3], many[3:]]), refs)
    assert isinstance(joined([many[:4], [], many[4:]]), Refs) and same(joined([many[:4], many[4:]]), refs)
    assert isinstance(joined([many[:4], arrays[:2]]), list)
    assert np.array_equal(lengths_of(many), [len(a) for a in arrays]) and np.array_equal(lengths_of(refs), lengths_of(many))
    for index in (range(30), [29, 3, 3, 4, 10, 2], range(0, 30, 2), range(1, 30, 7), [19, 20, 21], []):
        got = many.load(index)  # runs of a shard read in one piece, gaps and going back cut them
        assert len(got) == len(index) and all(np.array_equal(a, np.asarray(refs[i])) for a, i in zip(got, index))
    assert steady_floor(many, 2) == steady_floor(refs, 2)
    back = pickle.loads(pickle.dumps(many))
    assert same(back, refs) and back == many and many[:-1] != many
    assert len(pickle.dumps(Refs.concat([many] * 1000))) < 30000 * 30


def test_a_word_of_refs_trains_as_its_list_of_arrays(tmp_path, rng):
    from wordrec.core.train import TrainConfig, fit_word
    from wordrec.jobs.store import Refs, write_shard

    arrays = [np.cumsum(rng.normal(size=(int(n), 3)), axis=0) for n in rng.integers(8, 20, size=12)]
    refs = write_shard(str(tmp_path), 0, arrays)
    many = Refs(str(tmp_path), [0] * 12, [r.row for r in refs], [len(r) for r in refs])
    cfg = TrainConfig(n_states=3, n_mix=2, max_iter=3).validated()
    floor = np.full(3, 1e-3)
    a, da = fit_word("w", many, cfg, floor)
    b, db = fit_word("w", [np.asarray(r) for r in refs], cfg, floor)
    assert da == db and np.array_equal(a.means, b.means) and np.array_equal(a.variances, b.variances)


def test_training_on_items_or_on_a_list_of_pairs_writes_the_same_model(tmp_path):
    from wordrec.core.train import TrainConfig
    from wordrec.io import corpus, modelfile
    from wordrec.jobs.training import train_corpus

    found = corpus.load(_hostile_corpus(tmp_path / "data"))
    cfg = TrainConfig(n_states=3, n_mix=2, max_iter=3)
    texts, failures = [], []
    for items, jobs in ((found.items, 2), (list(found.items), 1)):
        models, failed = train_corpus(items, found.words, cfg, jobs=jobs)
        texts.append(modelfile.dumps(models))
        failures.append([f.message for f in failed])
    assert texts[0] == texts[1] and failures[0] == failures[1] and len(failures[0]) == 4


def test_evaluating_items_reports_as_a_list_of_pairs(tmp_path):
    from conftest import train_tone_model

    from wordrec.io import corpus, modelfile
    from wordrec.jobs.evaluation import evaluate_corpus

    data, model, _ = train_tone_model(tmp_path)
    models = modelfile.load(model)
    write_wav(_hostile_corpus(tmp_path / "test") / "other" / "o.wav", tone([700, 1900], 0.5, seed=5))
    found = corpus.load(tmp_path / "test")
    a, fa = evaluate_corpus(models, found.items, jobs=2)
    b, fb = evaluate_corpus(models, list(found.items), jobs=1)
    assert a == b and [f.message for f in fa] == [f.message for f in fb] and a["n_files"] > 10
    assert "other" in a["labels"] and a["errors"], "the word the model lacks is a row, its files errors"


def test_a_tally_reports_what_the_whole_lists_give(rng):
    from wordrec.core.metrics import Tally, report

    words = ["a", "b", "c", "<silence>"]
    truth = [words[i] for i in rng.integers(0, 3, size=200)]
    predicted = [t if rng.uniform() < 0.7 else words[int(rng.integers(0, 4))] for t in truth]
    names = [f"f{i}" for i in range(200)]
    tally = Tally()
    for t, p, n in zip(truth, predicted, names):
        tally.add(t, p, n)
    rep = tally.report(words)
    assert rep == report(truth, predicted, words, names)
    confusion = np.zeros((4, 4), dtype=int)
    for t, p in zip(truth, predicted):
        confusion[words.index(t), words.index(p)] += 1
    assert rep["confusion"] == confusion.tolist() and rep["n_correct"] == int(np.trace(confusion))
    assert [e["path"] for e in rep["errors"]] == [n for n, t, p in zip(names, truth, predicted) if t != p]
    assert tally.report()["labels"] == sorted(set(truth) | set(predicted))


def test_lazy_tasks_are_made_once_each_and_answered_in_order():
    from wordrec.jobs.parallel import Lazy, ordered_map

    made = []

    def make(i):
        made.append(i)
        return i

    tasks = Lazy(37, make)
    assert ordered_map(abs, tasks, jobs=2) == list(range(37)) and sorted(made) == list(range(37))
    assert len(tasks) == 37 and tasks[5] == 5
    with pytest.raises(IndexError):
        tasks[37]


def test_files_from_the_command_line_come_compact_and_in_order(tmp_path):
    from wordrec.api.common import recordings_of
    from wordrec.io import corpus
    from wordrec.io.items import Paths

    data = make_tone_corpus(tmp_path / "data", n_per_word=2)
    (tmp_path / "nothing").mkdir()
    odd = tmp_path / "odd.name"
    odd.write_bytes(b"x")
    files, skipped = corpus.expand([data / "mid", odd, tmp_path / "nothing", data / "low" / "low_1.wav"])
    expected = sorted(str(p) for p in (data / "mid").glob("*.wav")) + [str(odd), str(tmp_path / "nothing"),
                                                                       str(data / "low" / "low_1.wav")]
    assert isinstance(files, Paths) and list(files) == expected and len(files) == 5 and files[2] == str(odd)
    assert recordings_of(files) is files and skipped == []
    empty, _ = corpus.expand([])
    assert len(empty) == 0 and not empty


def test_freed_memory_is_handed_back_through_malloc_trim_and_quietly_skipped_without_it(monkeypatch):
    import ctypes

    from wordrec.io.items import give_back_freed_memory

    calls = []

    class Glibc:
        def __init__(self, name):
            calls.append(name)

        def malloc_trim(self, pad):
            calls.append(pad)
            return 1

    class NoTrim:  # a C library without malloc_trim (macOS, musl)
        def __init__(self, name):
            pass

    def missing(name):
        raise OSError("no C library")

    monkeypatch.setattr(ctypes, "CDLL", Glibc)
    give_back_freed_memory()
    assert calls == [None, 0]  # the process's own C library, all free memory
    for fake in (NoTrim, missing):
        monkeypatch.setattr(ctypes, "CDLL", fake)
        assert give_back_freed_memory() is None


def _rss_kb() -> int:
    from pathlib import Path

    return next(int(line.split()[1]) for line in Path("/proc/self/smaps_rollup").read_text().splitlines()
                if line.startswith("Rss:"))


def test_spilled_items_are_the_same_pairs_and_let_go_of_their_pages(tmp_path):
    import os

    pairs = [(f"/data/words/w{k % 7}/recording_{k:07d}_{'x' * 60}.wav", f"w{k % 7}") for k in range(100_000)]
    items = Items.of(pairs)
    plain = pickle.dumps(items)
    assert items.spill(str(tmp_path)) is items and items.spill() is items  # a second spill changes nothing
    assert os.listdir(tmp_path) == []  # the file has no name: nothing is left behind
    assert items == pairs and list(items[500:700]) == pairs[500:700] and list(items.take([9, 3])) == [pairs[9], pairs[3]]
    assert pickle.dumps(items) == plain and items.counts() == Items.of(pairs).counts()
    if not os.path.exists("/proc/self/smaps_rollup"):
        pytest.skip("no /proc/self/smaps_rollup to see the pages")
    items.release()
    before = _rss_kb()
    assert sum(len(p) for p, _ in items) > 0  # every page read
    read = _rss_kb()
    items.release()
    assert read - _rss_kb() > 0.5 * items._blob.nbytes / 1024, "the pages read are let go of"
    assert items[99_999] == pairs[99_999]  # and read back from the file when needed
    assert read - before > 0.5 * items._blob.nbytes / 1024
    assert list(Items.of([]).spill()) == []


def test_items_that_cannot_be_spilled_stay_as_they_are(tmp_path, monkeypatch):
    import tempfile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    items = Items.of(PAIRS)
    assert items.spill(str(tmp_path)) is items and items._map is None and items == PAIRS
    items.release()  # nothing to let go of
    assert items == PAIRS
