"""Confidence of an answer, its calibration, and open-set error rates.

For a recording of ``T`` frames whose best word scores ``L1``, second best
``L2``, and whose background-model score is ``Lb`` (all forward
log-likelihoods; the background model shares the words' outlier
component), the evidence terms are, per frame,

* ``llr = (L1 - Lb) / T``: how much better the best word explains the
  recording than generic speech does;
* ``margin = (L1 - L2) / T``: how much better it does than the runner-up.

The confidence is ``sigmoid(coef . terms + intercept)``, a logistic
regression fitted at training time on held-out folds of the training data
(:mod:`wordrec.core.calibration`): right answers against unknown words.  A
model holds one calibration per operating point: the default one (``llr``
and ``margin``, for voices like the training ones) and ``new_voices``
(``margin`` alone, for speakers the models have not heard).  The rejection
threshold is the confidence below which the chosen share of held-out right
answers falls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Evidence terms a calibration may use, per frame (see :func:`evidence`).
TERMS = ("llr", "margin")
#: The terms of the default calibration, and of files written before calibrations named theirs.
DEFAULT_TERMS = ("llr", "margin")


def evidence(best: np.ndarray, second: np.ndarray, background: np.ndarray, n_frames: np.ndarray,
             terms=DEFAULT_TERMS) -> np.ndarray:
    """The per-frame evidence terms of each recording.

    Parameters
    ----------
    best, second, background : ndarray, shape (n_recordings,)
        Forward log-likelihoods.  ``second`` is ``-inf`` when there is no
        runner-up (a one-word vocabulary): the background model is the
        runner-up then, and the margin is the llr.  (Its absolute value,
        used before, made a one-word model calibrated with negatives reject its
        own word: the negatives' large negative llr taught it that a large
        margin meant "unknown".)  ``best`` is ``-inf`` when no word has a
        path through a recording (too short for every model): its terms are
        then not finite, and :meth:`Calibration.confidence` gives it 0.
    n_frames : ndarray of int, shape (n_recordings,)
    terms : sequence of str
        Names from ``TERMS``, in the order of the columns returned.

    Returns
    -------
    ndarray, shape (n_recordings, len(terms))
    """
    best, second = np.asarray(best, dtype=float), np.asarray(second, dtype=float)
    t = np.maximum(np.asarray(n_frames, dtype=float), 1.0)
    llr = (best - np.asarray(background, dtype=float)) / t
    has_second = np.isfinite(second)
    margin = np.where(has_second, (best - np.where(has_second, second, 0.0)) / t, llr)
    columns = {"llr": llr, "margin": margin}
    return np.stack([columns[name] for name in terms], axis=1).reshape(len(llr), len(terms))


#: Only frames at most this far below a recording's loudest frame count
#: for its spectral variation (30 dB, in the natural-log power units of the
#: energy feature).
LOUD_RANGE = 3.0 * np.log(10.0)


def spectral_variation(feats, n_ceps: int) -> np.ndarray:
    """How much each recording's spectral shape changes: ``(n_recordings,)``.

    The standard deviation over frames of each static cepstral coefficient
    but the first (energy or c0), averaged over the coefficients.  Speech
    moves between sounds; a steady tone, hum, chord or drone hardly does.
    Only the frames within 30 dB of the loudest one count (``LOUD_RANGE``,
    by the first coefficient): otherwise a few clicks in near silence
    measure as much change as a word, the clicks against the quiet, while
    their loud frames are all alike (docs/rejection.md).  Meaningful for
    features without per-utterance variance normalisation (which sets
    every standard deviation to 1).

    Parameters
    ----------
    feats : list of ndarray (n_frames, n_features)
        Features whose first ``n_ceps`` columns are the static cepstra, c0
        or energy first, as :func:`wordrec.core.features.extract_many` gives them.
    n_ceps : int
    """
    out = np.zeros(len(feats))
    for i, f in enumerate(feats):
        if len(f) < 2 or n_ceps < 2:
            continue
        loud = f[f[:, 0] >= f[:, 0].max() - LOUD_RANGE, 1:n_ceps]
        out[i] = float(loud.std(axis=0).mean()) if len(loud) > 1 else 0.0
    return out


#: A recording whose spectral variation is below this fraction of the 1st
#: percentile of the training recordings' is taken for a steady sound, not a
#: word: a margin below the least varied word, far above steady tones and
#: chords (docs/rejection.md).
STEADY_FRACTION = 0.7


def steady_floor(feats, n_ceps: int) -> float:
    """The spectral-variation floor learnt from training recordings (see ``STEADY_FRACTION``)."""
    variation = spectral_variation(feats, n_ceps)
    return float(STEADY_FRACTION * np.quantile(variation, 0.01)) if len(variation) else 0.0


@dataclass(frozen=True)
class Calibration:
    """A fitted confidence: ``sigmoid(coef . evidence + intercept)`` and its threshold.

    ``terms``: the evidence terms, in the order of ``coef`` (names from
    ``TERMS``; files written before this field use ``("llr", "margin")``).
    ``min_variation``: recordings whose :func:`spectral_variation` is below
    it get confidence 0 (steady sounds); 0 turns the check off.
    ``speaker_warp``: the held-out recordings it was fitted on had their
    formants moved by this fraction, up or down, to sound like other
    speakers (:mod:`wordrec.core.calibration`): the new-voices calibration's
    (in files written before it existed, the only calibration's).
    ``background_outlier``: the background scores it was fitted on had
    the word models' outlier component mixed in
    (:func:`wordrec.core.openset.background_scores`), so scoring must too;
    False in files written before that.
    ``expected_false_rejection``, ``expected_false_acceptance``: the rates
    at ``threshold`` on the held-out data it was fitted on (held-out right
    answers rejected, unknown examples accepted); None when not measured.
    ``new_voices``: the calibration for speakers the training data does not
    have (None: none), a :class:`Calibration` itself.
    """

    coef: tuple
    intercept: float
    threshold: float
    target_false_rejection: float
    min_variation: float = 0.0
    speaker_warp: float = 0.0
    background_outlier: bool = False
    terms: tuple = DEFAULT_TERMS
    expected_false_rejection: float | None = None
    expected_false_acceptance: float | None = None
    new_voices: "Calibration | None" = None

    def confidence(self, ev: np.ndarray, variation: np.ndarray | None = None) -> np.ndarray:
        """Confidence in [0, 1] for evidence rows ``(n, len(terms))`` and their spectral variation ``(n,)``.

        A row that is not finite (no word has a path through the recording,
        see :func:`evidence`) has no answer to be confident in: 0.  Its
        ``-inf`` llr against a coefficient of 0, or against an infinite
        margin, would otherwise make NaN.
        """
        ev = np.asarray(ev, dtype=float).reshape(-1, len(self.terms))
        answered = np.all(np.isfinite(ev), axis=1)
        z = np.where(answered[:, None], ev, 0.0) @ np.asarray(self.coef) + self.intercept
        conf = np.where(answered, 0.5 * (1.0 + np.tanh(0.5 * z)), 0.0)  # the logistic function without overflow
        if variation is not None and self.min_variation > 0:
            conf = np.where(np.asarray(variation) < self.min_variation, 0.0, conf)
        return conf

    def to_dict(self) -> dict:
        out = {
            "coef": [float(c) for c in self.coef],
            "intercept": float(self.intercept),
            "threshold": float(self.threshold),
            "target_false_rejection": float(self.target_false_rejection),
            "min_variation": float(self.min_variation),
            "speaker_warp": float(self.speaker_warp),
            "background_outlier": bool(self.background_outlier),
        }
        if tuple(self.terms) != DEFAULT_TERMS:  # files with the default terms read as before
            out["terms"] = list(self.terms)
        for key in ("expected_false_rejection", "expected_false_acceptance"):
            if getattr(self, key) is not None:
                out[key] = float(getattr(self, key))
        if self.new_voices is not None:
            out["new_voices"] = self.new_voices.to_dict()
        return out


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3, n_iter: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method with a small ridge penalty.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    y : ndarray of {0, 1}, shape (n,)
    l2 : float
        Ridge penalty on the coefficients (not the intercept); keeps the
        fit finite when the classes are separable.

    Returns
    -------
    coef : ndarray, shape (d,)
    intercept : float
    """
    scale = np.maximum(X.std(axis=0), 1e-9)
    Z = np.hstack([X / scale, np.ones((len(X), 1))])
    w = np.zeros(Z.shape[1])
    penalty = np.full(Z.shape[1], l2 * len(X))
    penalty[-1] = 0.0
    # Classes are weighted equally, whatever their sizes.
    weight = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum())) * len(y)
    for _ in range(n_iter):
        p = 0.5 * (1.0 + np.tanh(0.5 * (Z @ w)))
        grad = Z.T @ (weight * (p - y)) + penalty * w
        hess = (Z * (weight * p * (1 - p))[:, None]).T @ Z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w[:-1] / scale, float(w[-1])


