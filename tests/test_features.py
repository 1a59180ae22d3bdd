import numpy as np
import pytest
import python_speech_features as psf

from wordrec.core.features import FeatureConfig, deltas, extract, extract_many
from wordrec.errors import WordrecError


def _reference(signal, cfg):
    """python_speech_features, one file at a time, every option explicit."""
    static = psf.mfcc(
        signal, samplerate=cfg.sample_rate, winlen=cfg.win_length, winstep=cfg.win_step,
        numcep=cfg.n_ceps, nfilt=cfg.n_filters, nfft=cfg.nfft, lowfreq=cfg.low_freq,
        highfreq=cfg.high_freq, preemph=cfg.preemphasis, ceplifter=cfg.lifter,
        appendEnergy=cfg.use_energy, winfunc=np.hamming,
    )
    d1 = psf.delta(static, cfg.delta_width)
    return np.hstack([static, d1, psf.delta(d1, cfg.delta_width)])


@pytest.mark.parametrize("rate", [8000, 16000])
def test_batched_mfcc_and_deltas_match_python_speech_features(rng, rate):
    cfg = FeatureConfig.for_rate(rate, mean_norm=False, var_norm=False, energy_max_norm=False)
    signals = [rng.normal(size=n) * 0.1 for n in (50, 200, 401, 1234, 5000)]
    for got, sig in zip(extract_many(signals, cfg), signals):
        np.testing.assert_allclose(got, _reference(sig, cfg), rtol=1e-9, atol=1e-9)


def test_derived_settings_follow_the_rate():
    cfg = FeatureConfig.for_rate(16000)
    assert (cfg.frame_length, cfg.frame_step, cfg.nfft, cfg.high_freq) == (400, 160, 512, 8000.0)
    assert FeatureConfig.for_rate(8000).nfft == 256
    assert cfg.n_features == 39


def test_mean_normalisation_zeroes_each_utterance(rng):
    cfg = FeatureConfig.for_rate(8000, mean_norm_weight=1.0, energy_max_norm=False)
    feats = extract_many([rng.normal(size=3000) * 0.2 + 0.1, rng.normal(size=900)], cfg)
    for f in feats:
        np.testing.assert_allclose(f.mean(axis=0), 0.0, atol=1e-9)


def test_variance_normalisation_gives_unit_variance(rng):
    cfg = FeatureConfig.for_rate(8000, var_norm=True, mean_norm_weight=1.0, energy_max_norm=False)
    f = extract(rng.normal(size=4000) * 0.3, cfg)
    np.testing.assert_allclose(f.std(axis=0), 1.0, atol=1e-6)


def test_partial_mean_and_energy_max_normalisation(rng):
    signals = [rng.normal(size=3000) * 0.2 + 0.1, rng.normal(size=900) * 0.01]
    raw = extract_many(signals, FeatureConfig.for_rate(8000, mean_norm=False, energy_max_norm=False))
    got = extract_many(signals, FeatureConfig.for_rate(8000))  # weight 0.5, energy max 0
    for r, g in zip(raw, got):
        want = r - 0.5 * r.mean(axis=0)
        want[:, 0] -= want[:, 0].max()
        np.testing.assert_allclose(g, want, atol=1e-12)
        assert g[:, 0].max() == 0.0


def test_model_files_without_the_new_fields_keep_full_cmvn():
    old = FeatureConfig(var_norm=True).to_dict()
    del old["mean_norm_weight"], old["energy_max_norm"]
    cfg = FeatureConfig.from_dict(old)
    assert (cfg.mean_norm_weight, cfg.energy_max_norm, cfg.var_norm) == (1.0, False, True)


def test_batch_gives_the_same_as_one_at_a_time(rng):
    cfg = FeatureConfig.for_rate(8000)
    signals = [rng.normal(size=n) * 0.1 for n in (300, 2000, 777)]
    for got, sig in zip(extract_many(signals, cfg), signals):
        np.testing.assert_allclose(got, extract(sig, cfg), rtol=1e-12, atol=1e-10)


def test_deltas_restart_at_utterance_edges(rng):
    a, b = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    got = deltas(np.vstack([a, b]), np.array([7, 4]), 2)
    np.testing.assert_allclose(got[:7], psf.delta(a, 2), atol=1e-12)
    np.testing.assert_allclose(got[7:], psf.delta(b, 2), atol=1e-12)


def test_silence_and_constant_signals_give_finite_features():
    cfg = FeatureConfig.for_rate(8000, var_norm=True)
    for sig in (np.zeros(4000), np.full(4000, 0.5), np.zeros(10)):
        f = extract(sig, cfg)
        assert np.isfinite(f).all()


def test_invalid_settings_are_named():
    with pytest.raises(WordrecError, match="preemphasis"):
        FeatureConfig.for_rate(8000, preemphasis=1.5)
    with pytest.raises(WordrecError, match="unknown field"):
        FeatureConfig.from_dict({**FeatureConfig().to_dict(), "bogus": 1})


def test_frequency_warp_moves_a_spectral_peak_by_the_factor():
    from wordrec.core.features import cepstrum_matrix as _cepstrum_matrix
    from wordrec.core.features import mel_points as _mel_points
    from wordrec.core.warp import frequency_warp, warp_matrix

    cfg = FeatureConfig.for_rate(8000)
    np.testing.assert_allclose(warp_matrix(cfg, 1.0), np.eye(cfg.n_ceps - 1), atol=1e-10)
    M = _cepstrum_matrix(cfg)
    centres = _mel_points(cfg)[1:-1]
    index = np.arange(cfg.n_filters)
    for peak in (8.0, 12.0):
        # A broad log-mel bump, as a formant gives; its cepstra as every block of a feature row.
        log_mel = 10.0 * np.exp(-0.5 * ((index - peak) / 2.0) ** 2)
        row = np.tile(M @ log_mel, cfg.delta_order + 1)[None, :]
        for alpha in (0.9, 1.1):
            warped = frequency_warp(row, cfg, alpha)
            assert warped[0, 0] == row[0, 0]  # the level is left alone
            blocks = warped[0].reshape(cfg.delta_order + 1, cfg.n_ceps)
            np.testing.assert_allclose(blocks, blocks[:1].repeat(cfg.delta_order + 1, axis=0))
            back = np.linalg.pinv(M) @ blocks[0]
            # Where the warped bump peaks, in Hz (a parabola through the top three filters).
            k = int(np.argmax(back))
            a, b, c = back[k - 1 : k + 2]
            found = np.interp(k + 0.5 * (a - c) / (a - 2 * b + c), index, centres)
            expected = alpha * np.interp(peak, index, centres)
            assert abs(found - expected) < 0.03 * expected, (peak, alpha, found, expected)
    np.testing.assert_array_equal(frequency_warp(row, cfg, 1.0), row)
