"""Featurise a training corpus into a feature cache on disk: what training holds is a reference per recording.

:func:`features_by_word` here is :func:`wordrec.jobs.featurise.features_by_word`
with the features written to shards (:mod:`wordrec.jobs.store`) by the
worker that made them; the parent gets :class:`~wordrec.jobs.store.Ref`
objects, so its memory does not grow with the features of the corpus.
"""

from __future__ import annotations

from wordrec.core.features import FeatureConfig
from wordrec.jobs.featurise import Failure, _extract_chunk, group_by_word
from wordrec.jobs.parallel import ordered_map
from wordrec.jobs.store import write_shard

#: Recordings per shard.  Fixed (not a share of the workers), so that the
#: shards, and everything read from them, are the same for any -j.
SHARD_FILES = 128


def _extract_and_store(task) -> list:
    """In a worker: featurise one chunk of paths and write its features as one shard."""
    paths, first, cfg, noise, folder, number = task
    out = _extract_chunk((paths, first, cfg, True, noise))
    arrays = [a for f in out if not isinstance(f, Failure) for a in (f if isinstance(f, tuple) else (f,))]
    refs = iter(write_shard(folder, number, arrays))
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
