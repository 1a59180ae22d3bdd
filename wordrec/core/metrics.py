"""Accuracy, per-word accuracy and the confusion matrix of a labelled test."""

from __future__ import annotations

import numpy as np


def report(truth, predicted, labels=None, paths=None) -> dict:
    """Summarise recognition results.

    Parameters
    ----------
    truth, predicted : sequence of str
        The true and the recognised word of each recording.
    labels : sequence of str, optional
        Row and column order of the confusion matrix; by default the sorted
        union of both sequences.
    paths : sequence of str, optional
        Recording names, listed with the errors.

    Returns
    -------
    dict
        ``accuracy`` (fraction), ``n_files``, ``n_correct``, ``labels``,
        ``confusion`` (rows = truth, columns = recognised), ``per_word``
        (word -> {n_files, n_correct, accuracy}) and ``errors`` (list of
        {path, truth, recognized}).
    """
    tally = Tally()
    for t, p, n in zip(truth, predicted, paths if paths is not None else iter(lambda: "", None)):
        tally.add(t, p, n)
    return tally.report(labels)


class Tally:
    """:func:`report` one recording at a time: what is kept is a count per (truth, answer) pair and the errors,
    not every recording (``eval`` of a million files)."""

    def __init__(self):
        self.counts: dict = {}
        self.errors: list = []

    def add(self, truth: str, predicted: str, path="") -> None:
        key = (truth, predicted)
        self.counts[key] = self.counts.get(key, 0) + 1
        if truth != predicted:
            self.errors.append({"path": str(path), "truth": truth, "recognized": predicted})

    @property
    def truths(self) -> set:
        return {t for t, _ in self.counts}

    @property
    def predictions(self) -> set:
        return {p for _, p in self.counts}

    def report(self, labels=None) -> dict:
        """:func:`report` of the recordings added, rows and columns ``labels`` (default: every word seen)."""
        labels = list(labels) if labels is not None else sorted(self.truths | self.predictions)
        index = {w: i for i, w in enumerate(labels)}
        confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for (t, p), n in self.counts.items():
            confusion[index[t], index[p]] += n
        n_files = int(sum(self.counts.values()))
        n_correct = n_files - len(self.errors)
        per_word = {}
        for w in labels:
            n = int(confusion[index[w]].sum())
            if n:
                c = int(confusion[index[w], index[w]])
                per_word[w] = {"n_files": n, "n_correct": c, "accuracy": c / n}
        return {
            "accuracy": n_correct / n_files if n_files else 0.0,
            "n_files": n_files,
            "n_correct": n_correct,
            "labels": labels,
            "confusion": confusion.tolist(),
            "per_word": per_word,
            "errors": list(self.errors),
        }


