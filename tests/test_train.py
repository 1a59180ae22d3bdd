import numpy as np
import pytest

from wordrec.core.features import FeatureConfig
from wordrec.core.hmm import Batch, forward
from wordrec.core.train import (
    TrainConfig,
    fit_word,
    mixture_schedule,
    split_heaviest,
    variance_floor,
)
from wordrec.jobs.training import fit_all, fit_sets


def _sample_hmm(rng, n_seqs, n_features=4):
    """Sequences from a 3-state left-to-right HMM with 2-component mixtures."""
    centres = rng.normal(size=(3, 2, n_features)) * 4
    seqs = []
    for _ in range(n_seqs):
        durations = rng.integers(3, 12, size=3)
        frames = []
        for s, d in enumerate(durations):
            comp = rng.integers(0, 2, size=d)
            frames.append(centres[s, comp] + rng.normal(size=(d, n_features)))
        seqs.append(np.vstack(frames))
    return seqs


def _fit(seqs, **kw):
    cfg = TrainConfig(**{"n_states": 3, "n_mix": 2, "max_iter": 15, "tol": 0.0, **kw})
    return fit_word("w", seqs, cfg, variance_floor(seqs, cfg.var_floor))


def test_em_log_likelihood_never_decreases(rng):
    _, diag = _fit(_sample_hmm(rng, 30))
    for stage in diag["log_lik"]:
        gains = np.diff(stage)
        assert np.all(gains >= -1e-8 * np.abs(np.array(stage[:-1]))), gains
    # EM actually learns something: the last stage ends well above where training began.
    assert diag["log_lik"][-1][-1] > diag["log_lik"][0][0]


def test_trained_model_is_a_valid_distribution(rng):
    model, _ = _fit(_sample_hmm(rng, 20), n_mix=4)
    np.testing.assert_allclose(model.transmat.sum(axis=1), 1.0)
    np.testing.assert_allclose(model.weights.sum(axis=1), 1.0)
    assert model.weights.shape == (3, 4)
    # Left-to-right without skips: only stay or advance.
    assert np.all(np.triu(model.transmat, 2) == 0) and np.all(np.tril(model.transmat, -1) == 0)


def test_final_log_lik_is_what_forward_gives(rng):
    seqs = _sample_hmm(rng, 10)
    model, diag = _fit(seqs)
    from wordrec.core.gmm import design, state_log_densities

    batch = Batch.of([len(s) for s in seqs])
    log_b, _ = state_log_densities(design(batch.stack(seqs)), model.log_weights, model.means, model.variances)
    _, ll = forward(batch.pad(log_b), batch, model.log_start, model.log_trans, model.log_end)
    np.testing.assert_allclose(ll.sum(), diag["log_lik"][-1][-1], rtol=1e-12)


def test_variances_stay_above_the_floor_on_degenerate_data(rng):
    one = rng.normal(size=(20, 4))
    seqs = [one.copy() for _ in range(5)] + [np.zeros((15, 4))]
    floor = variance_floor(seqs, 0.01)
    model, diag = fit_word("w", seqs, TrainConfig(n_states=3, n_mix=4, tol=0.0, max_iter=5), floor)
    assert np.all(model.variances >= floor - 1e-15)
    for stage in diag["log_lik"]:
        assert np.all(np.isfinite(stage))
        assert np.all(np.diff(stage) >= -1e-8 * np.abs(np.array(stage[:-1])))


def test_recordings_shorter_than_the_model_are_handled(rng):
    seqs = [rng.normal(size=(n, 3)) for n in (2, 2, 3, 40, 2)]
    model, diag = fit_word("w", seqs, TrainConfig(n_states=6, n_mix=2), variance_floor(seqs, 0.01))
    assert diag["n_states"] <= 2  # most recordings are 2 frames long: the word gets 2 states
    assert np.all(np.isfinite(model.means))


def test_training_is_deterministic_and_independent_of_jobs(rng):
    by_word = {"a": _sample_hmm(rng, 8), "b": _sample_hmm(rng, 8), "c": _sample_hmm(rng, 8)}
    cfg = TrainConfig(n_states=3, n_mix=2, max_iter=4)
    fc = FeatureConfig()
    one = fit_all(by_word, fc, cfg, jobs=1)
    two = fit_all(by_word, fc, cfg, jobs=2)
    for m1, m2 in zip(one.models, two.models):
        np.testing.assert_array_equal(m1.means, m2.means)
        np.testing.assert_array_equal(m1.transmat, m2.transmat)


