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
