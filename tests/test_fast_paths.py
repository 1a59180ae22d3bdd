"""The fast paths give what the plain definitions give.

Scoring runs all words as one block-diagonal model, EM can run at a fixed
mixture count (the speed benchmark's like-for-like setting), and the
packed forward-backward keeps padded and stacked layouts consistent.
"""

import dataclasses

import numpy as np

from synthetic import random_word

from wordrec.core.features import FeatureConfig
from wordrec.core.gmm import design, emission_log_densities, safe_log
from wordrec.core.hmm import Batch, backward, forward, log_likelihood, posteriors
from wordrec.core.model import ModelSet, Outlier, WordModel
from wordrec.core.score import score
from wordrec.core.train import TrainConfig, fit_word, variance_floor


def test_joint_scoring_equals_scoring_each_word_alone(rng):
    D = 4
    models = (
        random_word(rng, "a", 3, 2, D, False),
        random_word(rng, "b", 5, 1, D, False),
        random_word(rng, "c", 2, 3, D, True),
    )
    ms = ModelSet(FeatureConfig(), models, {}, {})
    feats = [rng.normal(size=(n, D)) for n in (7, 1, 4, 12, 3, 5)]
    got = score(ms, feats)
    batch = Batch.of([len(f) for f in feats])
    XX = design(batch.stack(feats))
    for j, wm in enumerate(models):
        log_b = emission_log_densities(XX, wm.log_weights, wm.means, wm.variances)
        ref = np.empty(len(feats))
        ref[batch.order] = log_likelihood(log_b, batch, wm.log_start, wm.log_trans, wm.log_end)
        np.testing.assert_allclose(got[:, j], ref, rtol=1e-12)
    # Shorter than a left-to-right model allows: no path, -inf.
    assert got[1, 0] == -np.inf and got[1, 1] == -np.inf and np.isfinite(got[1, 2])


def _with_component(wm: WordModel, weight: float, mean, variance) -> WordModel:
    """``wm`` with one more Gaussian in every state's mixture, as a plain GMM-HMM."""
    S, M, D = wm.means.shape
    return dataclasses.replace(
        wm,
        weights=np.concatenate([wm.weights * (1 - weight), np.full((S, 1), weight)], axis=1),
        means=np.concatenate([wm.means, np.broadcast_to(mean, (S, 1, D))], axis=1),
        variances=np.concatenate([wm.variances, np.broadcast_to(variance, (S, 1, D))], axis=1),
    )


def test_the_outlier_component_is_one_more_gaussian_in_every_state(rng):
    D = 4
    models = (random_word(rng, "a", 3, 2, D, False), random_word(rng, "b", 4, 1, D, False), random_word(rng, "c", 2, 3, D, True))
    outlier = Outlier(0.01, rng.normal(size=D), rng.uniform(2.0, 5.0, size=D))
    feats = [rng.normal(size=(n, D)) * 3 for n in (7, 4, 12, 5)]
    got = score(ModelSet(FeatureConfig(), models, {}, {}, outlier=outlier), feats)
    explicit = tuple(_with_component(wm, outlier.weight, outlier.mean, outlier.variance) for wm in models)
    np.testing.assert_allclose(got, score(ModelSet(FeatureConfig(), explicit, {}, {}), feats), rtol=1e-12)


def test_one_wild_frame_costs_at_most_the_outlier_density(rng):
    # log p(x') >= log p(x) + log(w g(x'_t)) - max_s log b_s(x_t) when frame t of x is replaced:
    # every state emits x'_t with at least w g(x'_t).  Without the component the loss is unbounded.
    D = 4
    models = (random_word(rng, "a", 3, 2, D, False), random_word(rng, "b", 5, 2, D, False))
    outlier = Outlier(1e-4, np.zeros(D), np.full(D, 4.0))
    with_outlier = ModelSet(FeatureConfig(), models, {}, {}, outlier=outlier)
    without = ModelSet(FeatureConfig(), models, {}, {})
    clean = rng.normal(size=(10, D))
    wild = clean.copy()
    wild[4] = 1e3
    for ms, bounded in ((with_outlier, True), (without, False)):
        before, after = score(ms, [clean, wild])
        if bounded:
            XX = design(clean[4:5])
            best = max(
                outlier.mix_into(emission_log_densities(XX, wm.log_weights, wm.means, wm.variances).T.copy(), XX).max()
                for wm in models
            )
            gain = outlier.log_density(design(wild[4:5]))[0]
            assert np.all(after >= before + gain - best - 1e-9)
        else:
            assert np.all(after < before - 1e4)


def test_forward_backward_layouts_agree_with_posteriors(rng):
    lt = safe_log(np.array([[0.6, 0.4, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]]))
    ls, le = safe_log(np.array([1.0, 0.0, 0.0])), np.array([-np.inf, -np.inf, 0.0])
    lengths = [6, 2, 9, 4, 4]
    seqs = [rng.normal(size=(n, 3)) for n in lengths]
    batch = Batch.of(lengths)
    log_b = batch.stack(seqs)
    la, ll = forward(batch.pad(log_b, -np.inf), batch, ls, lt, le)
    lbeta = backward(batch.pad(log_b, -np.inf), batch, lt, le)
    post = posteriors(log_b, batch, ls, lt, le)
    np.testing.assert_allclose(post.log_lik, ll, rtol=1e-13)
    ok = np.isfinite(ll)[batch.seq]
    gamma = np.exp(batch.unpad(la) + batch.unpad(lbeta) - np.where(ok, ll[batch.seq], 0.0)[:, None])
    np.testing.assert_allclose(post.gamma[ok], gamma[ok], atol=1e-12)
    assert np.all(post.gamma[~ok] == 0)  # the 2-frame sequence is too short for 3 states


