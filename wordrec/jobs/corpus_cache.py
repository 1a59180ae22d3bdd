"""Featurise a training corpus into a feature cache on disk: what training holds is a reference per recording.

:func:`features_by_word` here is :func:`wordrec.jobs.featurise.features_by_word`
with the features written to shards (:mod:`wordrec.jobs.store`) by the
worker that made them; the parent gets :class:`~wordrec.jobs.store.Ref`
objects, so its memory does not grow with the features of the corpus.
"""

from __future__ import annotations

from wordrec.core.confidence import spectral_variation
from wordrec.core.features import FeatureConfig
from wordrec.jobs.featurise import Failure, _extract_chunk, check_headers, group_by_word
from wordrec.jobs.parallel import ordered_map
from wordrec.jobs.store import write_shard

#: Recordings per shard.  Fixed (not a share of the workers), so that the
#: shards, and everything read from them, are the same for any -j.
SHARD_FILES = 128


def _extract_and_store(task) -> list:
    """In a worker: featurise one chunk of paths and write its features as one shard."""
    paths, first, cfg, noise, folder, number = task
    out = _extract_chunk((paths, first, cfg, True, noise, False))
    arrays = [a for f in out if not isinstance(f, Failure) for a in (f if isinstance(f, tuple) else (f,))]
    # Each clean recording's spectral variation (for the steady-sound floor), worked out here, once.
    clean = [f[0] if isinstance(f, tuple) else f for f in out if not isinstance(f, Failure)]
    variation = iter(spectral_variation(clean, cfg.n_ceps))
    per_array = [v for f in out if not isinstance(f, Failure)
                 for v in ((next(variation), None) if isinstance(f, tuple) else (next(variation),))]
    refs = iter(write_shard(folder, number, arrays, per_array))
    return [f if isinstance(f, Failure) else (tuple(next(refs) for _ in f) if isinstance(f, tuple) else next(refs))
            for f in out]


def features_by_word(items, cfg: FeatureConfig, folder: str, progress=None, words=None, jobs: int = 1,
                     noise=None) -> tuple[dict, list[Failure], dict]:
    """Featurise ``(path, word)`` items into shards in ``folder``, grouped by word.

    As :func:`wordrec.jobs.featurise.features_by_word` (the same recordings
    left out, the same failures, in the same order), with
    :class:`~wordrec.jobs.store.Ref` objects instead of feature arrays.
    """
    paths = [p for p, _ in items]
    starts = range(0, len(paths), SHARD_FILES)
    tasks = [(paths[a : a + SHARD_FILES], a, cfg, noise, folder, k) for k, a in enumerate(starts)]

    def done(i: int) -> None:
        if progress:
            progress(len(tasks[i][0]))

    feats = [f for part in ordered_map(_extract_and_store, tasks, jobs, done) for f in part]
    return group_by_word(items, feats, cfg, words)


def _headers(task):
    items, rate = task
    return check_headers(items, rate)


def headers(items, rate: int | None = None, jobs: int = 1) -> tuple[int, list, list[Failure]]:
    """:func:`wordrec.jobs.featurise.check_headers` in ``jobs`` worker processes (chunks of 1024 files)."""
    items = list(items)
    tasks = [(items[a : a + 1024], rate) for a in range(0, len(items), 1024)]
    parts = ordered_map(_headers, tasks, jobs)
    usable = [it for _, ok, _ in parts for it in ok]
    failures = [f for _, _, bad in parts for f in bad]
    if rate is None:
        rates = [r for r, ok, _ in parts if ok]
        rate = min(rates) if rates else check_headers([], None)[0]
    return int(rate), usable, failures