def test_sets_trained_in_one_pool_are_each_what_fit_all_makes(rng):
    # Different words, data and settings per set; one pool for all of them.
    a = {"a": _sample_hmm(rng, 6), "b": _sample_hmm(rng, 9)}
    b = {"a": _sample_hmm(rng, 4), "z": _sample_hmm(rng, 5), "y": _sample_hmm(rng, 7)}
    cfg_a = TrainConfig(n_states=3, n_mix=2, max_iter=4)
    cfg_b = TrainConfig(n_states=2, n_mix=1, max_iter=3, topology="ergodic")
    fc = FeatureConfig()
    together = fit_sets([(a, cfg_a), (b, cfg_b)], fc, jobs=2)
    for got, (by_word, cfg) in zip(together, [(a, cfg_a), (b, cfg_b)]):
        alone = fit_all(by_word, fc, cfg, jobs=1)
        assert got.words == alone.words
        assert got.training == alone.training
        for m1, m2 in zip(got.models, alone.models):
            np.testing.assert_array_equal(m1.means, m2.means)
            np.testing.assert_array_equal(m1.variances, m2.variances)
            np.testing.assert_array_equal(m1.transmat, m2.transmat)


def test_the_outlier_component_comes_from_all_training_frames(rng):
    by_word = {"a": _sample_hmm(rng, 6), "b": _sample_hmm(rng, 9)}
    fc = FeatureConfig()
    ms = fit_all(by_word, fc, TrainConfig(n_states=3, n_mix=2, max_iter=3, outlier_weight=0.002, outlier_scale=3.0))
    X = np.concatenate(by_word["a"] + by_word["b"])
    assert ms.outlier.weight == 0.002
    np.testing.assert_allclose(ms.outlier.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(ms.outlier.variance, 3.0 * X.var(axis=0), rtol=1e-12)
    # EM does not see it: the word models are those trained without it.
    off = fit_all(by_word, fc, TrainConfig(n_states=3, n_mix=2, max_iter=3, outlier_weight=0.0))
    assert off.outlier is None
    for m1, m2 in zip(ms.models, off.models):
        np.testing.assert_array_equal(m1.means, m2.means)


@pytest.mark.parametrize("grow_iter, max_iter, expected", [(3, 5, [3, 3, 5]), (0, 4, [4, 4, 4]), (9, 2, [2, 2, 2])])
def test_iterations_per_mixture_size(rng, grow_iter, max_iter, expected):
    seqs = _sample_hmm(rng, 10)
    cfg = TrainConfig(n_states=3, n_mix=4, max_iter=max_iter, grow_iter=grow_iter, tol=0.0)
    _, diag = fit_word("w", seqs, cfg, variance_floor(seqs, cfg.var_floor))
    # One likelihood per iteration, and the final one after the last size.
    assert [len(stage) for stage in diag["log_lik"]] == expected[:-1] + [expected[-1] + 1]


def test_mixture_schedule_and_split():
    assert mixture_schedule(1) == [1]
    assert mixture_schedule(4) == [1, 2, 4]
    assert mixture_schedule(6) == [1, 2, 4, 6]


def test_split_keeps_weights_normalised(rng):
    from wordrec.core.train import _Params

    p = _Params(np.ones(2) / 2, np.eye(2), np.ones(2, bool), np.ones((2, 1)), rng.normal(size=(2, 1, 3)), np.ones((2, 1, 3)))
    q = split_heaviest(p, 2, 0.2)
    assert q.weights.shape == (2, 2)
    np.testing.assert_allclose(q.weights.sum(axis=1), 1.0)
    # The two halves of a split sit symmetrically around the old mean.
    np.testing.assert_allclose((q.means[:, 0] + q.means[:, 1]) / 2, p.means[:, 0])
    assert split_heaviest(p, 3, 0.2).weights.shape == (2, 3)


@pytest.mark.parametrize("topology", ["ergodic", "left-to-right"])
def test_topologies_train(rng, topology):
    model, diag = _fit(_sample_hmm(rng, 10), topology=topology)
    assert np.isfinite(diag["log_lik_per_frame"])
