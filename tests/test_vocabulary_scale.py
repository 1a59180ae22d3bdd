"""Large vocabularies: bands without dense matrices, per-recording short lists, the first pass."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import random_word

from wordrec.core import model
from wordrec.core.features import FeatureConfig
from wordrec.core.hmm import bands
from wordrec.core.pairs import PairScorer
from wordrec.core.score import Scorer, score
from wordrec.core.shortlist import Shortlister, state_moments
from wordrec.core.wordgroups import band_values, segment_logsumexp


def _models(rng, n_features=3, outlier=True):
    """Left-to-right and ergodic words of several shapes, interleaved, with an outlier component."""
    shapes = [(3, 2, False), (2, 1, True), (5, 1, False), (1, 3, True), (4, 2, True), (3, 2, False), (2, 2, False)] * 3
    words = tuple(random_word(rng, f"w{i:02d}", s, m, n_features, e) for i, (s, m, e) in enumerate(shapes))
    out = model.Outlier(0.01, rng.normal(size=n_features), rng.uniform(2.0, 4.0, size=n_features)) if outlier else None
    return model.ModelSet(FeatureConfig(), words, outlier=out)


def test_bands_of_a_group_are_those_of_its_block_diagonal_matrix():
    rng = np.random.default_rng(0)
    words = [random_word(rng, f"w{i}", s, 1, 2, False) for i, s in enumerate((3, 1, 4, 2))]
    n = sum(w.n_states for w in words)
    dense = np.full((n, n), -np.inf)
    at = 0
    for w in words:
        dense[at : at + w.n_states, at : at + w.n_states] = w.log_trans
        at += w.n_states
    expected = bands(dense)
    got = band_values(words, (0, 1))
    assert [d for d, _ in got] == [d for d, _ in expected]
    for (_, a), (_, b) in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_segment_logsumexp_equals_logsumexp_of_each_segment():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 9)) * 50
    a[1, 3:5] = -np.inf  # a segment of -inf only
    bounds = np.array([0, 3, 5, 9])
    got = segment_logsumexp(a, bounds)
    for k in range(3):
        seg = a[:, bounds[k] : bounds[k + 1]]
        with np.errstate(divide="ignore"):
            expected = np.log(np.exp(seg - 100).sum(axis=1)) + 100
        np.testing.assert_allclose(got[:, k], expected, rtol=1e-12)
    assert got[1, 1] == -np.inf


@pytest.mark.parametrize("outlier", [True, False])
def test_pairs_score_each_chosen_word_as_the_exact_pass_does(outlier):
    rng = np.random.default_rng(2)
    ms = _models(rng, outlier=outlier)
    feats = [rng.normal(size=(n, 3)) for n in (9, 1, 4, 13, 2, 6, 3)]
    exact = score(ms, feats)
    n_words = len(ms.models)
    everything = PairScorer(ms).score(feats, np.tile(np.arange(n_words), (len(feats), 1)))
    np.testing.assert_allclose(everything, exact, rtol=1e-9)
    assert np.array_equal(np.isinf(everything), np.isinf(exact)) and np.isinf(exact).any()
    chosen = np.array([rng.permutation(n_words)[:4] for _ in feats])
    chosen[2, 1] = -1  # no word in this slot
    some = PairScorer(ms).score(feats, chosen)
    for i, row in enumerate(chosen):
        picked = row[row >= 0]
        np.testing.assert_allclose(some[i, picked], exact[i, picked], rtol=1e-9)
        assert np.all(np.isneginf(np.delete(some[i], picked)))


def test_pairs_in_small_chunks_give_the_same_scores(monkeypatch):
    from wordrec.core import pairs

    rng = np.random.default_rng(3)
    ms = _models(rng)
    feats = [rng.normal(size=(n, 3)) for n in (30, 5, 12)]
    chosen = np.array([rng.permutation(len(ms.models))[:5] for _ in feats])
    whole = PairScorer(ms).score(feats, chosen)
    monkeypatch.setattr(pairs, "_CHUNK_ELEMENTS", 10)
    np.testing.assert_allclose(PairScorer(ms).score(feats, chosen), whole, rtol=1e-12)


def test_state_moments_are_those_of_the_whole_mixture():
    rng = np.random.default_rng(4)
    w = rng.dirichlet(np.ones(3), size=2)
    means, variances = rng.normal(size=(2, 3, 4)), rng.uniform(0.5, 2, size=(2, 3, 4))
    mean, var = state_moments(w, means, variances)
    for s in range(2):
        m = sum(w[s, k] * means[s, k] for k in range(3))
        second = sum(w[s, k] * (variances[s, k] + means[s, k] ** 2) for k in range(3))
        np.testing.assert_allclose(mean[s], m, rtol=1e-12)
        np.testing.assert_allclose(var[s], second - m**2, rtol=1e-12)


def _log_gauss(x, mean, var):
    return -0.5 * np.sum(np.log(2 * np.pi * var) + (x - mean) ** 2 / var, axis=-1)


def test_first_pass_scores_are_the_best_nearby_state_of_every_second_frame():
    from wordrec.core.shortlist import FRAME_STEP, SEGMENTS, WINDOW

    rng = np.random.default_rng(5)
    ms = _models(rng)
    feats = [rng.normal(size=(n, 3)) for n in (9, 4, 13)]
    got = Shortlister(ms).scores(feats)
    w = ms.outlier.weight
    for i, x in enumerate(feats):
        for j, wm in enumerate(ms.models):
            if len(x) < wm.min_frames():
                assert got[i, j] == -np.inf
                continue
            mean, var = state_moments(wm.weights, wm.means, wm.variances)
            total = 0.0
            for t in range(0, len(x), FRAME_STEP):
                g = t * SEGMENTS // len(x)  # the part of the recording frame t is in
                s = wm.n_states
                near = range(max(0, g * s // SEGMENTS - WINDOW), min(s, -(-(g + 1) * s // SEGMENTS) + WINDOW))
                best = max(_log_gauss(x[t], mean[k], var[k]) for k in near)
                outlier = np.log(w) + _log_gauss(x[t], ms.outlier.mean, ms.outlier.variance)
                total += np.logaddexp(best + np.log1p(-w), outlier)
            assert got[i, j] == pytest.approx(FRAME_STEP * total, rel=1e-4)


def test_a_short_list_scores_its_words_exactly_and_leaves_out_the_others():
    rng = np.random.default_rng(6)
    ms = _models(rng)
    feats = [rng.normal(size=(n, 3)) for n in (9, 4, 13, 7)]
    exact = score(ms, feats)
    first = Shortlister(ms).scores(feats)
    got = score(ms, feats, shortlist=5)
    for i in range(len(feats)):
        kept = np.flatnonzero(got[i] > -np.inf)
        assert 0 < len(kept) <= 5
        np.testing.assert_allclose(got[i, kept], exact[i, kept], rtol=1e-9)
        # The kept words are the first pass's best.
        assert first[i, kept].min() >= np.sort(first[i])[-5]
    # A short list as long as the vocabulary is the exact pass itself.
    np.testing.assert_array_equal(score(ms, feats, shortlist=len(ms.models)), exact)


def test_a_scorer_prepared_once_gives_what_score_gives():
    rng = np.random.default_rng(7)
    ms = _models(rng)
    scorer = Scorer(ms)
    for n in (3, 8):
        feats = [rng.normal(size=(k, 3)) for k in range(n, n + 4)]
        np.testing.assert_array_equal(scorer.score(feats), score(ms, feats))
        np.testing.assert_array_equal(scorer.score(feats, 4), score(ms, feats, shortlist=4))


def test_the_models_last_scored_are_prepared_once_and_other_models_get_their_own():
    from wordrec.core.score import prepared

    rng = np.random.default_rng(8)
    first, second = _models(rng), _models(rng)
    assert prepared(first) is prepared(first)
    other = prepared(second)
    assert other is not prepared(first) and other.models is second
    feats = [rng.normal(size=(k, 3)) for k in range(4, 9)]
    # score() on a model set uses its prepared Scorer: the same numbers as a fresh one, for each set.
    for ms in (first, second, first):
        np.testing.assert_array_equal(score(ms, feats), Scorer(ms).score(feats))


def test_a_model_too_large_for_its_file_is_refused_before_any_recording_is_read(tmp_path, monkeypatch):
    from wordrec.core.train import TrainConfig
    from wordrec.errors import WordrecError
    from wordrec.io import caps
    from wordrec.jobs.training import train_corpus

    monkeypatch.setattr(caps, "MAX_PARAMETERS", 20_000)
    items = [(tmp_path / f"w{i}" / "missing.wav", f"w{i}") for i in range(12)]
    with pytest.raises(WordrecError, match="would be too large.*12 words of 8 states x 3 Gaussians"):
        train_corpus(items, [w for _, w in items], TrainConfig())


@pytest.mark.parametrize("n_words", [3, 4, 5])
@pytest.mark.parametrize("ergodic", [False, True])
def test_the_planned_size_is_refused_exactly_when_the_trained_model_would_be(monkeypatch, n_words, ergodic):
    from wordrec.errors import WordrecError
    from wordrec.io import caps, validate

    # Caps small enough that 3 to 5 small words straddle them.
    for mod in (caps, validate):
        monkeypatch.setattr(mod, "MAX_PARAMETERS", 4 * (4 + 16 + 4 * 2 * 7) + 2 + 3 * 7)
        monkeypatch.setattr(mod, "MAX_MOVES", 4 * 4 * (7 if ergodic else 2) + 1)
    rng = np.random.default_rng(n_words)
    words = tuple(random_word(rng, f"w{i}", 4, 2, 3, ergodic) for i in range(n_words))
    background = random_word(rng, "<background>", 1, 3, 3, True)
    ms = model.ModelSet(FeatureConfig(), words, background=background)
    problem = caps.planned_size_problem(n_words, 4, 2, 3, "ergodic" if ergodic else "left-to-right", 3)
    try:
        validate._check_size(ms)
        refused = False
    except WordrecError:
        refused = True
    assert refused == (problem is not None) == (n_words > 4)


def test_large_vocabularies_get_a_short_list_by_default_and_small_ones_none(monkeypatch):
    from wordrec.core import score as score_mod

    rng = np.random.default_rng(8)
    ms = _models(rng)
    feats = [rng.normal(size=(n, 3)) for n in (9, 4, 13, 7)]
    exact = score(ms, feats, shortlist=None)
    np.testing.assert_array_equal(score(ms, feats), exact)  # 21 words: at most SHORTLIST_FROM
    monkeypatch.setattr(score_mod, "SHORTLIST_FROM", 10)
    monkeypatch.setattr(score_mod, "SHORTLIST", 3)
    got = score(ms, feats)
    np.testing.assert_array_equal(got, score(ms, feats, shortlist=3))
    assert np.all(np.isfinite(got).sum(axis=1) <= 3)


def test_a_word_to_include_is_scored_whatever_the_first_pass_says():
    rng = np.random.default_rng(9)
    ms = _models(rng)
    feats = [rng.normal(size=(n, 3)) for n in (9, 13, 7)]
    exact = score(ms, feats, shortlist=None)
    first = Shortlister(ms).scores(feats)
    worst = np.argmin(np.where(np.isfinite(exact), first, np.inf), axis=1)  # scorable, but ranked last
    got = score(ms, feats, shortlist=3, include=worst)
    for i, w in enumerate(worst):
        assert got[i, w] == pytest.approx(exact[i, w], rel=1e-9)
        assert np.isfinite(got[i]).sum() == 4  # the 3 best and the one included
