"""Adaptation jobs: a model adapted to one speaker's recordings, or taught its recorded false alarms; noted in the model."""

from __future__ import annotations

import dataclasses

import numpy as np

from wordrec.core.adapt import AdaptConfig, adapt_supervised
from wordrec.core.openset import MAX_NEGATIVES, SHADOW_PRIOR, confidences, shadow_models
from wordrec.core.score import score
from wordrec.errors import WordrecError
from wordrec.jobs.featurise import Failure, Silence, extract_files, too_short
from wordrec.jobs.recognition import adapt_on_accepted, rejection_threshold


def adaptation_features(models, items, progress=None, jobs: int = 1, labelled: bool = True) -> tuple[list, list, list[Failure]]:
    """Features of one speaker's recordings, for :func:`adapt_to_speaker` or :func:`adapt_to_voice`.

    Parameters
    ----------
    items : list of (path, word) with ``labelled``, else list of paths
        Labelled items whose word the models do not know are failures, and
        so are recordings without speech or too short for the model
        (of their word, if labelled).

    Returns
    -------
    feats : list of ndarray (n_frames, n_features)
    words : list of str (labelled) or None (unlabelled), one per feature array
    failures : list of Failure
    """
    if not labelled:
        items = [(p, None) for p in items]
    # Frames each word's model needs; None (unlabelled): the fewest any needs.
    need = {m.word: m.min_frames() for m in models.models}
    need[None] = min(need.values())
    failures = [Failure(str(p), f"{p}: word {w!r} is not one of the model's words") for p, w in items if w not in need]
    items = [(p, w) for p, w in items if w in need]
    # Recordings without speech fail here as they do in recognition: a
    # label does not make hiss worth adapting to.
    extracted = extract_files([p for p, _ in items], models.features, progress, jobs=jobs)
    feats, words = [], []
    for f, (p, w) in zip(extracted, items):
        if isinstance(f, Failure):
            failures.append(f)
        elif len(f) < need[w]:
            failures.append(Failure(str(p), f"{p}: {too_short(models, len(f), w)}"))
        else:
            feats.append(f)
            words.append(w)
    return feats, words, failures


def adapt_to_speaker(models, feats, words, cfg=None) -> tuple[object, dict]:
    """Adapt ``models`` to the speaker of labelled recordings (supervised MAP).

    Returns
    -------
    adapted : ModelSet
        With an entry appended to ``training["adaptation"]`` (see
        :func:`noting_adaptation`).
    used : dict of str -> int
        Recordings each word was adapted on.
    """
    cfg = (cfg or AdaptConfig()).validated()
    if not feats:
        raise WordrecError("none of the recordings is usable for adaptation; no model written")
    adapted = adapt_supervised(models, feats, words, cfg)
    used = {w: sum(1 for x in words if x == w) for w in models.words}
    return noting_adaptation(adapted, cfg, used, labelled=True), used


def adapt_to_voice(models, feats, cfg=None) -> tuple[object, dict]:
    """Adapt ``models`` to the speaker of unlabelled recordings (unsupervised MAP).

    The recordings are recognised; those the models accept (all, without a
    calibration) adapt them, each to the word it was recognised as
    (:func:`wordrec.core.adapt.adapt_unsupervised`).  Returns as
    :func:`adapt_to_speaker`.
    """
    cfg = (cfg or AdaptConfig()).validated()
    if not feats:
        raise WordrecError("none of the recordings is usable for adaptation; no model written")
    scores = score(models, feats)
    conf = confidences(models, feats, scores)
    adapted, _, answers = adapt_on_accepted(models, feats, scores, conf, rejection_threshold(models), cfg)
    used = {w: int(np.sum(answers == j)) for j, w in enumerate(models.words)}
    if not any(used.values()):
        raise WordrecError(
            f"the model recognised none of the {len(feats)} usable recordings confidently enough to adapt to them; "
            "no model written"
        )
    return noting_adaptation(adapted, cfg, used, labelled=False), used


def noting_adaptation(models, cfg, used: dict, labelled: bool, **more):
    """``models`` with ``{prior, labelled, recordings}`` (and ``more``) appended to ``training["adaptation"]``."""
    record = {"prior": cfg.prior, "labelled": labelled, "recordings": used, **more}
    training = dict(models.training, adaptation=list(models.training.get("adaptation", [])) + [record])
    return dataclasses.replace(models, training=training)


def teach_false_alarms(models, paths, progress=None, jobs: int = 1) -> tuple[object, list, list[Failure]]:
    """``models`` taught recordings of no word that it answered with a word (``wordrec adapt --negatives``).

    Each recording is featurised as recognition does it; a copy of the word
    it is taken for, moved to it, joins ``models.negatives``
    (:func:`wordrec.core.openset.shadow_models`), so that the same sound
    later gets confidence 0.  The words' models, the background model and the
    calibration are unchanged.

    Parameters
    ----------
    paths : list of paths or :class:`wordrec.io.audio.Samples`

    Returns
    -------
    taught : ModelSet
        With an entry ``{negatives, prior}`` appended to ``training["adaptation"]``.
    rows : list of (path, word, confidence before, confidence after)
        One per recording taught, in order (confidences at the default
        operating point; None without a calibration).
    failures : list of Failure
        Unusable recordings, those without speech (already answered
        ``<silence>``) and those too short for every word.
    """
    if models.calibration is None or models.background is None:
        raise WordrecError("the model has no rejection (trained with --no-reject): it cannot be taught false alarms")
    paths = list(paths)
    feats, used, failures = [], [], []
    for p, f in zip(paths, extract_files(paths, models.features, progress, jobs=jobs, silence=True)):
        if isinstance(f, Silence):
            failures.append(Failure(str(p), f"{p}: no speech in it (answered <silence> already; nothing to teach)"))
        elif isinstance(f, Failure):
            failures.append(f)
        else:
            feats.append(f)
            used.append(str(p))
    scores = score(models, feats) if feats else np.zeros((0, len(models.models)))
    fits = np.isfinite(scores).any(axis=1)
    failures += [Failure(p, f"{p}: {too_short(models, len(f))}") for p, f, ok in zip(used, feats, fits) if not ok]
    feats = [f for f, ok in zip(feats, fits) if ok]
    used = [p for p, ok in zip(used, fits) if ok]
    scores = scores[fits]
    if not feats:
        raise WordrecError("none of the recordings is usable as a false alarm; no model written")
    if len(models.negatives) + len(feats) > MAX_NEGATIVES:
        raise WordrecError(f"a model holds at most {MAX_NEGATIVES} taught false alarms: it has "
                           f"{len(models.negatives)}, and {len(feats)} more were given; no model written")
    before = confidences(models, feats, scores)
    taught = dataclasses.replace(models, negatives=tuple(models.negatives) + shadow_models(models, feats))
    after = confidences(taught, feats, scores)
    rows = [(p, models.words[int(np.argmax(row))], float(b), float(a)) for p, row, b, a in zip(used, scores, before, after)]
    record = {"negatives": len(feats), "prior": SHADOW_PRIOR}
    training = dict(taught.training, adaptation=list(taught.training.get("adaptation", [])) + [record])
    return dataclasses.replace(taught, training=training), rows, failures
