"""Calibrating the confidence: held-out evidence, impostors, negatives, two operating points.

The training recordings are dealt into folds; word models trained without a
fold score it (:func:`fold_held_out`, one fold at a time: the jobs layer runs
the folds in parallel).  Per held-out recording and per model set the raw
scores are kept (``RAW``: best and second-best word, background, frames),
and :func:`evidence_terms` turns them into the per-frame terms a
:class:`wordrec.core.confidence.Calibration` weighs (``llr``, ``margin``).

Known examples are held-out recordings whose best word is their own.
Unknown examples are the same recordings scored against all words but
their own, impostors made from them (:mod:`wordrec.core.impostors`), and
negatives (recordings the user says are no word: ``_unknown_``,
``_background_noise_``), which no fold model has seen.

Two calibrations are fitted (chosen on training data only; docs/rejection.md):

* the default one, for voices like the training ones: ``llr`` and
  ``margin``, fitted on the held-out recordings as they are, threshold at
  ``false_rejection`` of them;
* ``new_voices``, for speakers the training data does not have: ``margin``
  alone, fitted on held-out recordings whose formants are moved by
  ``speaker_warp`` up or down (and their all-but-own scores), threshold at
  ``NEW_VOICES_FALSE_REJECTION`` of those.  A new voice lowers every word's
  score against the background model, so ``llr`` says "unknown" for it;
  the margin to the runner-up survives.

No single threshold serves both: on FSDD, a new speaker's right answers
and a known speaker's unknown words have overlapping evidence.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core import impostors
from wordrec.core.confidence import DEFAULT_TERMS, Calibration, evidence, fit_logistic
from wordrec.core.confusable import near_counts
from wordrec.core.defaults import FALSE_REJECTION
from wordrec.core.openset import background_scores, top_two
from wordrec.core.score import score
from wordrec.core.warp import frequency_warp

#: Columns of a raw evidence row.
RAW = ("best_score", "second_score", "background", "n_frames", "best", "truth")
_N, _BEST, _TRUTH = 3, 4, 5
#: The terms of the new-voices calibration.  Leave-one-speaker-out on FSDD
#: train/ (threshold at 2 % of the warped held-out right answers), right
#: and accepted / wrong and accepted: margin 82.8 / 5.8 %; margin and a
#: free state-loop term 79.3 / 5.3 %; llr and margin 73.3 / 6.1 %.
NEW_VOICES_TERMS = ("margin",)
#: Its threshold: this share of the warped held-out right answers falls
#: below it.  Leave-one-speaker-out on FSDD train/ with ``margin``: 0.02
#: gives 82.8 / 5.8 %, 0.025 gives 80.6 / 4.6 % (right and accepted /
#: wrong and accepted); halfway between.
NEW_VOICES_FALSE_REJECTION = 0.0225
#: Words with at least this many recordings each: two folds (each fold model
#: has half of them).  Fewer: up to ``MAX_FOLDS`` folds, so that fold
#: models are nearly as good as the final ones (robot corpus, 7 takes a
#: word: unknown words rejected 91 % with 2 folds, 95 % with 5).
MANY_RECORDINGS = 20
MAX_FOLDS = 5
#: Fewer recordings of a word than this: train warns that its rejection
#: cannot be calibrated well.  Robot corpus cut to 3 takes a command: 38 %
#: of other words rejected; 5 takes: 84 % (10 takes: 91 %).
FEW_RECORDINGS = 5


#: Recordings of a word that calibration uses at most: held out in turn,
#: and the fold models' training data.  The fitted rule has two or three
#: numbers and a quantile; thousands of held-out recordings a word pin them
#: down, and more only cost fold EM and scoring in proportion to the corpus.
CALIBRATION_RECORDINGS = 2000


def calibration_sample(by_word: dict, most: int = CALIBRATION_RECORDINGS) -> dict:
    """Each word's recordings, or every k-th of them for a word with more than ``most`` (the least k that leaves
    at most ``most``): a fixed rule, so the model does not depend on anything else."""
    return {w: v if len(v) <= most else v[:: -(-len(v) // most)] for w, v in by_word.items()}


def fold_count(by_word: dict) -> int:
    """Folds for calibration: 2 for plenty of data, up to ``MAX_FOLDS`` for little."""
    least = min(len(v) for v in by_word.values())
    return 2 if least >= MANY_RECORDINGS else int(np.clip(least, 2, MAX_FOLDS))


def evidence_terms(raw: np.ndarray, terms=DEFAULT_TERMS) -> np.ndarray:
    """The named per-frame terms of raw evidence rows: ``(n, len(terms))``.

    Parameters
    ----------
    raw : ndarray, shape (n, 4) or (n, len(RAW))
        Log-likelihoods (nats) and frame counts, columns as ``RAW``; see
        :func:`wordrec.core.confidence.evidence`.
    terms : sequence of str, names from ``wordrec.core.confidence.TERMS``
    """
    raw = np.asarray(raw, dtype=float)
    raw = raw.reshape(-1, raw.shape[-1] if raw.ndim == 2 else len(RAW))
    return evidence(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, _N], terms)


def scored_rows(models, background, feats, truth=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw evidence of recordings against ``models``.

    Parameters
    ----------
    models : ModelSet
    background : WordModel
    feats : list of ndarray (n_frames, n_features)
    truth : ndarray of int, shape (n,), optional
        Each recording's own word index.

    Returns
    -------
    rows : ndarray, shape (n, len(RAW))
        Against all words (``truth`` -1 without ``truth``).
    others : ndarray, shape (n, len(RAW))
        With ``truth`` and two words or more: against all words but the
        own (best and second among the others); else empty.
    scores : ndarray, shape (n, n_words)
    """
    empty = np.zeros((0, len(RAW)))
    if not feats:
        return empty, empty, np.zeros((0, len(models.models)))
    # Over a large vocabulary, each recording's own word is scored whatever
    # the first pass's short list (its score is the in-vocabulary evidence).
    include = None if truth is None or np.all(np.asarray(truth) < 0) else np.maximum(truth, 0)
    scores = score(models, feats, include=include)
    bg = background_scores(background, feats, models.outlier)
    n = np.array([len(f) for f in feats], dtype=float)
    best, l1, l2 = top_two(scores)
    truth = np.full(len(feats), -1) if truth is None else np.asarray(truth)
    rows = np.stack([l1, l2, bg, n, best, truth], axis=1)
    if scores.shape[1] < 2 or np.all(truth < 0):
        return rows, empty, scores
    best, l1, l2 = top_two(scores, truth)
    return rows, np.stack([l1, l2, bg, n, best, truth], axis=1), scores


