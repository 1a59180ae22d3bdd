"""The file side of ``wordrec explain`` and ``eval --csv``: recordings in, explanations and CSV out.

:mod:`wordrec.core.explain` does the numbers and :mod:`wordrec.api.plots`
the drawing; this module reads the recording (or a span of a long take,
without decoding the rest) at the model's rate, names the file in every
error, and writes the confusion matrix as CSV.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from wordrec.core.explain import explain
from wordrec.errors import WordrecError
from wordrec.io import audio
from wordrec.io.modelfile import check_writable, write_atomic


def read_recording(path, rate: int, start: float | None = None, end: float | None = None) -> tuple[np.ndarray, float]:
    """A recording at ``rate`` Hz, or the part of a long take that holds the span start..end.

    A file up to :data:`wordrec.io.audio.MAX_WORD_SECONDS` long is read
    whole (the span is cut by :func:`wordrec.core.explain.explain`); of a
    longer take only the span is decoded and resampled.

    Parameters
    ----------
    path : str or Path
    rate : int
        Hz to resample to (the model's).
    start, end : float, optional
        Seconds from the start of the file; both are needed for a long take.

    Returns
    -------
    signal : ndarray, shape (n_samples,)
        Mono, in [-1, 1], at ``rate``.
    offset : float
        Seconds of the file before ``signal[0]`` (0 when read whole).
    """
    file_rate, n_samples = _length(path)
    duration = n_samples / file_rate
    if duration <= audio.MAX_WORD_SECONDS:
        return audio.read(path, rate)[0], 0.0
    if start is None or end is None:
        raise WordrecError(
            f"{path}: recording is {duration:.1f} s long; explain one word of it with --start and --end "
            "(seconds; 'recognize --segment' lists where its words are)"
        )
    if not 0.0 <= start < end or start >= duration:
        raise WordrecError(f"{path}: span {start:g}-{end:g} s is empty or outside the recording (0-{duration:.1f} s)")
    if end - start > audio.MAX_WORD_SECONDS:
        raise WordrecError(f"{path}: span {start:g}-{end:g} s is longer than the {audio.MAX_WORD_SECONDS:g} s of a word")
    first = int(start * file_rate)
    with audio.open_audio(path) as h:
        try:
            with audio.quiet_decoders():
                h.seek(first)
                data = h.read(int(np.ceil((end - start) * file_rate)) + 1, dtype="float64", always_2d=True)
        except (RuntimeError, ValueError, TypeError, OSError, EOFError, MemoryError) as exc:
            raise WordrecError(f"{path}: cannot decode audio at {start:g} s ({exc})") from None
    mono = audio.to_mono(data)
    if len(mono) == 0 or not np.all(np.isfinite(mono)):
        raise WordrecError(f"{path}: no usable samples at {start:g}-{end:g} s")
    return audio.resample(np.clip(mono, -1.0, 1.0), file_rate, rate), first / file_rate


def _length(path) -> tuple[int, int]:
    """``(sample rate in Hz, samples)`` from the file's header."""
    with audio.open_audio(path) as h:
        return int(h.samplerate), int(h.frames)


def explain_file(models, path, start: float | None = None, end: float | None = None, nbest: int = 5):
    """:func:`wordrec.core.explain.explain` of a file: ``(explanation, signal, offset)``.

    ``signal`` (at the model's rate) and ``offset`` (seconds) are what
    :func:`wordrec.api.plots.explain_figure` needs besides the explanation.
    Errors name the file.
    """
    rate = models.features.sample_rate
    signal, offset = read_recording(path, rate, start, end)
    if offset:  # the span was read on its own
        start, end = start - offset, end - offset
    try:
        expl = explain(models, signal, rate, start, end, nbest, offset=offset)
    except WordrecError as exc:
        raise WordrecError(f"{path}: {exc}") from None
    return expl, signal, offset


def check_output(path) -> None:
    """Raise WordrecError now if a CSV file could not be written to ``path`` later."""
    check_writable(path, "CSV file")


def confusion_csv(rep: dict) -> str:
    """The confusion matrix of a report as CSV: a header of the recognised words, one row per true word."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["truth \\ recognised"] + list(rep["labels"]))
    for word, row in zip(rep["labels"], rep["confusion"]):
        out.writerow([word] + [int(v) for v in row])
    return buf.getvalue()


def write_confusion_csv(rep: dict, path) -> None:
    """``eval --csv``: the report's confusion matrix (:func:`confusion_csv`), written atomically."""
    write_atomic(path, confusion_csv(rep).encode("utf-8"))
