"""Which words the models confuse: pairs whose held-out recordings scored close.

Calibration (:func:`wordrec.core.calibration.fold_held_out`) scores held-out
recordings against word models trained without them.  For each ordered
pair of words ``(a, b)`` this counts the held-out recordings of ``a`` whose forward
log-likelihood under ``b`` came within ``CLOSE_NATS`` nats per frame of
their score under ``a`` (or above it: a recording heard as ``b`` counts).
A pair that holds ``CLOSE_SHARE`` or more of ``a``'s recordings (and at
least ``CLOSE_MIN`` of them) is one the
models may confuse with new speakers, and ``wordrec train`` says so, so
that users can pick other command words before they deploy.

The record goes into the model file's ``diagnostics`` under
``"held_out"`` (see :func:`record`); files written before it existed have
none, and :func:`wordrec.io.validate_held_out.check` validates it when
present.  (Files written before the expected rates moved into the
calibration, ``calibration.expected_false_rejection`` and
``expected_false_acceptance``, also hold them here as ``false_rejection``
and ``false_acceptance``.)
"""

from __future__ import annotations

import numpy as np

#: A held-out recording is "close" to another word when its score under that
#: word is at most this many nats per frame below its score under its own.
CLOSE_NATS = 1.0
#: Ordered pairs with at least this share of close held-out recordings are listed.
CLOSE_SHARE = 0.05
#: ... and at least this many: with a dozen recordings a word, one close
#: recording is 8 %, which says more about that recording than about the words.
CLOSE_MIN = 3
#: Key of the record in the model file's ``diagnostics``.
FIELD = "held_out"


def near_counts(scores: np.ndarray, truth: np.ndarray, n_frames: np.ndarray, nats: float | None = None) -> np.ndarray:
    """Count, per ordered pair of words, the held-out recordings that came close.

    Parameters
    ----------
    scores : ndarray, shape (n_recordings, n_words)
        Forward log-likelihoods (:func:`wordrec.core.score.score`).
    truth : ndarray of int, shape (n_recordings,)
        Each recording's own word (a column of ``scores``).
    n_frames : ndarray of int, shape (n_recordings,)
    nats : float, optional
        Nats per frame (default ``CLOSE_NATS``).

    Returns
    -------
    ndarray of int, shape (n_words, n_words)
        ``near[a, b]``: recordings of ``a`` whose score under ``b`` is at
        least their score under ``a`` minus ``nats * n_frames``.  The
        diagonal is therefore the number of held-out recordings of each word.
    """
    scores = np.asarray(scores, dtype=float)
    truth = np.asarray(truth, dtype=np.int64)
    own = scores[np.arange(len(scores)), truth]
    slack = (CLOSE_NATS if nats is None else nats) * np.maximum(np.asarray(n_frames, dtype=float), 1.0)
    with np.errstate(invalid="ignore"):  # -inf - -inf: no word fits; counted close
        close = scores >= (own - slack)[:, None]
    close |= ~np.isfinite(own)[:, None]
    near = np.zeros((scores.shape[1], scores.shape[1]), dtype=np.int64)
    np.add.at(near, truth, close.astype(np.int64))
    return near


def record(near: np.ndarray, words, share: float | None = None, nats: float | None = None) -> dict:
    """The ``diagnostics["held_out"]`` object of a model file.

    Parameters
    ----------
    near : ndarray of int, shape (n_words, n_words)
        Summed over the folds (:func:`near_counts`).
    words : sequence of str
        In the order of ``near``'s rows.
    share, nats : float, optional
        The least share listed (default ``CLOSE_SHARE``) and the nats per
        frame ``near`` was counted with (default ``CLOSE_NATS``).

    Returns
    -------
    dict
        ``close_nats_per_frame``, ``min_share``, ``recordings`` (word ->
        held-out recordings), ``confusable`` (list of ``{word, close_to,
        n_close, share}``, the largest share first).
    """
    share = CLOSE_SHARE if share is None else share
    nats = CLOSE_NATS if nats is None else nats
    near = np.asarray(near)
    totals = np.diag(near)
    pairs = []
    for a, b in zip(*np.nonzero(near)):
        if a != b and totals[a] > 0 and near[a, b] >= CLOSE_MIN and near[a, b] / totals[a] >= share:
            pairs.append({"word": words[a], "close_to": words[b], "n_close": int(near[a, b]),
                          "share": float(near[a, b] / totals[a])})
    pairs.sort(key=lambda p: (-p["share"], p["word"], p["close_to"]))
    return {
        "close_nats_per_frame": float(nats),
        "min_share": float(share),
        "recordings": {w: int(n) for w, n in zip(words, totals)},
        "confusable": pairs,
    }


def warnings(models) -> list[str]:
    """One line per confusable pair of a model, for stderr (none without the record)."""
    rec = models.diagnostics.get(FIELD) if isinstance(models.diagnostics, dict) else None
    if not rec:
        return []
    nats = rec["close_nats_per_frame"]
    return [
        f"Warning: {p['word']!r} and {p['close_to']!r} are close: {p['share'] * 100:.0f} % of held-out "
        f"{p['word']!r} within {nats:g} nat per frame of {p['close_to']!r}; consider other command words"
        for p in rec["confusable"]
    ]
