"""Bounded memory: EM in chunks of recordings, features on disk, results independent of the cut and of -j."""

from __future__ import annotations

import numpy as np
import pytest

from wordrec.core import train
from wordrec.core.baumwelch import InMemory, accumulate, em_chunks
from wordrec.core.gmm import design
from wordrec.core.hmm import Batch
from wordrec.core.train import TrainConfig, fit_word, variance_floor


def _sample(rng, n_seqs, n_features=4):
    """Sequences from a 3-state left-to-right HMM with 2-Gaussian states."""
    centres = rng.normal(size=(3, 2, n_features)) * 4
    seqs = []
    for _ in range(n_seqs):
        frames = []
        for s, d in enumerate(rng.integers(3, 12, size=3)):
            frames.append(centres[s, rng.integers(0, 2, size=d)] + rng.normal(size=(d, n_features)))
        seqs.append(np.vstack(frames))
    return seqs


def test_em_chunks_cut_in_order_within_the_bound():
    lengths = np.array([5, 3, 9, 2, 2, 7, 1])
    index = np.array([0, 1, 2, 3, 5, 6])  # recording 4 left out (too short, say)
    chunks = em_chunks(lengths, index, 10)
    assert np.array_equal(np.concatenate(chunks), index)
    assert all(lengths[c].sum() <= 10 or len(c) == 1 for c in chunks)
    assert [list(c) for c in chunks] == [[0, 1], [2], [3, 5, 6]]
    assert [list(c) for c in em_chunks(lengths, index, 1)] == [[i] for i in index]  # one recording at least


def test_statistics_of_chunks_add_up_to_those_of_the_whole(rng):
    seqs = _sample(rng, 12)
    cfg = TrainConfig(n_states=3, n_mix=2)
    m, _ = fit_word("w", seqs, cfg, variance_floor(seqs, 0.01))
    params = train._Params(m.startprob, m.transmat, m.final, m.weights, m.means, m.variances)

    def stats(part):
        batch = Batch.of([len(s) for s in part])
        return accumulate(params, design(batch.stack(part)), batch)

    whole = stats(seqs)
    summed = stats(seqs[:5]) + stats(seqs[5:9]) + stats(seqs[9:])
    for name in ("occupancy", "sums", "trans", "first"):
        np.testing.assert_allclose(getattr(summed, name), getattr(whole, name), rtol=1e-9, atol=1e-9)
    assert summed.log_lik == pytest.approx(whole.log_lik, rel=1e-12)


@pytest.mark.parametrize("topology", ["left-to-right", "ergodic"])
def test_a_word_trained_in_chunks_is_the_word_trained_whole(rng, monkeypatch, topology):
    seqs = _sample(rng, 40)
    cfg = TrainConfig(n_states=3, n_mix=2, topology=topology, tol=0.0, max_iter=6)
    floor = variance_floor(seqs, 0.01)
    whole, diag_whole = fit_word("w", seqs, cfg, floor)
    monkeypatch.setattr(train, "EM_CHUNK_FRAMES", 60)  # a few recordings a chunk
    chunked, diag = fit_word("w", seqs, cfg, floor)
    again, _ = fit_word("w", seqs, cfg, floor)
    for name in ("startprob", "transmat", "weights", "means", "variances"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-7, atol=1e-9)
        assert np.array_equal(getattr(again, name), getattr(chunked, name))  # deterministic
    np.testing.assert_allclose(np.concatenate(diag["log_lik"]), np.concatenate(diag_whole["log_lik"]), rtol=1e-9)


def test_a_source_is_trained_on_as_the_list_it_holds(rng):
    seqs = _sample(rng, 10)
    cfg = TrainConfig(n_states=3, n_mix=2, max_iter=4)
    floor = variance_floor(seqs, 0.01)
    a, _ = fit_word("w", seqs, cfg, floor)
    b, _ = fit_word("w", InMemory(seqs), cfg, floor)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.transmat, b.transmat)


def _read_all(refs):
    return [np.asarray(r) for r in refs]


def test_features_on_disk_read_back_as_float32_of_what_was_written(tmp_path, rng):
    import pickle

    from wordrec.jobs.store import Ref, write_shard

    arrays = [rng.normal(size=(n, 5)) for n in (4, 1, 7)]
    refs = write_shard(str(tmp_path), 3, arrays)
    assert [len(r) for r in refs] == [4, 1, 7] and (tmp_path / "shard_000003.npy").is_file()
    assert not list(tmp_path.glob("*.part"))
    for r, a in zip(refs, arrays):
        np.testing.assert_array_equal(np.asarray(r), a.astype(np.float32).astype(float))
        assert np.asarray(r).dtype == np.float64 and r.shape == a.shape
    back = pickle.loads(pickle.dumps(refs))
    assert all(isinstance(r, Ref) and np.array_equal(np.asarray(r), np.asarray(s)) for r, s in zip(back, refs))
    np.testing.assert_array_equal(np.concatenate(refs), np.concatenate(_read_all(refs)))


def test_workers_forked_with_open_shards_read_the_right_rows(tmp_path, rng):
    from wordrec.jobs.parallel import ordered_map
    from wordrec.jobs.store import write_shard

    refs = write_shard(str(tmp_path), 0, [rng.normal(size=(int(n), 6)) for n in rng.integers(1, 40, size=300)])
    expected = _read_all(refs)  # opens the shard here, before the workers fork
    got = ordered_map(_read_all, [refs[k : k + 10] for k in range(0, 300, 10)] * 4, 2)
    for part, k in zip(got, list(range(0, 300, 10)) * 4):
        assert all(np.array_equal(a, b) for a, b in zip(part, expected[k : k + 10]))


