"""Negative examples: recordings that are no word of the vocabulary.

Google Speech Commands' convention: inside a training folder, ``_unknown_/``
holds recordings of other words and ``_background_noise_/`` long recordings
of noise, silence and room sound.  Any label whose name starts and ends
with an underscore is taken so: its recordings train no word model; they
are unknown examples for the rejection calibration
(:func:`wordrec.core.calibration.fold_held_out`) and part of the background
model's data, long ones cut into pieces of about a second, as a word would
be.  ``train --negatives DIR`` adds the recordings of any other folder.
"""

from __future__ import annotations

import re

from wordrec.core.features import FeatureConfig
from wordrec.core.impostors import pieces
from wordrec.jobs.featurise import Failure, extract_files

#: Labels (word folder names) that hold negatives: ``_unknown_``, ``_background_noise_``, ...
_NEGATIVE = re.compile(r"^_.+_$", re.S)
#: Negatives are cut into pieces of about this long (seconds).
PIECE_SECONDS = 1.0


def is_negative(label) -> bool:
    """Whether a label (a word folder's name, or a manifest's word) names negatives."""
    return bool(_NEGATIVE.match(str(label)))


def take_negatives(by_word: dict, copies: dict, cfg: FeatureConfig) -> list:
    """Take the negative labels out of ``by_word`` and ``copies`` (in place); their features, in pieces.

    Returns
    -------
    list of ndarray (n_frames, n_features)
        In label order, then recording order.  Noisy copies of negatives
        are dropped.
    """
    out = []
    for label in sorted(w for w in by_word if is_negative(w)):
        for f in by_word.pop(label):
            out.extend(pieces(f, cfg, PIECE_SECONDS))
        copies.pop(label, None)
    return out


def negative_features(paths, cfg: FeatureConfig, progress=None, jobs: int = 1) -> tuple[list, list[Failure]]:
    """Features of recordings of no word, in pieces; and the files that failed.

    A recording without speech is kept whole (noise and silence are what a
    negative may well be); an unreadable one is a failure.

    Parameters
    ----------
    paths : list of str, Path or :class:`wordrec.io.audio.Samples`
    cfg : FeatureConfig
        The words' front end.
    progress : callable, optional
        Called with the number of files done after each chunk.

    Returns
    -------
    feats : list of ndarray (n_frames, n_features)
    failures : list of Failure
    """
    out, failures = [], []
    for f in extract_files(list(paths), cfg, progress, labelled=True, jobs=jobs):
        if isinstance(f, Failure):
            failures.append(f)
        else:
            out.extend(pieces(f, cfg, PIECE_SECONDS))
    return out, failures
