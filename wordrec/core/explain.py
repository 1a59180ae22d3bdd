"""Why a recording got its answer, and what a model file holds: numbers for people.

:func:`explain` takes one recording (or a span of a take) through the same
steps as recognition (endpointing, the model's front end, forward scores
of every word, the confidence and the threshold) and adds what recognition
does not need but a person asking "why?" does: the most likely state path
of each of the best words (Viterbi), what every frame contributed to it,
and where along the recording the best word pulled ahead of the runner-up.

The forward log-likelihood (recognition's score) sums over all state
paths; the Viterbi score is that of the single best path, a little lower.
The per-frame contributions of a path are its transition and emission log
densities (the first frame's start probability instead of a transition),
so they add up to its Viterbi score, and the running difference of two
words' contributions ends at the difference of their Viterbi scores.

:func:`inspect` gathers a model file's contents and training record.  Arrays
and a :class:`~wordrec.core.model.ModelSet` in, plain dicts (JSON-ready)
out: :mod:`wordrec.jobs.show` reads the recordings and
:mod:`wordrec.api.plots` draws both.
"""

from __future__ import annotations

import numpy as np

from wordrec.core import features, vad
from wordrec.core.confusable import FIELD
from wordrec.core.gmm import design, emission_log_densities
from wordrec.core.hmm import viterbi
from wordrec.core.model import UNKNOWN
from wordrec.core.openset import active_calibration, confidences, threshold_of
from wordrec.core.score import rank, score
from wordrec.errors import WordrecError


def emissions(models, wm, feats: np.ndarray) -> np.ndarray:
    """State log densities of a word model for every frame, as recognition scores them.

    Every state's mixture includes the model set's outlier component (when
    it has one), as in :func:`wordrec.core.score.score`.

    Parameters
    ----------
    models : ModelSet
    wm : WordModel
    feats : ndarray, shape (n_frames, n_features)

    Returns
    -------
    ndarray, shape (n_frames, n_states)
    """
    XX = design(feats)
    log_b = np.ascontiguousarray(emission_log_densities(XX, wm.log_weights, wm.means, wm.variances).T)
    if models.outlier is not None:
        models.outlier.mix_into(log_b, XX)
    return log_b.T


