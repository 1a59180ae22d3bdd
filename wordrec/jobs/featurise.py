"""Reading and featurising recordings for every job: files in, feature arrays (or failures) out.

This is where I/O (audio, corpus) meets the numeric core.  A bad file never
stops a batch: it becomes a :class:`Failure` naming the file and the
problem, and the caller reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wordrec.core import features, vad
from wordrec.core.features import FeatureConfig
from wordrec.errors import WordrecError
from wordrec.io import audio, corpus
from wordrec.jobs.parallel import ordered_map

# Files read and featurised together: at most this many (bounds memory on
# large corpora), at least the smaller number unless there are fewer files.
_CHUNK_FILES = 512
_MIN_CHUNK_FILES = 64


@dataclass(frozen=True)
class Failure:
    """A file that could not be used, and why (the message names the file)."""

    path: str
    message: str


@dataclass(frozen=True)
class Silence:
    """A recording with no speech in it (no sound at all, or only steady noise): answered ``<silence>``."""

    path: str
    message: str


def check_headers(items, rate: int | None = None) -> tuple[int, list, list[Failure]]:
    """Read the header of every ``(path, word)`` item; pick the sample rate to train at.

    Returns
    -------
    rate : int
        ``rate`` if given, else the lowest rate in the readable files (no
        recording is upsampled into a band it never had); the default
        front-end rate when no file is readable.
    readable : list of (path, word)
        The items whose headers read.
    failures : list of Failure
        The others, in order.
    """
    failures, rates, readable = [], [], []
    for p, word in items:
        try:
            rates.append(audio.info(p)[0])
            readable.append((p, word))
        except WordrecError as exc:
            failures.append(Failure(str(p), str(exc)))
    if rate is None:
        rate = min(rates) if rates else FeatureConfig.sample_rate
    return int(rate), readable, failures


def pick_rate(paths, rate: int | None = None) -> tuple[int, list[Failure]]:
    """The sample rate to train at: ``rate`` if given, else the lowest rate in the data.

    Returns the rate and the files whose headers could not be read; raises
    WordrecError when no file can be read and no rate is given.
    """
    rate_found, readable, failures = check_headers([(p, None) for p in paths], rate)
    if rate is None and not readable:
        raise WordrecError("no readable recordings")
    return rate_found, failures


def extract_files(paths, cfg: FeatureConfig, progress=None, labelled: bool = False, jobs: int = 1, noise=None,
                  silence: bool = False):
    """Read and featurise files in chunks, in ``jobs`` worker processes.

    With ``labelled`` (training data, whose labels say a word is there), a
    recording in which endpointing finds no speech is kept whole instead of
    failing: the detector can miss a very quiet word, the label cannot.
    Otherwise a recording without speech (no sound at all, or only steady
    noise) is a :class:`Failure`, or with ``silence`` a :class:`Silence`:
    an answer, not an error.  With ``silence`` the detector also judges
    recordings for a model that does not trim them (nothing is cut).

    A path that is a folder stands for a folder in which no audio file was
    found (see :func:`wordrec.io.corpus.expand`) and fails as such.

    Parameters
    ----------
    noise : wordrec.core.augment.NoiseCopies, optional
        Recordings it picks (by their position in ``paths``) also give the
        features of a noisy copy, made after endpointing.

    Returns
    -------
    list, one per path
        A Failure, a Silence, an ndarray (n_frames, n_features), or with
        ``noise`` a pair of them (the recording's, its noisy copy's) for the
        picked recordings.  The same for any ``jobs``.
    """
    paths = list(paths)
    # Chunks small enough to keep every worker busy, large enough that the
    # front end batches many recordings per FFT.
    size = max(_MIN_CHUNK_FILES, min(_CHUNK_FILES, -(-len(paths) // (4 * max(1, jobs)))))
    chunks = [(paths[a : a + size], a, cfg, labelled, noise, silence) for a in range(0, len(paths), size)]

    def done(i: int) -> None:
        if progress:
            progress(len(chunks[i][0]))

    return [f for part in ordered_map(_extract_chunk, chunks, jobs, done) for f in part]


def _extract_chunk(task) -> list:
    """:func:`extract_files` on one chunk of paths, in this process."""
    paths, first, cfg, labelled, noise, silence = task
    signals, slots = [], []
    with audio.quiet_decoders():  # once for the chunk, not once a file
        for k, p in enumerate(paths):
            _read_one(p, first + k, cfg, labelled, noise, silence, signals, slots)
    feats = features.extract_many(signals, cfg)
    out = []
    for s in slots:
        if isinstance(s, (Failure, Silence)):
            out.append(s)
        elif isinstance(s, tuple):
            out.append((feats[s[0]], feats[s[1]]))
        else:
            out.append(feats[s])
    return out


def _read_one(p, index: int, cfg, labelled: bool, noise, silence: bool, signals: list, slots: list) -> None:
    """Read and endpoint one recording of :func:`_extract_chunk` (``index``: its place in the
    whole list); its signal (and noisy copy's) go to ``signals``, where they are or why not to ``slots``."""
    try:
        if not isinstance(p, audio.Samples) and corpus.is_folder(p):
            raise WordrecError(f"{p}: folder holds no audio files")
        signal, _ = audio.read(p, cfg.sample_rate)
        if len(signal) == 0:
            raise WordrecError(f"{p}: no samples left after resampling")
        if cfg.trim or (silence and not labelled):
            trimmed = vad.trim(signal, cfg.sample_rate, cfg)
            if trimmed is None and not labelled:
                raise audio.NoSound(f"{p}: no speech found")
            if cfg.trim and trimmed is not None:
                signal = trimmed
        copy = noise.copy(signal, index) if noise is not None else None
        slots.append(len(signals) if copy is None else (len(signals), len(signals) + 1))
        signals.extend([signal] if copy is None else [signal, copy])
    except audio.NoSound as exc:
        slots.append(Silence(str(p), str(exc)) if silence and not labelled else Failure(str(p), str(exc)))
    except WordrecError as exc:
        slots.append(Failure(str(p), str(exc)))


def features_by_word(items, cfg: FeatureConfig, progress=None, words=None, jobs: int = 1,
                     noise=None) -> tuple[dict, list[Failure], dict]:
    """Featurise ``(path, word)`` items, grouped by word.

    Parameters
    ----------
    items : list of (path, word)
    cfg : FeatureConfig
    progress : callable, optional
        Called with the number of files done after each chunk.
    words : iterable of str, optional
        Every word of the corpus (default: those of ``items``).  A word
        left without a usable recording is reported as a failure, also
        when all its files were filtered out before this call.
    jobs : int
        Worker processes for reading and featurising.
    noise : wordrec.core.augment.NoiseCopies, optional
        Noisy copies to make (see :func:`extract_files`).

    Returns
    -------
    by_word : dict of str -> list of ndarray (n_frames, n_features)
        Empty when nothing was usable; the caller decides what that means.
    failures : list of Failure
        Unusable files, and words left with no usable recording.
    copies : dict of str -> list of ndarray
        The noisy copies' features, by word (empty without ``noise``).
    """
    feats = extract_files([p for p, _ in items], cfg, progress, labelled=True, jobs=jobs, noise=noise)
    return group_by_word(items, feats, cfg, words)


def group_by_word(items, feats, cfg: FeatureConfig, words=None) -> tuple[dict, list[Failure], dict]:
    """:func:`features_by_word`'s grouping of the featurised ``items``: ``feats`` has one entry per
    item, a Failure, features, or a pair (features, noisy copy's)."""
    by_word: dict = {}
    copies: dict = {}
    failures = []
    for (path, word), f in zip(items, feats):
        if isinstance(f, Failure):
            failures.append(f)
            continue
        clean, copy = f if isinstance(f, tuple) else (f, None)
        short = too_short_to_train(path, clean, cfg)
        if short:
            failures.append(short)
            continue
        by_word.setdefault(word, []).append(clean)
        if copy is not None:
            copies.setdefault(word, []).append(copy)
    return by_word, failures + left_out(words, by_word, items), copies


def left_out(words, by_word: dict, items=()) -> list[Failure]:
    """A failure for each of ``words`` (sorted; None: the words of the ``(path, word)`` ``items``) that
    ``by_word`` has no recording of."""
    if words is None:  # Items know their words without decoding every path
        words = items.words if hasattr(items, "words") else {w for _, w in items}
    return [Failure(w, f"word {w!r}: no usable recordings (word left out)") for w in sorted(set(words) - set(by_word))]


def min_training_frames(cfg: FeatureConfig) -> int:
    """Frames a training recording needs: the shortest sound the endpointer
    takes for speech (``vad_min_speech``).  A click of a few frames would
    give its word a model of one or two states that matches any short noise."""
    return max(1, int(np.ceil(cfg.vad_min_speech / cfg.win_step - 1e-9)))


def too_short_to_train(path, feats, cfg: FeatureConfig) -> Failure | None:
    """A failure naming ``path`` if its features (an array, or its number of frames) are too few frames to train on."""
    least = min_training_frames(cfg)
    n = int(feats) if isinstance(feats, (int, np.integer)) else len(feats)
    if n >= least:
        return None
    return Failure(str(path), f"{path}: too short to train on ({n} frames; a word needs {least})")


def too_short(models, n_frames: int, word: str | None = None) -> str:
    """Why ``n_frames`` are too few for every word model (or for ``word``'s)."""
    if word is None:
        need = min(m.min_frames() for m in models.models)
        what = "to recognise", "the models need"
    else:
        need = models.models[models.words.index(word)].min_frames()
        what = f"for the model of {word!r}", "it needs"
    seconds = need * models.features.win_step
    return f"too short {what[0]} ({n_frames} frames; {what[1]} at least {need}, about {seconds:.2f} s)"


