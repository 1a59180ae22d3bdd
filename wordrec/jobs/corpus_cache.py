"""Featurise a training corpus into a feature cache on disk: what training holds is a few numbers a word.

:func:`features_by_word` here is :func:`wordrec.jobs.featurise.features_by_word`
with the features written to shards (:mod:`wordrec.jobs.store`) by the
worker that made them; the parent writes each word's references (four
numbers a recording) to a file beside them and gets the word as a
:class:`~wordrec.jobs.refs_file.RefsOnDisk`, so its memory grows neither
with the features of the corpus nor with the number of its recordings.  Tasks are made as the pool
hands them out (:class:`wordrec.jobs.parallel.Lazy`): a chunk's paths exist
only while it is in flight.
"""

from __future__ import annotations

import numpy as np

from wordrec.core.confidence import spectral_variation
from wordrec.core.features import FeatureConfig
from wordrec.io.items import let_go, release
from wordrec.jobs.featurise import (
    Failure,
    _extract_chunk,
    check_headers,
    left_out,
    min_training_frames,
    too_short_to_train,
)
from wordrec.jobs.parallel import Lazy, ordered_iter
from wordrec.jobs.refs_file import RefsWriter
from wordrec.jobs.store import write_shard

#: Recordings per shard.  Fixed (not a share of the workers), so that the
#: shards, and everything read from them, are the same for any -j.
SHARD_FILES = 128


def _extract_and_store(task):
    """In a worker: featurise one chunk of paths and write its features as one shard.

    Returns the chunk's failures (position in the chunk -> Failure) and, for
    its other recordings in order, four arrays: first row, frames and
    spectral variation of each clean recording, and the first row of its
    noisy copy (-1 if none; a copy has as many frames as its recording).
    """
    paths, first, cfg, noise, folder, number = task
    out = _extract_chunk((paths, first, cfg, True, noise, False))
    failed = {k: f for k, f in enumerate(out) if isinstance(f, Failure)}
    kept = [f for f in out if not isinstance(f, Failure)]
    pairs = [f if isinstance(f, tuple) else (f, None) for f in kept]
    arrays = [a for clean, copy in pairs for a in ((clean,) if copy is None else (clean, copy))]
    # Each clean recording's spectral variation (for the steady-sound floor), worked out here, once.
    variation = np.asarray(spectral_variation([clean for clean, _ in pairs], cfg.n_ceps), dtype=float)
    write_shard(folder, number, arrays)
    sizes = np.array([len(a) for a in arrays], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    clean_at = np.cumsum([0] + [1 if copy is None else 2 for _, copy in pairs])[:-1].astype(np.int64)
    copy_row = np.array([-1 if copy is None else starts[i + 1] for (_, copy), i in zip(pairs, clean_at)],
                        dtype=np.int64)
    return failed, starts[clean_at], sizes[clean_at], variation, copy_row


def features_by_word(items, cfg: FeatureConfig, folder: str, progress=None, words=None, jobs: int = 1,
                     noise=None) -> tuple[dict, list[Failure], dict]:
    """Featurise ``(path, word)`` items into shards in ``folder``, grouped by word.

    As :func:`wordrec.jobs.featurise.features_by_word` (the same recordings
    left out, the same failures, in the same order), with each word's
    recordings (and noisy copies) as :class:`~wordrec.jobs.refs_file.RefsOnDisk`
    instead of feature arrays.  ``items`` is a sequence (a list, or
    :class:`wordrec.io.items.Items`), sliced a shard's worth at a time.
    """
    n = len(items)

    def task(k: int):
        part = items[k * SHARD_FILES : (k + 1) * SHARD_FILES]
        return [p for p, _ in part], k * SHARD_FILES, cfg, noise, folder, k

    tasks = Lazy(-(-n // SHARD_FILES), task)

    def done(k: int) -> None:
        if progress:
            progress(min(SHARD_FILES, n - k * SHARD_FILES))
        let_go(items, k, 512)

    least = min_training_frames(cfg)
    refs = RefsWriter(folder)  # each word's references go to a file as they come, not into memory
    failures = []
    for k, (failed, rows, sizes, variation, copy_row) in enumerate(ordered_iter(_extract_and_store, tasks, jobs)):
        done(k)
        part = items[k * SHARD_FILES : (k + 1) * SHARD_FILES]
        ok = [j for j in range(len(part)) if j not in failed]
        short = {ok[i]: too_short_to_train(part[ok[i]][0], sizes[i], cfg) for i in np.flatnonzero(sizes < least)}
        failures += [failed.get(j) or short[j] for j in sorted({*failed, *short})]  # in item order, as featurise's
        labels = np.array([part[j][1] for j in ok], dtype=object)
        keep = sizes >= least
        for word in dict.fromkeys(labels[keep]):
            mine = keep & (labels == word)
            refs.add(word, k, rows[mine], sizes[mine], variation[mine])
            copied = mine & (copy_row >= 0)
            if copied.any():
                refs.add(word, k, copy_row[copied], sizes[copied], np.nan, copies=True)
    release(items)  # the pages of the paths read since the last let-go
    by_word, copies = refs.finish()
    return by_word, failures + left_out(words, by_word, items), copies


#: Files whose headers a task reads.
HEADER_FILES = 1024


def _headers(task):
    """In a worker: :func:`check_headers` of a chunk of paths; the readable ones by their place in the chunk."""
    paths, rate = task
    return check_headers([(p, j) for j, p in enumerate(paths)], rate)


def headers(items, rate: int | None = None, jobs: int = 1) -> tuple[int, object, list[Failure]]:
    """:func:`wordrec.jobs.featurise.check_headers` in ``jobs`` worker processes (chunks of ``HEADER_FILES``).

    ``items`` is a sequence of ``(path, word)``; the readable ones are
    returned as the same kind of sequence (:class:`wordrec.io.items.Items`
    stays one).
    """
    items = items if hasattr(items, "__len__") else list(items)
    n = len(items)
    tasks = Lazy(-(-n // HEADER_FILES),
                 lambda k: ([p for p, _ in items[k * HEADER_FILES : (k + 1) * HEADER_FILES]], rate))
    found, failures, rates = [], [], []
    for k, (r, ok, bad) in enumerate(ordered_iter(_headers, tasks, jobs)):
        let_go(items, k, 64)
        found.append(k * HEADER_FILES + np.array([j for _, j in ok], dtype=np.int64))
        failures += bad
        if ok:
            rates.append(r)
    index = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if len(index) == n:  # all readable (the usual case): the same sequence, not a copy of it
        usable = items
    else:
        usable = items.take(index) if hasattr(items, "take") else [items[i] for i in index]
    if rate is None:
        rate = min(rates) if rates else check_headers([], None)[0]
    return int(rate), usable, failures
