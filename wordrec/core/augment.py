"""Noisy copies of training recordings (multi-condition training).

A share of the training recordings gets a second copy with white or pink
noise added at a random signal-to-noise ratio, so that the word models have
seen speech in background noise.  Each recording's draw depends only on the
seed and its position in the corpus, so the copies are the same whatever
the number of worker processes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class NoiseCopies(NamedTuple):
    """Which recordings get a noisy copy, and how loud its noise is.

    ``fraction`` of the recordings (0 turns it off), noise ``snr_low`` to
    ``snr_high`` dB below the recording's mean power, drawn with ``seed``.
    """

    fraction: float
    snr_low: float
    snr_high: float
    seed: int

    @classmethod
    def of(cls, train_cfg) -> "NoiseCopies | None":
        """The setting of a :class:`wordrec.core.train.TrainConfig`, or None when off."""
        if train_cfg.noise_copies <= 0:
            return None
        return cls(train_cfg.noise_copies, train_cfg.noise_snr_low, train_cfg.noise_snr_high, train_cfg.seed)

    def copy(self, signal: np.ndarray, index: int) -> np.ndarray | None:
        """The noisy copy of recording number ``index`` of a corpus, or None if it gets none."""
        rng = np.random.default_rng([self.seed, index])
        if rng.random() >= self.fraction or len(signal) < 2:
            return None
        noise = rng.standard_normal(len(signal))
        if rng.random() < 0.5:
            # Pink: power falling 3 dB per octave.
            spectrum = np.fft.rfft(noise)
            spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
            noise = np.fft.irfft(spectrum, len(signal))
        noise -= noise.mean()
        noise /= max(float(np.sqrt(np.mean(np.square(noise)))), 1e-12)
        snr_db = rng.uniform(self.snr_low, self.snr_high)
        power = float(np.mean(np.square(signal)))
        return np.clip(signal + noise * np.sqrt(power * 10.0 ** (-snr_db / 10.0)), -1.0, 1.0)
