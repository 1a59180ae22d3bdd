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
    """``[X**2, X]``, transposed: the frame-side factor of :func:`component_log_densities`.

    Feature-major, so that both products of an EM iteration (the log
    densities here, the sufficient statistics in the M-step) are single
    BLAS calls on contiguous operands.

    Parameters
    ----------
    X : ndarray, shape (n_frames, n_features)

    Returns
    -------
    ndarray, shape (2 * n_features, n_frames)
    """
    X = np.asarray(X, dtype=float)
    n_features = X.shape[1]
    out = np.empty((2 * n_features, X.shape[0]))
    np.square(X.T, out=out[:n_features])
    out[n_features:] = X.T
    return out


def coefficients(log_weights, means, variances) -> tuple[np.ndarray, np.ndarray]:
    """Both sides of ``log w + log N(x; m, v) = const + coef . [x^2, x]``, per Gaussian.

    ``coef = [-0.5 / v, m / v]`` and
    ``const = log w - 0.5 * (D log 2 pi + sum log v + m^2 . (1/v))``.

    Parameters
    ----------
    log_weights : ndarray, shape (...)
    means, variances : ndarray, shape (..., n_features)

    Returns
    -------
    coef : ndarray, shape (..., 2 * n_features)
    const : ndarray, shape (...)
    """
    prec = 1.0 / variances
    n_features = means.shape[-1]
    const = log_weights - 0.5 * (
        n_features * LOG_2PI + np.log(variances).sum(axis=-1) + (means * means * prec).sum(axis=-1)
    )
    return np.concatenate([-0.5 * prec, means * prec], axis=-1), const


def component_log_densities(XX: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Log densities of every frame under every diagonal Gaussian, as one matrix product.

    Parameters
    ----------
    XX : ndarray, shape (2 * n_features, n_frames)
        ``design(X)``.
    means, variances : ndarray, shape (n_components, n_features)

    Returns
    -------
    ndarray, shape (n_components, n_frames)
    """
    coef, const = coefficients(0.0, means, variances)
    out = coef @ XX
    out += const[:, None]
    return out


def mixture_log_densities(XX, log_weights, means, variances) -> np.ndarray:
    """``log w_sm + log N(x; mu_sm, var_sm)`` for every frame and Gaussian.

    Parameters are as for :func:`state_log_densities`.

    Returns
    -------
    ndarray, shape (n_mix, n_states, n_frames)
        Mixture-major and frames last, so that sums and maxima over the few
        mixtures are elementwise operations on long contiguous blocks (numpy
        is slow at reducing a short trailing axis).
    """
    n_states, n_mix, n_features = means.shape
    coef, const = coefficients(log_weights, means, variances)
    coef = coef.transpose(1, 0, 2).reshape(n_mix * n_states, 2 * n_features)
    out = coef @ XX
    out += const.T.reshape(-1, 1)
    return out.reshape(n_mix, n_states, -1)


def mixture_logsumexp(log_comp: np.ndarray, with_resp: bool = True):
    """Sum a ``(n_mix, ...)`` array of log densities over the mixtures.

    Returns ``(log_b, resp)``: the log of the sum, shape ``(...)``, and the
    posteriors of the mixtures, shape ``(n_mix, ...)``, summing to one over
    axis 0 (None when ``with_resp`` is False).  ``log_comp`` is overwritten.
    """
    if len(log_comp) == 1:
        return log_comp[0], (np.ones_like(log_comp) if with_resp else None)
    # Component densities of real frames are finite, so the max shift is safe.
    top = np.maximum.reduce(log_comp, axis=0)
    log_comp -= top
    resp = np.exp(log_comp, out=log_comp)
    total = np.add.reduce(resp, axis=0)
    log_b = np.log(total)
    log_b += top
    if not with_resp:
        return log_b, None
    resp /= total
    return log_b, resp


def emission_log_densities(XX, log_weights, means, variances) -> np.ndarray:
    """Per-state mixture log densities ``log sum_m w_sm N(x; mu_sm, var_sm)``.

    Parameters are as for :func:`state_log_densities`.

    Returns
    -------
    log_b : ndarray, shape (n_frames, n_states)
    """
    log_b, _ = mixture_logsumexp(mixture_log_densities(XX, log_weights, means, variances), with_resp=False)
    return log_b.T


def state_log_densities(XX, log_weights, means, variances) -> tuple[np.ndarray, np.ndarray]:
    """Per-state mixture log densities and the mixture posteriors behind them.

    Parameters
    ----------
    XX : ndarray, shape (2 * n_features, n_frames)
        ``design(X)``.
    log_weights : ndarray, shape (n_states, n_mix)
    means, variances : ndarray, shape (n_states, n_mix, n_features)

    Returns
    -------
    log_b : ndarray, shape (n_frames, n_states)
        ``log sum_m w_sm N(x; mu_sm, var_sm)`` (a transposed view of a
        state-major array).
    resp : ndarray, shape (n_mix, n_states, n_frames)
        ``P(component m | state s, x)``; sums to one over ``m`` (axis 0).
    """
    log_b, resp = mixture_logsumexp(mixture_log_densities(XX, log_weights, means, variances))
    return log_b.T, resp