def path_terms(wm, log_b: np.ndarray, path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each frame of a state path adds to its log probability.

    Parameters
    ----------
    wm : WordModel
    log_b : ndarray, shape (n_frames, n_states)
        :func:`emissions`.
    path : ndarray of int, shape (n_frames,)

    Returns
    -------
    emission : ndarray, shape (n_frames,)
        ``log_b[t, path[t]]``.
    transition : ndarray, shape (n_frames,)
        ``log P(path[t] | path[t - 1])``, and for the first frame the log
        start probability of its state.  ``emission + transition`` sums to
        the path's log probability (a path may only end in a final state,
        which costs nothing).
    """
    frames = np.arange(len(path))
    transition = np.empty(len(path))
    transition[0] = wm.log_start[path[0]]
    transition[1:] = wm.log_trans[path[:-1], path[1:]]
    return log_b[frames, path], transition


def state_segments(path: np.ndarray, times: np.ndarray, step: float) -> list[dict]:
    """Runs of one state along a path: ``[{state, first_frame, n_frames, start_s, end_s}]``.

    ``times`` are the frames' centres in seconds; a run covers its frames'
    centres +- half the frame step ``step`` (seconds), so runs tile the span.
    """
    change = np.flatnonzero(np.diff(path)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(path)]])
    return [
        {"state": int(path[a]), "first_frame": int(a), "n_frames": int(b - a),
         "start_s": float(times[a] - step / 2), "end_s": float(times[b - 1] + step / 2)}
        for a, b in zip(starts, ends)
    ]


def explain(models, signal: np.ndarray, sample_rate: int, start: float | None = None, end: float | None = None,
            nbest: int = 5, offset: float = 0.0, threshold: float | None = None) -> dict:
    """Explain the answer recognition gives for one recording, or for the span start..end of a take.

    A span is explained as a file holding just that span would be
    recognised: endpointed with the model's detector, then featurised.

    Parameters
    ----------
    models : ModelSet
    signal : ndarray, shape (n_samples,)
        Mono samples in [-1, 1] at the model's rate (``models.features.sample_rate``;
        :func:`wordrec.jobs.show.read_recording` reads a file so).
    sample_rate : int
        Hz: must be the model's rate (a check that the signal is what the
        model expects).
    start, end : float, optional
        Seconds from the start of ``signal`` (default: all of it).
    nbest : int
        Words explained, best first.
    offset : float
        Seconds of the take before ``signal[0]`` (when ``signal`` is a
        piece of a longer take): added to every time returned.
    threshold : float, optional
        Confidence below which the answer is ``<unknown>``; default the
        model's calibrated threshold (0, accept all, without a calibration).

    Returns
    -------
    dict
        ``sample_rate`` (the model's, Hz), ``span`` and ``endpoints``
        (``{start_s, end_s}`` from the start of the take: what was
        examined, and what endpointing kept of it), ``n_frames``,
        ``frame_step_s``, ``frame_times_s`` (centre of every frame kept),
        ``answer`` (the word, or ``<unknown>`` below the threshold),
        ``best_word``, ``confidence`` (None without a calibration),
        ``threshold``, ``accepted``, ``nbest`` (per word, best first:
        ``word``, ``log_lik`` (forward, as recognition scores it),
        ``log_lik_per_frame``, ``viterbi_log_lik``, ``states`` (state of
        every frame on the Viterbi path), ``segments`` (its runs, see
        :func:`state_segments`), ``emission`` and ``transition`` (per frame,
        :func:`path_terms`), ``frame_log_lik`` (their sum)) and
        ``difference`` (best against runner-up: ``best``, ``runner_up``,
        ``per_frame``, ``running`` (cumulative sum), ``total``; None with
        one word).

    Raises
    ------
    WordrecError
        If the signal is not at the model's rate, the span is empty or
        outside the signal, holds no speech, or is too short for every word
        model.
    """
    cfg = models.features
    rate = cfg.sample_rate
    if int(sample_rate) != rate:
        raise WordrecError(f"the signal is at {sample_rate} Hz and the model works at {rate} Hz: resample it first")
    signal = np.clip(np.asarray(signal, dtype=float), -1.0, 1.0)
    a, b = _span(len(signal), rate, start, end)
    piece = signal[a:b]
    kept = vad.trim_bounds(piece, rate, cfg) if cfg.trim else (0, len(piece))
    if kept is None:
        raise WordrecError("no speech found" + _where(start, end))
    first, last = a + kept[0], a + kept[1]
    feats = features.extract(signal[first:last], cfg)
    row = score(models, [feats])[0]
    ranked = rank(row, models.words)
    if not ranked.words:
        # The words of wordrec.jobs.featurise.too_short, which recognition gives.
        need = min(wm.min_frames() for wm in models.models)
        raise WordrecError(f"too short to recognise ({len(feats)} frames; the models need at least {need}, "
                           f"about {need * cfg.win_step:.2f} s)" + _where(start, end))
    conf = confidences(models, [feats], row[None, :])
    confidence = None if conf is None else float(conf[0])
    if threshold is None:  # as recognition's default (wordrec.jobs.recognition.rejection_threshold)
        threshold = threshold_of(models)
    accepted = confidence is None or confidence >= threshold
    times = offset + (first + np.arange(len(feats)) * cfg.frame_step + cfg.frame_length / 2.0) / rate
    by_word = {wm.word: wm for wm in models.models}
    words = []
    for word, log_lik in list(zip(ranked.words, ranked.log_liks))[: max(1, nbest)]:
        wm = by_word[word]
        log_b = emissions(models, wm, feats)
        path, v_score = viterbi(log_b, wm.log_start, wm.log_trans, wm.log_end)
        emission, transition = path_terms(wm, log_b, path)
        words.append({
            "word": word,
            "log_lik": float(log_lik),
            "log_lik_per_frame": float(log_lik) / len(feats),
            "viterbi_log_lik": float(v_score),
            "states": path.tolist(),
            "segments": state_segments(path, times, cfg.win_step),
            "emission": emission.tolist(),
            "transition": transition.tolist(),
            "frame_log_lik": (emission + transition).tolist(),
        })
    difference = None
    if len(words) > 1:
        per_frame = np.array(words[0]["frame_log_lik"]) - np.array(words[1]["frame_log_lik"])
        difference = {
            "best": words[0]["word"],
            "runner_up": words[1]["word"],
            "per_frame": per_frame.tolist(),
            "running": np.cumsum(per_frame).tolist(),
            "total": words[0]["viterbi_log_lik"] - words[1]["viterbi_log_lik"],
        }
    return {
        "sample_rate": rate,
        "span": {"start_s": offset + a / rate, "end_s": offset + b / rate},
        "endpoints": {"start_s": offset + first / rate, "end_s": offset + last / rate},
        "n_frames": len(feats),
        "frame_step_s": cfg.win_step,
        "frame_times_s": times.tolist(),
        "answer": ranked.best if accepted else UNKNOWN,
        "best_word": ranked.best,
        "confidence": confidence,
        "threshold": float(threshold),
        "accepted": bool(accepted),
        "nbest": words,
        "difference": difference,
    }


def _span(n_samples: int, rate: int, start, end) -> tuple[int, int]:
    """Samples ``[a, b)`` of the span start..end seconds; WordrecError if it is empty or outside."""
    duration = n_samples / rate
    lo = 0.0 if start is None else float(start)
    hi = duration if end is None else float(end)
    if not (0.0 <= lo < hi) or lo >= duration:
        raise WordrecError(f"span {lo:g}-{hi:g} s is empty or outside the recording (0-{duration:.3f} s)")
    return int(round(lo * rate)), min(n_samples, int(round(hi * rate)))


def _operating_point(c, old_record: dict) -> dict:
    fr, fa = c.expected_false_rejection, c.expected_false_acceptance
    return {
        "threshold": c.threshold,
        "target_false_rejection": c.target_false_rejection,
        "held_out_false_rejection": old_record.get("false_rejection") if fr is None else fr,
        "held_out_false_acceptance": old_record.get("false_acceptance") if fa is None else fa,
        "terms": list(c.terms),
        "speaker_warp": c.speaker_warp,
        "min_variation": c.min_variation,
    }


def _where(start, end) -> str:
    return "" if start is None and end is None else " in the span given"


def inspect(models) -> dict:
    """What a model file holds, for people: sizes, training record, front end, calibration, confusions.

    Parameters
    ----------
    models : ModelSet

    Returns
    -------
    dict
        ``words``; ``per_word`` (word -> ``n_states``, ``n_mix``,
        ``n_gaussians``, and from the training record when present:
        ``n_recordings``, ``n_noisy_copies``, ``n_too_short``, ``n_frames``,
        ``log_lik_per_frame``, ``em`` (the training log-likelihood per
        frame before each EM iteration, one list per mixture size; the
        last list ends with the final value)); ``features`` (the front
        end's settings); ``training`` (the EM settings); ``background``
        (its Gaussians, or None); ``outlier_weight`` (or None);
        ``calibration`` (``threshold``, ``target_false_rejection``,
        ``held_out_false_rejection``, ``held_out_false_acceptance`` (None
        where not measured), ``terms``, ``speaker_warp``, ``min_variation``,
        ``new_voices`` (the same for the new-voices operating point, or
        None) and ``default`` (``"new_voices"`` or ``"known_voices"``: which
        one answers by default); None without one); ``negatives`` (taught
        false alarms per word they were taken for);
        ``confusable`` (``close_nats_per_frame``, ``min_share``,
        ``pairs``: ``[{word, close_to, n_close, n_held_out, share}]``; None in files
        written before it was recorded); ``adaptations`` (how many times
        the model was adapted).
    """
    record = models.diagnostics.get("words", {}) if isinstance(models.diagnostics, dict) else {}
    record = record if isinstance(record, dict) else {}
    per_word = {}
    for wm in models.models:
        d = {"n_states": wm.n_states, "n_mix": wm.n_mix, "n_gaussians": wm.n_states * wm.n_mix}
        d.update(_training_record(record.get(wm.word)))
        per_word[wm.word] = d
    held_out = models.diagnostics.get(FIELD)  # validated on load when present
    calibration = None
    if models.calibration is not None:
        # Files written before the rates moved into the calibration hold them in the held-out record.
        calibration = _operating_point(models.calibration, held_out or {})
        new = models.calibration.new_voices
        calibration["new_voices"] = None if new is None else _operating_point(new, {})
        calibration["default"] = "new_voices" if active_calibration(models) is new else "known_voices"
    confusable = None
    if held_out is not None:
        confusable = {
            "close_nats_per_frame": held_out["close_nats_per_frame"],
            "min_share": held_out["min_share"],
            "pairs": [dict(p, n_held_out=held_out["recordings"].get(p["word"], 0)) for p in held_out["confusable"]],
        }
    config = models.training.get("config") if isinstance(models.training.get("config"), dict) else {}
    return {
        "words": list(models.words),
        "per_word": per_word,
        "features": models.features.to_dict(),
        "training": dict(config),
        "background": None if models.background is None else {"n_gaussians": models.background.n_mix},
        "outlier_weight": None if models.outlier is None else models.outlier.weight,
        "calibration": calibration,
        "confusable": confusable,
        "adaptations": sum("negatives" not in a for a in models.training.get("adaptation", [])),
        "negatives": {w: sum(n.word == w for n in models.negatives) for w in models.words if any(n.word == w for n in models.negatives)},
    }


def _training_record(d) -> dict:
    """A word's training diagnostics as :func:`inspect` gives them; what is missing or malformed is left out.

    The record is free-form in the model file (checked only to be finite
    JSON), so every field is checked for its type here.
    """
    if not isinstance(d, dict):
        return {}
    out = {}
    for key in ("n_recordings", "n_noisy_copies", "n_too_short", "n_frames"):
        if type(d.get(key)) is int:
            out[key] = d[key]
    if type(d.get("log_lik_per_frame")) in (int, float):
        out["log_lik_per_frame"] = float(d["log_lik_per_frame"])
    stages = d.get("log_lik")
    n = out.get("n_frames")
    if n and isinstance(stages, list) and all(isinstance(s, list) and all(type(x) in (int, float) for x in s) for s in stages):
        out["em"] = [[float(x) / n for x in s] for s in stages]
    return out
