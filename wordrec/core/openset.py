"""Open-set recognition: the background model, held-out folds, operating points and confidences.

The background model is one Gaussian mixture (a one-state HMM) trained on
the frames of every word (and of the negatives): generic speech.
Calibration holds out folds of the training recordings, trains word models
on the rest (that is :mod:`wordrec.jobs.training`'s part), and fits the
confidence on the held-out scores (:mod:`wordrec.core.calibration`).  A
model has up to two operating points: its calibration for voices like the
training ones, and ``calibration.new_voices`` for others
(:func:`active_calibration`).  Recorded false alarms taught to a trained
model (``wordrec adapt --negatives``) are copies of the words they were
taken for (:func:`shadow_models`, :func:`taught_false_alarms`).  Why each
setting is what it is: docs/rejection.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core.adapt import map_means
from wordrec.core.baumwelch import em_runs
from wordrec.core.confidence import evidence, spectral_variation
from wordrec.core.defaults import NEW_VOICES_BY_DEFAULT, SPEAKER_WARP  # noqa: F401 (SPEAKER_WARP: imported from here too)
from wordrec.core.gmm import design, state_log_densities
from wordrec.core.score import score
from wordrec.core.train import TrainConfig

#: Name and Gaussians of the background model.
BACKGROUND = "<background>"
BACKGROUND_MIX = 32
#: EM iterations per mixture size, at most, for the calibration folds' models:
#: they need to score like the final models, not to match them.
CALIBRATION_ITERS = 5
#: Utterances per word used for the background model, about: it needs
#: coverage, not every frame.
_BACKGROUND_UTTERANCES = 40
#: Taught false alarms (:func:`shadow_models`): the weight, in frames, of the
#: word model's means when they move to the false alarm (small: the copy
#: should become the false alarm, not stay the word), and how many nats per
#: frame a copy must beat every word by for the recording to get confidence
#: 0.  Chosen on the robot corpus's training takes (takes 0-6 trained, 7-9
#: and the _unknown_ words as recorded and fresh false alarms): commands
#: scored 8.1 nats a frame below the nearest copy with 0.25 (5.8 with 1,
#: 2.3 with 3), recorded false alarms 14 above, fresh takes of the same
#: words 3.5 and more above; every margin from 0 to 2 kept every command
#: and rejected every false alarm (docs/rejection.md).
SHADOW_PRIOR = 0.25
SHADOW_MARGIN = 1.0
#: Taught false alarms a model may hold (each costs scoring a word model).
MAX_NEGATIVES = 1000


def background_problem(by_word: dict, cfg: TrainConfig) -> tuple[dict, TrainConfig]:
    """The background model's training set and settings, for :func:`wordrec.jobs.training.fit_sets`.

    A one-state, ``BACKGROUND_MIX``-Gaussian model named ``"<background>"``,
    trained on a sample of every word's recordings.
    """
    seqs = []
    for w in sorted(by_word):
        words = by_word[w]
        step = max(1, len(words) // _BACKGROUND_UTTERANCES)
        seqs.extend(words[::step])
    bg_cfg = dataclasses.replace(
        cfg, n_states=1, n_mix=BACKGROUND_MIX, topology="ergodic", max_iter=min(cfg.max_iter, 10), state_frames=0
    )
    return {BACKGROUND: seqs}, bg_cfg


#: Frames the background model scores at a time (a large held-out chunk,
#: or many negatives, need not be one array).
BACKGROUND_FRAMES = 65_536


def background_scores(background, feats, outlier=None) -> np.ndarray:
    """Background log-likelihood of each recording: ``(n_recordings,)``.

    ``outlier``: the word models' :class:`wordrec.core.model.Outlier`, mixed
    into the background model too, so that a frame nothing explains costs
    the background what it costs the words.  Recordings are scored in runs
    of at most ``BACKGROUND_FRAMES`` frames (a longer one alone).
    """
    lengths = [len(f) for f in feats]
    out = [np.zeros(0)]
    for a, b in em_runs([lengths], BACKGROUND_FRAMES):
        XX = design(np.concatenate([np.asarray(f) for f in feats[a:b]], axis=0))
        log_b, _ = state_log_densities(XX, background.log_weights, background.means, background.variances)
        if outlier is not None:
            log_b = outlier.mix_into(log_b.T, XX).T
        bounds = np.cumsum([0] + lengths[a:b])
        out.append(np.add.reduceat(log_b[:, 0], bounds[:-1]))
    return np.concatenate(out)


def top_two(scores: np.ndarray, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best index, best and second-best score per row (optionally excluding one column per row)."""
    s = scores.copy()
    if exclude is not None:
        s[np.arange(len(s)), exclude] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")
    rows = np.arange(len(s))
    best = s[rows, order[:, 0]]
    second = s[rows, order[:, 1]] if s.shape[1] > 1 else np.full(len(s), -np.inf)
    return order[:, 0], best, second


