"""Noisy copies of training recordings."""

import numpy as np
import pytest
from conftest import make_tone_corpus, tone

from wordrec.core.augment import NoiseCopies
from wordrec.core.features import FeatureConfig
from wordrec.core.train import TrainConfig
from wordrec.jobs import featurise
from wordrec.jobs.training import fit_all


def test_copies_are_picked_by_position_and_noise_is_at_the_asked_level():
    noise = NoiseCopies(0.25, 15.0, 30.0, seed=0)
    x = tone([300, 1200], 1.0)
    copies = [noise.copy(x, i) for i in range(400)]
    picked = [c is not None for c in copies]
    assert 0.18 < np.mean(picked) < 0.32
    # The same index gives the same copy; another seed picks others.
    np.testing.assert_array_equal(noise.copy(x, picked.index(True)), copies[picked.index(True)])
    assert [NoiseCopies(0.25, 15.0, 30.0, seed=1).copy(x, i) is not None for i in range(400)] != picked
    for c in copies:
        if c is not None:
            snr = 10 * np.log10(np.mean(x**2) / np.mean((c - x) ** 2))
            assert 14.9 < snr < 30.1
    assert NoiseCopies.of(TrainConfig(noise_copies=0.0)) is None
    cfg = TrainConfig(noise_copies=0.3, noise_snr_low=7.0, noise_snr_high=25.0, seed=4)
    assert NoiseCopies.of(cfg) == NoiseCopies(0.3, 7.0, 25.0, 4)


def test_copies_are_the_same_in_workers_and_train_after_the_recordings(tmp_path):
    root = make_tone_corpus(tmp_path / "c", n_per_word=30)
    items = sorted((str(p), p.parent.name) for p in root.rglob("*.wav"))
    cfg = FeatureConfig.for_rate(8000)
    noise = NoiseCopies(0.5, 10.0, 20.0, seed=3)
    one = featurise.extract_files([p for p, _ in items], cfg, labelled=True, jobs=1, noise=noise)
    two = featurise.extract_files([p for p, _ in items], cfg, labelled=True, jobs=2, noise=noise)
    assert [isinstance(a, tuple) for a in one] == [isinstance(b, tuple) for b in two]
    assert 0 < sum(isinstance(a, tuple) for a in one) < len(one)
    for a, b in zip(one, two):
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(x, y)
    by_word, failures, copies = featurise.features_by_word(items, cfg, noise=noise)
    assert not failures and sum(map(len, copies.values())) == sum(isinstance(a, tuple) for a in one)
    models = fit_all(by_word, cfg, TrainConfig(n_states=3, n_mix=2, max_iter=3), copies=copies)
    for w, d in models.diagnostics["words"].items():
        assert d["n_recordings"] == len(by_word[w]) and d["n_noisy_copies"] == len(copies.get(w, []))
    # Without copies, the same recordings give other models.
    plain = fit_all(by_word, cfg, TrainConfig(n_states=3, n_mix=2, max_iter=3))
    assert not np.array_equal(plain.models[0].means, models.models[0].means)


def test_noise_settings_are_validated():
    from wordrec.errors import WordrecError

    with pytest.raises(WordrecError, match="noise_copies"):
        TrainConfig(noise_copies=1.5).validated()
    with pytest.raises(WordrecError, match="noise_snr"):
        TrainConfig(noise_snr_low=30.0, noise_snr_high=10.0).validated()