def test_em_at_a_fixed_mixture_count(rng):
    seqs = [rng.normal(size=(n, 3)) + np.repeat(np.arange(3), n // 3 + 1)[:n, None] for n in rng.integers(9, 20, 15)]
    cfg = TrainConfig(n_states=3, n_mix=3, max_iter=6, tol=0.0)
    model, diag = fit_word("w", seqs, cfg, variance_floor(seqs, 0.01), grow_mix=False)
    assert model.weights.shape == (3, 3)
    assert len(diag["log_lik"]) == 1 and len(diag["log_lik"][0]) == cfg.max_iter + 1
    stage = np.array(diag["log_lik"][0])
    assert np.all(np.diff(stage) >= -1e-8 * np.abs(stage[:-1]))
    _, grown = fit_word("w", seqs, cfg, variance_floor(seqs, 0.01))
    assert len(grown["log_lik"]) == 3  # 1 -> 2 -> 3 Gaussians


def test_front_end_matrices_equal_python_speech_features_and_scipy(rng):
    from python_speech_features.base import get_filterbanks, lifter
    from scipy.fft import dct

    from wordrec.core.features import cepstrum_matrix as _cepstrum_matrix
    from wordrec.core.features import mel_filterbank as _mel_filterbank

    for rate, lift in [(8000, 22), (16000, 0), (44100, 22)]:
        cfg = FeatureConfig.for_rate(rate, lifter=lift)
        ref = get_filterbanks(cfg.n_filters, cfg.nfft, cfg.sample_rate, cfg.low_freq, cfg.high_freq)
        np.testing.assert_array_equal(_mel_filterbank(cfg), ref)
        mel = rng.normal(size=(7, cfg.n_filters)) * 5
        want = lifter(dct(mel, type=2, axis=1, norm="ortho")[:, : cfg.n_ceps], cfg.lifter)
        np.testing.assert_allclose(mel @ _cepstrum_matrix(cfg).T, want, rtol=1e-12, atol=1e-12)


def test_strided_frames_and_the_running_median_are_their_plain_definitions(rng):
    from numpy.lib.stride_tricks import sliding_window_view

    from wordrec.core.vad_rule import HALF_MEDIAN, hops, running_median

    for n, flen, hop in [(200, 200, 80), (1000, 200, 80), (1037, 64, 7), (5, 5, 1)]:
        x = rng.normal(size=n)
        assert np.array_equal(hops(x, flen, hop), sliding_window_view(x, flen)[::hop])
        assert np.array_equal(hops(x[::2], flen // 2, hop), sliding_window_view(x[::2], flen // 2)[::hop])
    padded = rng.normal(size=(40, 3))
    want = np.array([np.median(padded[i : i + 2 * HALF_MEDIAN + 1], axis=0) for i in range(40 - 2 * HALF_MEDIAN)])
    assert np.array_equal(running_median(padded), want)
    assert np.array_equal(running_median(np.asfortranarray(padded)), want)


def test_ranking_leaves_out_impossible_words_and_keeps_ties_in_word_order(rng):
    from wordrec.core.score import rank

    words = [f"w{i}" for i in range(12)]
    for _ in range(50):
        row = rng.choice([-np.inf, -3.0, -1.0, -2.0], size=12) + rng.choice([0.0, 0.5], size=12)
        want = sorted((i for i in range(12) if np.isfinite(row[i])), key=lambda i: (-row[i], i))
        for k in (None, 1, 3, 20):
            got = rank(row, words, k)
            keep = want[:k] if k else want
            assert got.words == tuple(words[i] for i in keep)
            assert got.log_liks == tuple(float(row[i]) for i in keep)
            assert all(type(v) is float for v in got.log_liks)


def test_regions_of_short_spans_are_those_of_the_array_rule(rng):
    from types import SimpleNamespace

    from wordrec.core import vad_rule

    rule = SimpleNamespace(offset=3.0, min_silence=4, min_speech=3, margin=5)
    for n in [1, 2, 7, 40, 300]:
        for _ in range(60):
            # Bursts above and below the thresholds, with pauses of every length, and NaN.
            level = np.repeat(rng.choice([-5.0, 2.0, 4.0, 9.0, np.nan], size=n), rng.integers(1, 6, size=n))[:n]
            for onset in (6.0, 1.0):  # above the offset, as configured, and (oddly) below it
                want = _regions_with_arrays(vad_rule, level, rule, onset)
                assert vad_rule._regions_short(level.tolist(), rule, onset) == want
                assert vad_rule.regions(level, rule, onset) == want


def _regions_with_arrays(vad_rule, level, rule, onset):
    """regions() as it runs on long spans (numpy), on any span."""
    saved = vad_rule._SHORT
    vad_rule._SHORT = 0
    try:
        return vad_rule.regions(level, rule, onset)
    finally:
        vad_rule._SHORT = saved