def held_out_folds(by_word: dict, folds: int = 2) -> list[tuple[dict, list]]:
    """Deal each word's recordings into ``folds`` folds in a fixed order.

    Returns
    -------
    list of (train, test)
        Per usable fold: ``train`` maps each word to its recordings outside
        the fold; ``test`` lists ``(word index, features)`` inside it, words
        in sorted order.  A fold that would leave a word without training
        data, or has nothing to test, is left out.
    """
    words = sorted(by_word)
    out = []
    for k in range(folds):
        train = {w: [s for i, s in enumerate(by_word[w]) if i % folds != k] for w in words}
        test = [(j, s) for j, w in enumerate(words) for i, s in enumerate(by_word[w]) if i % folds == k]
        if all(train.values()) and test:
            out.append((train, test))
    return out


def active_calibration(models, new_voices: bool | None = None):
    """The calibration that answers: the model's, or its ``new_voices`` one.

    ``new_voices`` None means ``NEW_VOICES_BY_DEFAULT``.  A model without a
    new-voices calibration answers with its only one either way.
    """
    cal = models.calibration
    use_new = NEW_VOICES_BY_DEFAULT if new_voices is None else new_voices
    if use_new and cal is not None and cal.new_voices is not None:
        return cal.new_voices
    return cal


def threshold_of(models, new_voices: bool | None = None) -> float:
    """The calibrated threshold of the operating point (0, accept all, without a calibration)."""
    cal = active_calibration(models, new_voices)
    return cal.threshold if cal is not None else 0.0


def shadow_models(models, feats, prior: float = SHADOW_PRIOR) -> tuple:
    """Copies of the word models that recordings of no word were taken for, moved to those recordings.

    Each recording is scored; the best word's model is copied and its means
    moved to the recording by MAP (:func:`wordrec.core.adapt.map_means`
    with a prior of ``prior`` frames).  The copy keeps the word's name.

    Parameters
    ----------
    models : ModelSet
    feats : list of ndarray (n_frames, n_features)
        Recorded false alarms, as recognition featurises them.

    Returns
    -------
    tuple of WordModel
        One per recording that some word can explain (too short for every
        word: none).
    """
    if not feats:
        return ()
    scores = score(models, feats)
    out = []
    for f, row in zip(feats, scores):
        if np.isfinite(row.max()):
            out.append(map_means(models.models[int(np.argmax(row))], [f], prior))
    return tuple(out)


def taught_false_alarms(models, feats, best: np.ndarray) -> np.ndarray:
    """Which recordings a taught false alarm (``models.negatives``) explains better than every word.

    Parameters
    ----------
    feats : list of ndarray (n_frames, n_features)
    best : ndarray, shape (n_recordings,)
        The best word's log-likelihood of each recording.

    Returns
    -------
    ndarray of bool, shape (n_recordings,)
        True where the best copy scores more than ``SHADOW_MARGIN`` nats a
        frame above ``best``.
    """
    if not models.negatives or not feats:
        return np.zeros(len(feats), dtype=bool)
    copies = dataclasses.replace(models, models=tuple(models.negatives), negatives=())
    n = np.maximum(np.array([len(f) for f in feats], dtype=float), 1.0)
    with np.errstate(invalid="ignore"):  # -inf - -inf: neither explains it
        return (score(copies, feats).max(axis=1) - best) / n > SHADOW_MARGIN


def confidences(models, feats, scores: np.ndarray, new_voices: bool | None = None) -> np.ndarray | None:
    """Confidence of the best word for each recording, or None if the model has no calibration.

    Parameters
    ----------
    models : ModelSet
    feats : list of ndarray (n_frames, n_features)
    scores : ndarray, shape (n_recordings, n_words)
        From :func:`wordrec.core.score.score`.
    new_voices : bool, optional
        The operating point (:func:`active_calibration`).
    """
    cal = active_calibration(models, new_voices)
    if models.background is None or cal is None:
        return None
    _, best, second = top_two(scores)
    outlier = models.outlier if cal.background_outlier else None
    bg = background_scores(models.background, feats, outlier)
    ev = evidence(best, second, bg, np.array([len(f) for f in feats]), cal.terms)
    conf = cal.confidence(ev, spectral_variation(feats, models.features.n_ceps))
    conf = np.where(taught_false_alarms(models, feats, best), 0.0, conf)
    return np.where(np.isfinite(conf), conf, 0.0)