def raw_evidence(models, background, feats) -> np.ndarray:
    """Raw evidence rows ``(n, len(RAW))`` of recordings of no known word against ``models`` (``truth`` -1)."""
    return scored_rows(models, background, list(feats))[0]


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """Raw evidence rows of the calibration's held-out data, by kind (each ``(n, len(RAW))``).

    ``known``: held-out recordings against all words (``truth`` = own word);
    ``unknown``: their all-but-own scores, the impostors and the negatives;
    ``known_warped``, ``unknown_warped``: the same two for formant-warped
    held-out recordings (empty without a speaker warp).
    """

    known: np.ndarray
    unknown: np.ndarray
    known_warped: np.ndarray
    unknown_warped: np.ndarray

    @classmethod
    def pooled(cls, parts) -> "HeldOut":
        """The rows of several folds' :class:`HeldOut`, stacked."""
        empty = np.zeros((0, len(RAW)))
        return cls(*(np.vstack([getattr(p, f.name) for p in parts]) if parts else empty
                     for f in dataclasses.fields(cls)))


def fold_held_out(models, test, background, features, negatives=(), speaker_warp: float = 0.0,
                  seed: int = 0) -> tuple[HeldOut, np.ndarray]:
    """Score one fold's held-out recordings, their impostors and a share of the negatives.

    Parameters
    ----------
    models : ModelSet
        Trained on the other folds.
    test : list of (int, ndarray (n_frames, n_features))
        Each held-out recording's word index and features.
    background : WordModel
    features : FeatureConfig
    negatives : sequence of ndarray (n_frames, n_features)
        This fold's share of the recordings of no word (each negative is
        scored by one fold only: scoring each by every fold's models
        counted them five times over against the impostors, and rejected
        the same unknown words of the robot corpus).
    speaker_warp : float
        > 0: also score the held-out recordings with formants moved by
        ``1 + speaker_warp`` (every other one) and ``1 - speaker_warp``
        (:func:`wordrec.core.warp.frequency_warp`), for the new-voices
        calibration.
    seed : int
        Of the impostors (:func:`wordrec.core.impostors.make`).

    Returns
    -------
    held_out : HeldOut
    near : ndarray of int, shape (n_words, n_words)
        Which words came close to each other on these recordings
        (:func:`wordrec.core.confusable.near_counts`): on the warped
        recordings with a speaker warp, as they are without.
    """
    feats = [f for _, f in test]
    truth = np.array([j for j, _ in test], dtype=int)
    known, others, scores = scored_rows(models, background, feats, truth)
    fakes = impostors.make(test, features, seed)
    unknown = np.vstack([others, raw_evidence(models, background, fakes), raw_evidence(models, background, negatives)])
    known_w = unknown_w = np.zeros((0, len(RAW)))
    n = np.array([len(f) for f in feats])
    near_scores = scores
    if speaker_warp > 0 and feats:
        factors = (1.0 + speaker_warp, 1.0 - speaker_warp)
        warped = [frequency_warp(f, features, factors[i % 2]) for i, f in enumerate(feats)]
        known_w, unknown_w, near_scores = scored_rows(models, background, warped, truth)
        if len(models.models) < 2:  # no other words: the warped impostors stand for unknown words
            unknown_w = raw_evidence(models, background, impostors.make(list(zip(truth, warped)), features, seed))
    return HeldOut(known, unknown, known_w, unknown_w), near_counts(near_scores, truth, n)


