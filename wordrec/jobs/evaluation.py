"""Evaluation on labelled recordings: accuracy and confusions, and open-set error rates."""

from __future__ import annotations

from wordrec.core.confidence import error_rates
from wordrec.core.labels import SILENCE, UNKNOWN
from wordrec.core.metrics import Tally, report
from wordrec.core.openset import active_calibration
from wordrec.errors import WordrecError
from wordrec.jobs.featurise import Failure
from wordrec.jobs.recognition import (
    recognize_files,
    recognize_stream,
    rejection_threshold,
)


def words_not_in_model(models, items) -> dict:
    """``{word: n_files}`` for the labelled items whose word the model does not know."""
    known = set(models.words)
    if hasattr(items, "counts"):  # corpus.Items: counted without a pass over the pairs
        return {w: n for w, n in items.counts().items() if w not in known}
    missing: dict = {}
    for _, w in items:
        if w not in known:
            missing[w] = missing.get(w, 0) + 1
    return dict(sorted(missing.items()))


def evaluate_corpus(models, items, progress=None, adapt=None, jobs: int = 1) -> tuple[dict, list[Failure]]:
    """Recognise labelled ``(path, word)`` items and summarise (``adapt``, ``jobs``: as for :func:`recognize_files`).

    Returns the report of :func:`wordrec.core.metrics.report` (labels: the
    model's words plus any true word it lacks, and ``<silence>`` if a file
    held no speech: an error) and the files that failed.  The accuracy is
    closed-set: the best word, whatever its confidence.
    """
    paths = items.paths if hasattr(items, "paths") else [p for p, _ in items]
    if adapt is None:  # answers as they come: only what the report needs is kept of each
        answers = recognize_stream(models, paths, 1, progress, jobs=jobs)
    else:
        answers = recognize_files(models, list(paths), 1, progress, adapt=adapt)
    tally, failures = Tally(), []
    for a, (path, w) in zip(answers, items):  # the stream lets go of the spilled paths' pages, these too
        if a.failure is not None:
            failures.append(a.failure)
            continue
        tally.add(w, SILENCE if a.silent else a.ranked.best, path)
    silence = [SILENCE] if SILENCE in tally.predictions else []
    rep = tally.report(list(models.words) + sorted(tally.truths - set(models.words)) + silence)
    rep["n_failed"] = len(failures)
    return rep, failures


def evaluate_open_set(models, items, oov_paths, progress=None, threshold: float | None = None,
                      adapt=None, new_voices: bool | None = None, jobs: int = 1) -> tuple[dict, list[Failure]]:
    """In-vocabulary ``(path, word)`` items and out-of-vocabulary files, with rejection.

    With ``adapt``, all of them are one batch for :func:`recognize_files`;
    ``new_voices`` picks the operating point, as there.

    Returns
    -------
    report : dict
        The :func:`wordrec.core.metrics.report` fields over all files, where OOV
        files have the truth ``<unknown>`` and rejected answers are
        ``<unknown>`` (so the confusion matrix has an ``<unknown>`` row and
        column; ``<silence>`` is a column too where a file held no speech), plus ``closed_set_accuracy`` (in-vocabulary, rejection
        ignored), ``false_rejection`` (in-vocabulary files answered
        ``<unknown>``), ``false_acceptance`` (OOV files given a word),
        ``threshold``, ``operating_point`` (``"known_voices"`` or
        ``"new_voices"``: whose confidence), ``eer`` and ``points`` (the DET
        curve: false rejection and false acceptance at every threshold).
    failures : list of Failure
    """
    if models.calibration is None or models.background is None:
        what = "rejection calibration" if models.calibration is None else "background model, so no confidences"
        raise WordrecError(f"the model has no {what} (train it without --no-reject)")
    paths = [p for p, _ in items] + list(oov_paths)
    truth_all = [w for _, w in items] + [UNKNOWN] * len(oov_paths)
    answers = recognize_files(models, paths, 1, progress, threshold, adapt=adapt, new_voices=new_voices, jobs=jobs)
    failures = [a.failure for a in answers if a.failure is not None]
    ok = [(a, t) for a, t in zip(answers, truth_all) if a.failure is None]
    truth = [t for _, t in ok]
    predicted = [a.word for a, _ in ok]
    labels = list(models.words) + sorted(set(truth) - set(models.words) - {UNKNOWN}) + [UNKNOWN]
    labels += [SILENCE] if SILENCE in predicted else []
    rep = report(truth, predicted, labels, [a.path for a, _ in ok])
    inv = [(a, t) for a, t in ok if t != UNKNOWN]
    oov = [a for a, t in ok if t == UNKNOWN]
    # A rate over no recordings is unknown (null), not 0; so is the DET curve
    # without recordings on both sides.
    # Silence has no confidence: no threshold accepts it.
    def conf(a):
        return 0.0 if a.silent else a.confidence

    rates = error_rates([conf(a) for a, _ in inv], [conf(a) for a in oov]) if inv and oov else None
    rep.update(
        closed_set_accuracy=sum(not a.silent and a.ranked.best == t for a, t in inv) / len(inv) if inv else None,
        n_in_vocabulary=len(inv),
        n_out_of_vocabulary=len(oov),
        n_false_rejections=sum(not a.accepted for a, _ in inv),
        n_false_acceptances=sum(a.accepted for a in oov),
        false_rejection=sum(not a.accepted for a, _ in inv) / len(inv) if inv else None,
        false_acceptance=sum(a.accepted for a in oov) / len(oov) if oov else None,
        threshold=rejection_threshold(models, threshold, new_voices=new_voices),
        operating_point="new_voices" if active_calibration(models, new_voices) is not models.calibration else "known_voices",
        eer=rates["eer"] if rates else None,
        points=rates["points"] if rates else [],
        n_failed=len(failures),
    )
    return rep, failures
