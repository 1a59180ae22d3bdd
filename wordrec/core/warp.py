"""A vocal-tract-length warp of finished features: the same recording as if said by a longer or shorter vocal tract.

Used by calibration to make held-out recordings sound like voices the
models have not heard (:mod:`wordrec.core.openset`).
"""

from __future__ import annotations

import functools

import numpy as np

from wordrec.core.features import FeatureConfig, cepstrum_matrix, mel_points


@functools.lru_cache(maxsize=16)
def warp_matrix(cfg: FeatureConfig, alpha: float) -> np.ndarray:
    """Cepstra of a spectrum with every frequency scaled by ``alpha``: ``(n_ceps - 1, n_ceps - 1)``.

    A speaker whose vocal tract is shorter has formants at higher
    frequencies, about ``alpha`` times those of a reference speaker
    (vocal tract length normalisation).  The log mel spectrum of a frame is
    recovered from its cepstra (least squares through the DCT and lifter),
    read at ``1 / alpha`` times each filter's centre frequency (linear
    interpolation between filters, held at the edges), and turned back
    into cepstra.  All of that is linear, so it is one matrix on c1 ...
    c(n-1); the first coefficient (log energy or c0, the level) is left
    alone.  Mean normalisation and deltas are linear too, so the matrix
    applies to finished features block by block (:func:`frequency_warp`).
    Cached, and read-only.
    """
    M = cepstrum_matrix(cfg)
    centres = mel_points(cfg)[1:-1]
    # Column j: how much filter j contributes at each warped centre (np.interp of a unit vector).
    resample = np.column_stack([np.interp(centres / alpha, centres, unit) for unit in np.eye(len(centres))])
    out = (M @ resample @ np.linalg.pinv(M))[1:, 1:]
    out.setflags(write=False)
    return out


def frequency_warp(feats: np.ndarray, cfg: FeatureConfig, alpha: float) -> np.ndarray:
    """Finished features (``extract``'s) as if the speaker's formants were ``alpha`` times higher.

    Parameters
    ----------
    feats : ndarray, shape (n_frames, cfg.n_features)
    cfg : FeatureConfig
        The config the features were made with.
    alpha : float
        Frequency scale; 1 returns a copy of ``feats``.

    Returns
    -------
    ndarray, shape (n_frames, cfg.n_features)
        Exact for the linear parts (mean normalisation, deltas); with
        per-utterance variance normalisation it is an approximation.
    """
    out = np.array(feats, dtype=float)
    n = cfg.n_ceps
    if n < 2 or alpha == 1.0:
        return out
    warp_t = warp_matrix(cfg, alpha).T
    for block in range(cfg.delta_order + 1):
        cols = slice(block * n + 1, (block + 1) * n)
        out[:, cols] = out[:, cols] @ warp_t
    return out
