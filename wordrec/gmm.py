"""Diagonal-covariance Gaussian mixtures: log densities and posteriors.

Shapes: frames ``X`` are ``(n_frames, n_features)``; per-state mixture
parameters are ``weights (n_states, n_mix)``, ``means`` and ``variances``
``(n_states, n_mix, n_features)``.
"""

from __future__ import annotations

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def safe_log(p: np.ndarray) -> np.ndarray:
    """Natural log where exact zeros become ``-inf`` without a warning.

    This is the one place structural zeros (forbidden transitions, states a
    path may not start or end in) turn into ``-inf``.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, -np.inf)
    np.log(p, out=out, where=p > 0)
    return out


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(a), axis))``, stable, with all ``-inf`` slices giving ``-inf``."""
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis)


def design(X: np.ndarray) -> np.ndarray:
    """``[X**2, X]``: the frame-side factor of :func:`component_log_densities`.

    Parameters
    ----------
    X : ndarray, shape (n_frames, n_features)

    Returns
    -------
    ndarray, shape (n_frames, 2 * n_features)
    """
    return np.hstack([X * X, X])


def component_log_densities(XX: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Log densities of every frame under every diagonal Gaussian, as one matrix product.

    ``log N(x; m, v) = c - 0.5 * x^2 . (1/v) + x . (m/v)`` with
    ``c = -0.5 * (D log 2 pi + sum log v + m^2 . (1/v))``.

    Parameters
    ----------
    XX : ndarray, shape (n_frames, 2 * n_features)
        ``design(X)``.
    means, variances : ndarray, shape (n_components, n_features)

    Returns
    -------
    ndarray, shape (n_frames, n_components)
    """
    prec = 1.0 / variances
    n_features = means.shape[1]
    const = -0.5 * (n_features * LOG_2PI + np.log(variances).sum(axis=1) + (means * means * prec).sum(axis=1))
    coef = np.hstack([-0.5 * prec, means * prec])
    return XX @ coef.T + const


def state_log_densities(XX, log_weights, means, variances) -> tuple[np.ndarray, np.ndarray]:
    """Per-state mixture log densities and the mixture posteriors behind them.

    Parameters
    ----------
    XX : ndarray, shape (n_frames, 2 * n_features)
        ``design(X)``.
    log_weights : ndarray, shape (n_states, n_mix)
    means, variances : ndarray, shape (n_states, n_mix, n_features)

    Returns
    -------
    log_b : ndarray, shape (n_frames, n_states)
        ``log sum_m w_sm N(x; mu_sm, var_sm)``.
    resp : ndarray, shape (n_frames, n_states, n_mix)
        ``P(component m | state s, x)``; sums to one over ``m``.
    """
    n_states, n_mix, n_features = means.shape
    flat = component_log_densities(
        XX, means.reshape(-1, n_features), variances.reshape(-1, n_features)
    )
    log_comp = flat.reshape(len(XX), n_states, n_mix) + log_weights
    # Component densities of real frames are finite, so the max shift is safe.
    top = log_comp.max(axis=2)
    resp = np.exp(log_comp - top[:, :, None])
    total = resp.sum(axis=2)
    resp /= total[:, :, None]
    return np.log(total) + top, resp
