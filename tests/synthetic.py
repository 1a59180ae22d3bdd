"""Random models and signals that several test modules build alike."""

from __future__ import annotations

import numpy as np

from wordrec.core.model import WordModel


def random_word(rng, name: str, n_states: int, n_mix: int, n_features: int, ergodic: bool) -> WordModel:
    """A word model with random parameters: ergodic (any state to any, several finals) or left-to-right."""
    if ergodic:
        trans = rng.dirichlet(np.ones(n_states), size=n_states)
        start, final = rng.dirichlet(np.ones(n_states)), rng.uniform(size=n_states) < 0.7
        final[-1] = True
    else:
        stay = rng.uniform(0.2, 0.9, size=n_states)
        trans = np.diag(stay) + np.diag(1 - stay[:-1], 1)
        trans[-1, -1] = 1.0
        start, final = np.eye(n_states)[0], np.eye(n_states, dtype=bool)[-1]
    return WordModel(
        name, start, trans, final, rng.dirichlet(np.ones(n_mix), size=n_states),
        rng.normal(size=(n_states, n_mix, n_features)), rng.uniform(0.3, 2.0, size=(n_states, n_mix, n_features)),
    )


def forward_word(rng, name: str, n_states: int = 2, n_mix: int = 2, dim: int = 2, centre: float = 0.0) -> WordModel:
    """A random word whose transitions only go forward (upper triangular, skips allowed), means around ``centre``."""
    trans = np.triu(rng.dirichlet(np.ones(n_states), size=n_states))
    trans[-1, -1] = 1.0
    trans /= trans.sum(axis=1, keepdims=True)
    start = np.zeros(n_states)
    start[0] = 1.0
    final = np.zeros(n_states, bool)
    final[-1] = True
    return WordModel(
        name, start, trans, final, rng.dirichlet(np.ones(n_mix), size=n_states),
        centre + rng.normal(size=(n_states, n_mix, dim)), rng.uniform(0.5, 2.0, size=(n_states, n_mix, dim)),
    )


def noise(rng, n: int, level: float, kind: str = "white") -> np.ndarray:
    """``n`` samples of white or pink noise with standard deviation ``level``."""
    w = rng.standard_normal(n)
    if kind == "pink":
        spec = np.fft.rfft(w)
        spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
        w = np.fft.irfft(spec, n)
    return level * w / w.std()


def burst_take(rng, rate: int, bursts, seconds: float, noise_level: float, amp: float = 0.2,
               kind: str = "white") -> np.ndarray:
    """Noise with voiced-like bursts ``(start_s, end_s)`` (a few harmonics) added."""
    x = noise(rng, int(seconds * rate), noise_level, kind)
    for a, b in bursts:
        i, j = int(a * rate), int(b * rate)
        t = np.arange(j - i) / rate
        f0 = rng.uniform(120, 250)
        x[i:j] += amp * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) / 2
    return x


STEADY = ("zeros", "dc", "white", "pink", "hum", "loud_white")


def steady_signal(rng, kind: str, rate: int, n: int) -> np.ndarray:
    """``n`` samples of a sound that never changes: one of ``STEADY`` (silence, DC, noises, mains hum)."""
    t = np.arange(n) / rate
    return {
        "zeros": lambda: np.zeros(n),
        "dc": lambda: np.full(n, 0.4),
        "white": lambda: noise(rng, n, 0.01),
        "pink": lambda: noise(rng, n, 0.01, "pink"),
        "hum": lambda: 0.2 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t) + noise(rng, n, 1e-4),
        "loud_white": lambda: np.clip(noise(rng, n, 0.3), -1, 1),
    }[kind]()