def test_the_feature_cache_is_removed_at_the_end_also_on_errors(tmp_path):
    from wordrec.jobs.store import FeatureCache, write_shard

    with pytest.raises(RuntimeError):
        with FeatureCache(str(tmp_path)) as cache:
            write_shard(cache.path, 0, [np.zeros((2, 3))])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_moments_read_in_blocks_are_those_of_all_frames(tmp_path, rng):
    from wordrec.core.train import frame_moments
    from wordrec.jobs.store import write_shard
    from wordrec.jobs.training import problem_moments

    arrays = [rng.normal(size=(int(n), 4)) * 3 + 1 for n in rng.integers(1, 30, size=50)]
    refs = write_shard(str(tmp_path), 0, arrays)
    mean, var = frame_moments(_read_all(refs))
    [(m1, v1)] = problem_moments([refs])
    assert np.array_equal(m1, mean) and np.array_equal(v1, var)  # one block: the same numbers
    [(m2, v2)] = problem_moments([refs], block_frames=40)
    np.testing.assert_allclose(m2, mean, rtol=1e-10)
    np.testing.assert_allclose(v2, var, rtol=1e-10)


def test_training_from_the_cache_leaves_nothing_behind_and_does_not_depend_on_jobs(tmp_path):
    from conftest import make_tone_corpus

    from wordrec.jobs.training import train_corpus
    from wordrec.io import modelfile

    data = make_tone_corpus(tmp_path / "data", n_per_word=6)
    items = sorted((p, p.parent.name) for p in data.glob("*/*.wav"))
    words = sorted({w for _, w in items})
    cache = tmp_path / "cache"
    cache.mkdir()
    cfg = TrainConfig(n_states=3, n_mix=2, max_iter=4)
    texts = []
    for jobs in (1, 2):
        models, _ = train_corpus(items, words, cfg, jobs=jobs, cache=str(cache))
        texts.append(modelfile.dumps(models))
        assert list(cache.iterdir()) == []
    assert texts[0] == texts[1]


def test_recognition_in_blocks_and_workers_answers_as_in_one_batch(tmp_path, monkeypatch):
    from conftest import make_tone_corpus

    from wordrec.jobs import recognition
    from wordrec.jobs.training import train_corpus

    data = make_tone_corpus(tmp_path / "data", n_per_word=5)
    items = sorted((p, p.parent.name) for p in data.glob("*/*.wav"))
    models, _ = train_corpus(items, sorted({w for _, w in items}), TrainConfig(n_states=3, n_mix=2, max_iter=4))
    paths = [p for p, _ in items] + [tmp_path / "missing.wav"]
    whole = recognition.recognize_files(models, paths, 2)
    monkeypatch.setattr(recognition, "BLOCK_FILES", 4)
    seen = []
    stream = recognition.recognize_stream(models, paths, 2, seen.append, jobs=2)
    first = next(stream)
    assert seen == [4]  # the first block is answered before the others are read
    rest = [first] + list(stream)

    def key(a):
        return (a.path, a.failure) if a.failure else (a.path, a.word, a.confidence, a.ranked.log_liks)

    for blocks in (rest, recognition.recognize_files(models, paths, 2, jobs=1)):
        assert [key(a) for a in blocks] == [key(a) for a in whole]
    assert rest[-1].failure is not None and sum(seen) == len(paths)


@pytest.mark.parametrize("text, expected", [("2G", 2 << 30), ("1500M", 1500 << 20), ("2GiB", 2 << 30), ("4096", 4096), ("1.5k", 1536)])
def test_memory_sizes_are_read_with_their_units(text, expected):
    from wordrec.cli.common import memory_bytes

    assert memory_bytes(text) == expected


def test_a_memory_budget_caps_the_workers_and_a_bad_size_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from wordrec.cli import cli
    from wordrec.jobs.parallel import PARENT_BYTES, WORKER_BYTES, jobs_within

    assert jobs_within(8, PARENT_BYTES + 3 * WORKER_BYTES) == 3
    assert jobs_within(2, PARENT_BYTES + 3 * WORKER_BYTES) == 2
    assert jobs_within(4, 1) == 1  # one worker whatever the budget
    result = CliRunner().invoke(cli, ["train", str(tmp_path), "-o", str(tmp_path / "m"), "--memory", "lots"])
    assert result.exit_code == 2 and "'lots' is not a size" in result.output


def test_moments_summed_by_workers_do_not_depend_on_jobs(tmp_path, rng):
    from wordrec.core.train import frame_moments
    from wordrec.jobs.store import write_shard
    from wordrec.jobs.training import problem_moments

    arrays = [rng.normal(size=(int(n), 3)) * 2 - 1 for n in rng.integers(1, 40, size=80)]
    refs = write_shard(str(tmp_path), 0, arrays)
    lists = [refs, refs[5:30], refs[:1]]
    one = problem_moments(lists, jobs=1, block_frames=50)  # many blocks: more than the pool threshold
    two = problem_moments(lists, jobs=2, block_frames=50)
    for (m1, v1), (m2, v2), seqs in zip(one, two, lists):
        assert np.array_equal(m1, m2) and np.array_equal(v1, v2)
        mean, var = frame_moments(_read_all(seqs))
        np.testing.assert_allclose(m1, mean, rtol=1e-10)
        np.testing.assert_allclose(v1, var, rtol=1e-10)
    whole = problem_moments([refs], jobs=2, block_frames=10**9)[0]  # one block: exactly frame_moments
    assert all(np.array_equal(a, b) for a, b in zip(whole, frame_moments(_read_all(refs))))
