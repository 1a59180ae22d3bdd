"""Reports as text: evaluation, open-set evaluation, cross-validation, answers and segments as JSON."""

from __future__ import annotations

from wordrec.cli.common import count, fmt, shown


def pct(x) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def confusion_table(rep: dict) -> str:
    """The confusion matrix as an aligned text table (rows = truth)."""
    labels = rep["labels"]
    width = max([len(w) for w in labels] + [len(str(v)) for row in rep["confusion"] for v in row] + [5])
    head = "truth\\rec".ljust(width + 1)
    lines = [head + " ".join(w.rjust(width) for w in labels)]
    for w, row in zip(labels, rep["confusion"]):
        lines.append(w.ljust(width + 1) + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def eval_text(rep: dict) -> str:
    lines = [f"accuracy\t{rep['accuracy'] * 100:.2f}%\t({rep['n_correct']}/{rep['n_files']})", ""]
    lines.append("word\tfiles\tcorrect\taccuracy")
    for w, d in rep["per_word"].items():
        lines.append(f"{w}\t{d['n_files']}\t{d['n_correct']}\t{d['accuracy'] * 100:.1f}%")
    lines += ["", "confusion (rows = truth, columns = recognised)", confusion_table(rep)]
    if rep["errors"]:
        lines += ["", "misrecognised"]
        lines += [f"{shown(e['path'])}\t{e['truth']}\t->\t{e['recognized']}" for e in rep["errors"]]
    return "\n".join(lines)


def cv_text(rep: dict) -> str:
    lines = ["fold\tfiles\tcorrect\taccuracy"]
    lines += [f"{f['name']}\t{f['n_files']}\t{f['n_correct']}\t{pct(f['accuracy'])}" for f in rep["folds"]]
    worst = [f["name"] for f in rep["folds"] if f["accuracy"] is not None and f["accuracy"] == rep["worst_accuracy"]]
    lines += [f"mean\t\t\t{pct(rep['mean_accuracy'])}", f"worst\t\t\t{pct(rep['worst_accuracy'])}\t({', '.join(worst)})"]
    lines += ["", f"pooled over {len(rep['folds'])} folds", eval_text(rep)]
    return "\n".join(lines)


def open_set_text(rep: dict) -> str:
    lines = [
        f"in-vocabulary accuracy\t{pct(rep['closed_set_accuracy'])}\t(closed set, {rep['n_in_vocabulary']} files)",
        f"false rejections\t{pct(rep['false_rejection'])}\t({rep['n_false_rejections']} of "
        f"{count(rep['n_in_vocabulary'], 'in-vocabulary file')} answered <unknown>)",
        f"false acceptances\t{pct(rep['false_acceptance'])}\t({rep['n_false_acceptances']} of "
        f"{count(rep['n_out_of_vocabulary'], 'out-of-vocabulary file')} given a word)",
        f"threshold\t{rep['threshold']:.3f}\t({rep.get('operating_point', 'known_voices').replace('_', ' ')})",
        f"equal error rate\t{pct(rep['eer'])}",
        "",
    ]
    return "\n".join(lines) + eval_text(rep)


def answer_line(r, nbest: int) -> str:
    """``path<TAB>word<TAB>log-likelihood<TAB>confidence`` (and the N-best) of one :class:`wordrec.api.Result`."""
    conf = "-" if r.confidence is None else f"{r.confidence:.3f}"
    line = f"{shown(r.name)}\t{r.word}\t{'-' if r.log_lik is None else fmt(r.log_lik)}\t{conf}"
    if nbest > 1:
        line += "".join(f"\t{w}\t{fmt(s)}" for w, s in r.nbest)
    return line


def answer_json(r) -> dict:
    return {
        "path": r.name,
        "word": r.word,
        "best_word": r.best_word,
        "log_lik": r.log_lik,
        "confidence": r.confidence,
        "accepted": r.accepted,
        "n_frames": r.n_frames,
        "nbest": [{"word": w, "log_lik": s} for w, s in r.nbest],
    }


def segment_word(seg, threshold: float) -> str:
    from wordrec.core.labels import UNKNOWN

    if seg.ranked is None or (seg.confidence is not None and seg.confidence < threshold):
        return UNKNOWN
    return seg.ranked.best


def segment_line(seg, nbest: int, threshold: float) -> str:
    head = f"{shown(seg.path)}\t{seg.start_s:.3f}\t{seg.end_s:.3f}"
    if seg.ranked is None:
        return f"{head}\t<unknown>\t-inf\t-"
    conf = "-" if seg.confidence is None else f"{seg.confidence:.3f}"
    line = f"{head}\t{segment_word(seg, threshold)}\t{fmt(seg.ranked.log_lik)}\t{conf}"
    if nbest > 1:
        line += "".join(f"\t{w}\t{fmt(s)}" for w, s in zip(seg.ranked.words, seg.ranked.log_liks))
    return line


def segment_json(seg, threshold: float) -> dict:
    ranked = seg.ranked
    return {
        "path": seg.path,
        "start_s": seg.start_s,
        "end_s": seg.end_s,
        "word": segment_word(seg, threshold),
        "best_word": ranked.best if ranked else None,
        "log_lik": ranked.log_lik if ranked else None,
        "confidence": seg.confidence,
        "n_frames": seg.n_frames,
        "nbest": [{"word": w, "log_lik": s} for w, s in zip(ranked.words, ranked.log_liks)] if ranked else [],
    }


def silent_segment(path, seconds: float) -> dict:
    """The JSON of a take with no speech at all: one ``<silence>`` from its start to its end."""
    from wordrec.core.labels import SILENCE

    return {"path": str(path), "start_s": 0.0, "end_s": seconds, "word": SILENCE, "best_word": None, "log_lik": None,
            "confidence": None, "n_frames": 0, "nbest": []}


def train_summary(models) -> str:
    """Per word: recordings, noisy copies, frames, states, EM steps, final log-likelihood per frame."""
    lines = ["word\trecordings\tnoisy_copies\tframes\tstates\titerations\tlog_lik_per_frame"]
    for word, d in models.diagnostics["words"].items():
        # One log-likelihood per EM step at each mixture size, and the final one.
        iterations = sum(len(stage) for stage in d["log_lik"]) - 1
        lines.append(
            f"{word}\t{d['n_recordings']}\t{d.get('n_noisy_copies', 0)}\t{d['n_frames']}\t{d['n_states']}\t"
            f"{iterations}\t{d['log_lik_per_frame']:.3f}"
        )
    return "\n".join(lines)


def detection_line(d, nbest: int) -> str:
    """``start_s<TAB>end_s<TAB>word<TAB>log-likelihood<TAB>confidence`` (and the N-best) of a
    :class:`wordrec.api.listener.Detection`, as ``recognize --segment`` prints a segment without its path."""
    if d.best_word is None:
        return f"{d.start:.3f}\t{d.end:.3f}\t{shown(d.word)}\t-inf\t-"
    conf = "-" if d.confidence is None else f"{d.confidence:.3f}"
    line = f"{d.start:.3f}\t{d.end:.3f}\t{shown(d.word)}\t{fmt(d.log_lik)}\t{conf}"
    if nbest > 1:
        line += "".join(f"\t{shown(w)}\t{fmt(s)}" for w, s in d.nbest)
    return line


def detection_json(d) -> dict:
    """A detection as one JSON Lines object: ``start``, ``end``, ``word``, ``confidence``, ``log_lik``, ``nbest``, ..."""
    return {
        "start": d.start, "end": d.end, "word": d.word, "best_word": d.best_word, "confidence": d.confidence,
        "log_lik": d.log_lik, "n_frames": d.n_frames, "nbest": [{"word": w, "log_lik": s} for w, s in d.nbest],
    }


def rejection_summary(models) -> list[str]:
    """Per operating point: its threshold and its rates on held-out data (none without a calibration)."""
    from wordrec.core.openset import active_calibration

    cal = models.calibration
    if cal is None:
        return []
    default = active_calibration(models)
    lines = []
    for name, c in (("voices like the training ones", cal), ("new voices", cal.new_voices)):
        if c is None:
            continue
        how = "default" if c is default else ("--new-voices" if c is cal.new_voices else "--known-voices")
        line = f"Rejection for {name} ({how}): threshold {c.threshold:.3f}"
        if c.expected_false_rejection is not None:
            line += (f"; on held-out data {100 * c.expected_false_rejection:.1f} % of known words rejected, "
                     f"{100 * c.expected_false_acceptance:.1f} % of unknown examples accepted")
        lines.append(line)
    return lines
