import numpy as np
from scipy.special import logsumexp as scipy_lse
from scipy.stats import multivariate_normal

from wordrec.core.gmm import (
    component_log_densities,
    design,
    emission_log_densities,
    logsumexp,
    safe_log,
    state_log_densities,
)


def test_component_log_densities_match_scipy(rng):
    X = rng.normal(size=(50, 5)) * 3
    means = rng.normal(size=(4, 5))
    variances = rng.uniform(0.05, 4.0, size=(4, 5))
    got = component_log_densities(design(X), means, variances)
    for k in range(4):
        ref = multivariate_normal(means[k], np.diag(variances[k])).logpdf(X)
        np.testing.assert_allclose(got[k], ref, rtol=1e-10, atol=1e-9)


def test_state_log_densities_are_weighted_mixtures(rng):
    S, M, D = 3, 4, 6
    X = rng.normal(size=(40, D))
    w = rng.dirichlet(np.ones(M), size=S)
    means = rng.normal(size=(S, M, D))
    variances = rng.uniform(0.2, 2.0, size=(S, M, D))
    log_b, resp = state_log_densities(design(X), np.log(w), means, variances)
    assert resp.shape == (M, S, len(X)) and log_b.shape == (len(X), S)
    for s in range(S):
        comps = np.stack(
            [np.log(w[s, m]) + multivariate_normal(means[s, m], np.diag(variances[s, m])).logpdf(X) for m in range(M)],
            axis=1,
        )
        np.testing.assert_allclose(log_b[:, s], scipy_lse(comps, axis=1), rtol=1e-10)
        np.testing.assert_allclose(resp[:, s].T, np.exp(comps - scipy_lse(comps, axis=1, keepdims=True)), atol=1e-12)
    np.testing.assert_allclose(resp.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_array_equal(emission_log_densities(design(X), np.log(w), means, variances), log_b)


def test_logsumexp_and_safe_log_handle_structural_zeros():
    a = np.array([[-np.inf, -np.inf], [0.0, -np.inf], [1000.0, 1000.0]])
    out = logsumexp(a, axis=1)
    assert out[0] == -np.inf
    assert out[1] == 0.0
    np.testing.assert_allclose(out[2], 1000.0 + np.log(2.0))
    np.testing.assert_array_equal(safe_log(np.array([0.0, 1.0])), [-np.inf, 0.0])
