import itertools

import numpy as np
import pytest

from wordrec.core.gmm import logsumexp, safe_log
from wordrec.core.hmm import Batch, backward, forward, posteriors, viterbi


def _paths(n_states, n_frames):
    return itertools.product(range(n_states), repeat=n_frames)


def _path_log_prob(path, log_b, log_start, log_trans, log_end):
    lp = log_start[path[0]] + log_b[0, path[0]]
    for t in range(1, len(path)):
        lp += log_trans[path[t - 1], path[t]] + log_b[t, path[t]]
    return lp + log_end[path[-1]]


def _models(rng):
    """A left-to-right model with an end constraint, and an ergodic one."""
    lr = np.array([[0.6, 0.4, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    yield np.array([1.0, 0.0, 0.0]), lr, np.array([False, False, True])
    yield rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3), size=3), np.ones(3, bool)
    skip = np.array([[0.5, 0.3, 0.2], [0.0, 0.6, 0.4], [0.0, 0.0, 1.0]])
    yield np.array([1.0, 0.0, 0.0]), skip, np.array([False, True, True])


@pytest.mark.parametrize("which", [0, 1, 2])
def test_forward_equals_brute_force_sum_over_paths(rng, which):
    start, trans, final = list(_models(rng))[which]
    ls, lt, le = safe_log(start), safe_log(trans), np.where(final, 0.0, -np.inf)
    lengths = [4, 1, 3, 5, 2, 5]
    seqs = [rng.normal(size=(n, 3)) * 2 for n in lengths]
    batch = Batch.of(lengths)
    _, ll = forward(batch.pad(batch.stack(seqs)), batch, ls, lt, le)
    for k, i in enumerate(batch.order):
        brute = logsumexp(np.array([_path_log_prob(p, seqs[i], ls, lt, le) for p in _paths(3, lengths[i])]), 0)
        if np.isinf(brute):
            assert ll[k] == -np.inf
        else:
            np.testing.assert_allclose(ll[k], brute, rtol=1e-12)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_posteriors_and_transition_counts_equal_brute_force(rng, which):
    start, trans, final = list(_models(rng))[which]
    ls, lt, le = safe_log(start), safe_log(trans), np.where(final, 0.0, -np.inf)
    lengths = [5, 3, 4]
    seqs = [rng.normal(size=(n, 3)) for n in lengths]
    batch = Batch.of(lengths)
    post = posteriors(batch.stack(seqs), batch, ls, lt, le)
    gamma_ref = np.zeros((sum(lengths), 3))
    counts_ref = np.zeros((3, 3))
    offset = 0
    for i in batch.order:
        n = lengths[i]
        paths = list(_paths(3, n))
        lps = np.array([_path_log_prob(p, seqs[i], ls, lt, le) for p in paths])
        probs = np.exp(lps - logsumexp(lps, 0))
        for p, pr in zip(paths, probs):
            for t, s in enumerate(p):
                gamma_ref[offset + t, s] += pr
            for a, b in zip(p, p[1:]):
                counts_ref[a, b] += pr
        offset += n
    np.testing.assert_allclose(post.gamma, gamma_ref, atol=1e-12)
    np.testing.assert_allclose(post.gamma.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(post.trans_counts, counts_ref, atol=1e-12)


def test_wikipedia_umbrella_example():
    """Smoothed posteriors of the forward-backward example on Wikipedia.

    Rain/no-rain with observations umbrella, umbrella, no umbrella,
    umbrella, umbrella; the published values (4 decimals) are P(rain).
    """
    trans = np.array([[0.7, 0.3], [0.3, 0.7]])
    emit = np.array([[0.9, 0.1], [0.2, 0.8]])  # rows: rain, no rain; columns: umbrella, none
    obs = [0, 0, 1, 0, 0]
    log_b = np.log(emit[:, obs].T)
    start = np.array([0.5, 0.5]) @ trans  # the example's prior is one step before the first day
    batch = Batch.of([5])
    post = posteriors(log_b, batch, np.log(start), np.log(trans), np.zeros(2))
    np.testing.assert_allclose(post.gamma[:, 0], [0.8673, 0.8204, 0.3075, 0.8204, 0.8673], atol=1e-4)


def test_backward_total_matches_forward(rng):
    start, trans, final = list(_models(rng))[1]
    seqs = [rng.normal(size=(n, 3)) for n in (6, 2, 4)]
    batch = Batch.of([6, 2, 4])
    padded = batch.pad(batch.stack(seqs))
    la, ll = forward(padded, batch, np.log(start), np.log(trans), np.zeros(3))
    lb = backward(padded, batch, np.log(trans), np.zeros(3))
    totals = logsumexp(la[0] + lb[0], axis=1)
    np.testing.assert_allclose(totals, ll, rtol=1e-12)


def test_viterbi_equals_brute_force_best_path(rng):
    start, trans, final = list(_models(rng))[0]
    ls, lt, le = safe_log(start), safe_log(trans), np.where(final, 0.0, -np.inf)
    x = rng.normal(size=(6, 3)) * 2
    path, lp = viterbi(x, ls, lt, le)
    best = max(_paths(3, 6), key=lambda p: _path_log_prob(p, x, ls, lt, le))
    assert tuple(path) == best
    np.testing.assert_allclose(lp, _path_log_prob(best, x, ls, lt, le))


def test_long_sequences_do_not_underflow(rng):
    """Thousands of frames with very unlikely emissions stay finite in the log domain."""
    trans = np.array([[0.9, 0.1], [0.0, 1.0]])
    x = rng.normal(size=(5000, 2)) * 50 - 400
    batch = Batch.of([5000])
    _, ll = forward(batch.pad(x), batch, np.log([1.0, 1e-300]), safe_log(trans), np.array([-np.inf, 0.0]))
    assert np.isfinite(ll).all()


@pytest.mark.parametrize("budget", [1, 8 * 5 * 9 * 7])
def test_passes_in_time_chunks_equal_the_passes_in_one_go(rng, monkeypatch, budget):
    # Dense transitions on long recordings make their band terms in chunks of
    # time steps (hmm.TERMS_BYTES); the sums must not change at all.  Budget
    # 1: one time step a chunk; the other: a few steps, some cut mid-batch.
    from wordrec.core import hmm

    n = 5
    trans = rng.dirichlet(np.ones(n), size=n)
    ls, lt, le = safe_log(rng.dirichlet(np.ones(n))), safe_log(trans), np.zeros(n)
    lengths = [40, 1, 17, 33, 2, 40, 9]
    batch = Batch.of(lengths)
    lb = rng.normal(size=(sum(lengths), n)) * 3
    packed = lb[batch.packed]
    whole = hmm.forward_packed(packed, batch.offsets, ls, lt), hmm.backward_packed(packed, batch.offsets, lt, le)
    monkeypatch.setattr(hmm, "TERMS_BYTES", budget)
    chunked = hmm.forward_packed(packed, batch.offsets, ls, lt), hmm.backward_packed(packed, batch.offsets, lt, le)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(whole[0]).all() and np.isfinite(whole[1]).all()