def error_rates(conf_in: np.ndarray, conf_out: np.ndarray) -> dict:
    """False rejection / false acceptance at every threshold, and the equal error rate.

    Parameters
    ----------
    conf_in : ndarray, shape (n_in,)
        Confidences of in-vocabulary recordings.
    conf_out : ndarray, shape (n_out,)
        Confidences of out-of-vocabulary recordings.

    Returns
    -------
    dict
        ``points``: list of {threshold, false_rejection, false_acceptance}
        (a recording is accepted when its confidence >= threshold);
        ``eer``: the equal error rate (mean of FR and FA where they cross).
    """
    conf_in, conf_out = np.asarray(conf_in, float), np.asarray(conf_out, float)
    thresholds = np.unique(np.concatenate([conf_in, conf_out, [np.inf]]))
    fr = np.array([(conf_in < t).mean() if len(conf_in) else 0.0 for t in thresholds])
    fa = np.array([(conf_out >= t).mean() if len(conf_out) else 0.0 for t in thresholds])
    k = int(np.argmin(np.abs(fr - fa)))
    points = [
        {"threshold": float(t) if np.isfinite(t) else 1.0, "false_rejection": float(a), "false_acceptance": float(b)}
        for t, a, b in zip(thresholds, fr, fa)
    ]
    return {"points": points, "eer": float((fr[k] + fa[k]) / 2.0)}
