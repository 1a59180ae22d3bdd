"""Online speaker adaptation: the MAP means of :mod:`wordrec.core.adapt`, from sums that grow answer by answer.

In a stream the answers come one at a time, and each may depend only on
what was heard before it.  Every answer that adapts adds its recording's
statistics to running sums: the occupancy and the posterior-weighted frame
sums of every Gaussian of the answered word, and of the background model,
computed under the *trained* models.  The adapted means are derived from
the sums again after each answer
(:func:`wordrec.core.adapt.means_from_statistics`)::

    mean = (prior * trained mean + sum of posterior * frame) / (prior + sum of posteriors)

After any number of answers the models are exactly those
:func:`wordrec.core.adapt.adapt_supervised` makes of the same recordings
labelled with those answers (one pass): the order of the answers does not
matter, and only the sums are kept, so memory does not grow with the
stream.  Which word a recording adds to is the caller's choice:
:mod:`wordrec.jobs.listening` takes the trained models' answer, so that,
with the posteriors, nothing an adapted model does decides where the
statistics go (a word adapted early would otherwise win other words'
recordings, adapt on them, and win more).

Pure functions: models, sums and a recording's features in, new values out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from wordrec.core.adapt import PRIOR, mean_statistics, means_from_statistics


@dataclass(frozen=True)
class Statistics:
    """What the answers adapted on so far add up to.

    Attributes
    ----------
    occupancy : tuple of ndarray, each shape (n_states, n_mix)
        Per word: the expected frames each Gaussian explained.
    sums : tuple of ndarray, each shape (n_states, n_mix, n_features)
        Per word: the posterior-weighted sums of those frames.
    background : tuple (occupancy, sums) or None
        The same for the background model (None without one).
    counts : tuple of int
        Per word: the answers added.
    """

    occupancy: tuple
    sums: tuple
    background: tuple | None
    counts: tuple

    @property
    def n_answers(self) -> int:
        return int(sum(self.counts))


def start(models) -> Statistics:
    """Empty sums for ``models`` (a ModelSet): adapting on them gives ``models`` back."""
    def zeros(wm):
        n_states, n_mix, n_features = wm.means.shape
        return np.zeros((n_states, n_mix)), np.zeros((n_states, n_mix, n_features))

    words = [zeros(wm) for wm in models.models]
    background = zeros(models.background) if models.background is not None else None
    return Statistics(tuple(o for o, _ in words), tuple(s for _, s in words), background, (0,) * len(words))


def add(models, stats: Statistics, feats: np.ndarray, word: int) -> Statistics:
    """``stats`` with one recording answered ``models.words[word]`` added.

    Parameters
    ----------
    models : ModelSet
        The trained models (the posteriors are theirs).
    stats : Statistics
    feats : ndarray, shape (n_frames, n_features)
    word : int
        Index of the answer in ``models.words``.
    """
    occ, sums = mean_statistics(models.models[word], [feats])
    occupancy = list(stats.occupancy)
    total = list(stats.sums)
    occupancy[word] = occupancy[word] + occ
    total[word] = total[word] + sums
    background = stats.background
    if background is not None:
        b_occ, b_sums = mean_statistics(models.background, [feats])
        background = (background[0] + b_occ, background[1] + b_sums)
    counts = list(stats.counts)
    counts[word] += 1
    return Statistics(tuple(occupancy), tuple(total), background, tuple(counts))


def adapted(models, stats: Statistics, prior: float = PRIOR):
    """``models`` with the MAP means of ``stats``; words without answers keep theirs.

    Returns
    -------
    ModelSet
        Weights, variances and transitions are the trained ones.
    """
    words = tuple(
        means_from_statistics(wm, occ, sums, prior) if n else wm
        for wm, occ, sums, n in zip(models.models, stats.occupancy, stats.sums, stats.counts)
    )
    background = models.background
    if background is not None and stats.n_answers:
        background = means_from_statistics(background, *stats.background, prior)
    return dataclasses.replace(models, models=words, background=background)
