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
    truth, predicted = list(truth), list(predicted)
    labels = list(labels) if labels is not None else sorted(set(truth) | set(predicted))
    index = {w: i for i, w in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(truth, predicted):
        confusion[index[t], index[p]] += 1
    n_correct = int(sum(t == p for t, p in zip(truth, predicted)))
    per_word = {}
    for w in labels:
        n = int(confusion[index[w]].sum())
        if n:
            c = int(confusion[index[w], index[w]])
            per_word[w] = {"n_files": n, "n_correct": c, "accuracy": c / n}
    names = list(paths) if paths is not None else [""] * len(truth)
    errors = [
        {"path": str(n), "truth": t, "recognized": p}
        for n, t, p in zip(names, truth, predicted)
        if t != p
    ]
    return {
        "accuracy": n_correct / len(truth) if truth else 0.0,
        "n_files": len(truth),
        "n_correct": n_correct,
        "labels": labels,
        "confusion": confusion.tolist(),
        "per_word": per_word,
        "errors": errors,
    }