def right_answers(rows: np.ndarray) -> np.ndarray:
    """Known rows whose best word is their own (rejecting a wrong answer is no false rejection)."""
    return rows[rows[:, _BEST] == rows[:, _TRUTH]]


def fit(known: np.ndarray, unknown: np.ndarray, terms, false_rejection: float) -> Calibration | None:
    """Logistic regression of right held-out answers against unknown examples; threshold at ``false_rejection``.

    Parameters
    ----------
    known, unknown : ndarray, shape (n, len(RAW))
        Raw rows; of ``known`` only the right answers count
        (:func:`right_answers`): counting the fold models' errors put the
        threshold at the confidence of those (weaker) errors (docs/rejection.md).
    terms : sequence of str
    false_rejection : float
        Share of the right answers below the threshold.

    Returns
    -------
    Calibration or None
        None when either side has fewer than two finite examples.  Classes
        are weighted equally, so the confidence is the probability that the
        answer is right where right answers and unknown words are equally
        likely.  ``expected_false_rejection`` and
        ``expected_false_acceptance`` are measured on the same rows.
    """
    x_in = evidence_terms(right_answers(known), terms)
    x_out = evidence_terms(unknown, terms)
    x_in = x_in[np.all(np.isfinite(x_in), axis=1)]
    x_out = x_out[np.all(np.isfinite(x_out), axis=1)]
    if len(x_in) < 2 or len(x_out) < 2:
        return None
    y = np.concatenate([np.ones(len(x_in)), np.zeros(len(x_out))])
    coef, intercept = fit_logistic(np.vstack([x_in, x_out]), y)
    cal = Calibration(tuple(float(c) for c in coef), intercept, 0.0, false_rejection, terms=tuple(terms))
    conf_in, conf_out = cal.confidence(x_in), cal.confidence(x_out)
    threshold = float(np.quantile(conf_in, false_rejection, method="lower"))
    return dataclasses.replace(
        cal, threshold=threshold,
        expected_false_rejection=float(np.mean(conf_in < threshold)),
        expected_false_acceptance=float(np.mean(conf_out >= threshold)),
    )


def calibrate_both(data: HeldOut, false_rejection: float = FALSE_REJECTION,
                   speaker_warp: float = 0.0) -> Calibration | None:
    """The default calibration, with the new-voices one inside it when ``speaker_warp`` > 0.

    None when there is too little held-out data (see :func:`fit`).
    """
    main = fit(data.known, data.unknown, DEFAULT_TERMS, false_rejection)
    if main is None:
        return None
    new = None
    if speaker_warp > 0 and len(data.known_warped):
        new = fit(data.known_warped, data.unknown_warped, NEW_VOICES_TERMS, NEW_VOICES_FALSE_REJECTION)
        if new is not None:
            new = dataclasses.replace(new, speaker_warp=speaker_warp)
    return dataclasses.replace(main, new_voices=new)


def accept_all(false_rejection: float) -> Calibration:
    """The calibration of a model with too little held-out data: prefers the margin, rejects nothing."""
    return Calibration((0.0, 1.0), 0.0, 0.0, false_rejection)


def warnings(by_word: dict, calibration: Calibration | None, n_negatives: int = 0) -> list[str]:
    """What ``train`` should say about the rejection it could calibrate, one line each.

    ``calibration`` is None when there was too little held-out data.
    """
    out = []
    few = sorted(w for w, v in by_word.items() if len(v) < FEW_RECORDINGS)
    if few:
        out.append(f"{len(few)} word(s) have fewer than {FEW_RECORDINGS} recordings ({', '.join(few[:5])}"
                   f"{', ...' if len(few) > 5 else ''}): too few to hold out for calibrating their rejection")
    if len(by_word) == 1 and not n_negatives:
        out.append("one word in the vocabulary: the confidence only compares it with generic speech and with "
                   "impostors made from it; record other words into _unknown_/ (or --negatives) so that it can "
                   "tell the word from others")
    if calibration is None:
        out.append("too little held-out data to calibrate rejection: nothing will be answered <unknown> "
                   "(record more of each word)")
    elif calibration.expected_false_acceptance is not None and calibration.expected_false_acceptance >= 0.99:
        out.append("the calibrated threshold rejects almost none of the held-out unknown examples: "
                   "expect few <unknown> answers")
    return out
